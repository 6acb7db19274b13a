"""What the generator and the engine use: text, audio and mixes in, embeddings and tokens out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from engine.mulan.features import FRAME_RATE, HOP, LogMel, to_mono_32k
from engine.mulan.model import Mulan, MulanModelConfig
from engine.mulan.text import sentence_encoder
from engine.mulan.tokens import ResidualQuantizer
from engine.training.export import load_weights

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "weights" / "default" / "mulan"
WEIGHTS = "mulan.pt"
CODEBOOKS = "tokens.npz"
WINDOW_SECONDS = 5.0

Reference = str | tuple[np.ndarray, int]  # a text, or (audio, sample rate)


class MulanConditioner:
    """A trained MuLan with its token codebooks."""

    def __init__(self, model: Mulan, quantizer: ResidualQuantizer | None) -> None:
        self.model = model.eval()
        self.quantizer = quantizer
        self._log_mel = LogMel()

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIR) -> MulanConditioner:
        """The exported MuLan in ``directory`` (the shipped default by default)."""
        blob = load_weights(directory / WEIGHTS)
        model = Mulan(MulanModelConfig(**blob["config"]))
        model.load_state_dict(blob["state"])
        books = directory / CODEBOOKS
        quantizer = ResidualQuantizer(np.load(books)["codebooks"]) if books.is_file() else None
        return cls(model, quantizer)

    @torch.inference_mode()
    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) unit embeddings of ``texts``."""
        sentences = torch.from_numpy(sentence_encoder().encode(list(texts)))
        return self.model.text(sentences).numpy()

    @torch.inference_mode()
    def embed_mel(self, mel: np.ndarray) -> np.ndarray:
        """(dim,) unit embedding of a (64, frames) log-mel: the mean over 5-second windows
        with 50 % overlap (MuLan pools over windows the same way)."""
        window = int(WINDOW_SECONDS * FRAME_RATE)
        if mel.shape[1] < window:
            mel = np.concatenate(
                [mel, np.full((mel.shape[0], window - mel.shape[1]), mel.min(), mel.dtype)], 1
            )
        starts = range(0, mel.shape[1] - window + 1, window // 2)
        windows = torch.from_numpy(np.stack([mel[:, s : s + window] for s in starts])).float()
        pooled = self.model.audio(windows).mean(0)
        return torch.nn.functional.normalize(pooled, dim=0).numpy()

    def embed_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """(dim,) unit embedding of (channels, samples) or (samples,) audio."""
        mono = to_mono_32k(audio, sample_rate)
        if len(mono) < HOP:
            raise ValueError("the audio is too short to embed (under 20 ms)")
        with torch.inference_mode():
            mel = self._log_mel(torch.from_numpy(mono)[None])[0].numpy()
        return self.embed_mel(mel)

    def mix(self, parts: Sequence[tuple[float, Reference]]) -> np.ndarray:
        """A weighted mix of texts and audio references, as one unit embedding."""
        if not parts or all(weight <= 0 for weight, _ in parts):
            raise ValueError("give at least one reference with a positive weight")
        total = np.zeros(self.model.cfg.embed_dim, dtype=np.float32)
        for weight, reference in parts:
            if isinstance(reference, str):
                total += weight * self.embed_text([reference])[0]
            else:
                total += weight * self.embed_audio(*reference)
        return total / max(float(np.linalg.norm(total)), 1e-8)

    def tokens(self, embedding: np.ndarray) -> np.ndarray:
        """Conditioning tokens (levels,) of one embedding."""
        if self.quantizer is None:
            raise RuntimeError("these MuLan weights ship no token codebooks")
        return self.quantizer.encode(embedding[None])[0]

    def score(self, audio: np.ndarray, sample_rate: int, text: str) -> float:
        """Cosine similarity of audio and text: higher is a better match (best-of-N)."""
        return float(self.embed_audio(audio, sample_rate) @ self.embed_text([text])[0])
