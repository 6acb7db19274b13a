"""A tiny, randomly initialised generator: exercises the real generation path in tests.

It runs a small transformer frame by frame (with a key/value cache, progress, cancel and
previews, exactly as the trained stages will) and turns its tokens into noise-like audio.
It has learned nothing: the engine labels its output "random-tiny (untrained)", and the CLI
only runs it when asked for by name.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
from torch import nn

from engine.codec.config import ACOUSTIC_RATE, HOP, SAMPLE_RATE
from engine.generation import QUIET, GeneratedAudio, JobContext
from engine.generator.conditions import STEMS
from engine.melody.condition import melody_clip, request_melody
from engine.models.transformer import Transformer, TransformerConfig, sample_next
from engine.request import GenerationRequest, KeptPlan, RequestError

FRAME_RATE = ACOUSTIC_RATE
VOCAB = 64
PREFIX_TOKENS = 8
KEYS = ("C", "D", "E", "F", "G", "A", "B")


class RandomTinyGenerator:
    """Untrained stand-in with the shape of a real generator. For tests only."""

    name = "random-tiny (untrained)"
    stems = STEMS  # it hashes any name; it answers to the trained models' list

    def __init__(self, init_seed: int = 0, preview_every_s: float = 1.0) -> None:
        with torch.random.fork_rng(devices=[]):  # the caller's global RNG is left as it was
            torch.manual_seed(init_seed)
            self.lm = Transformer(TransformerConfig(vocab_size=VOCAB, d_model=32, n_layers=2,
                                                    n_heads=2, max_len=4096)).eval()
            # Token -> one stereo frame of samples.
            self.decoder = nn.Embedding(VOCAB, 2 * HOP)
        self.preview_every = max(1, int(preview_every_s * FRAME_RATE))

    @torch.inference_mode()
    def generate(self, request: GenerationRequest, seed: int, seconds: float,
                 context: JobContext = QUIET) -> GeneratedAudio:
        """Sample ``seconds`` of frames for every stem and variation as one batch."""
        names = request.stem_names()
        melody = request_melody(request)  # read first: a bad file fails before any work
        generator = torch.Generator().manual_seed(seed)
        frames = int(np.ceil(seconds * FRAME_RATE))
        tokens = self._prefix(request, names)
        if request.keep_plan is not None:
            tokens = self._kept_prefix(request.keep_plan, len(names))
        logits, cache = self.lm.step(tokens, None)
        produced = []
        for frame in range(frames):
            if len(cache) and cache[0][0].shape[2] >= self.lm.cfg.max_len:
                cache = [(k[:, :, -PREFIX_TOKENS:], v[:, :, -PREFIX_TOKENS:]) for k, v in cache]
            token = sample_next(logits[:, -1], generator, temperature=1.0, top_k=16)
            produced.append(token)
            logits, cache = self.lm.step(token[:, None], cache)
            if (frame + 1) % self.preview_every == 0:
                context.preview(self._decode_mix(produced, len(request.stems)), SAMPLE_RATE)
            context.progress(0.9 * (frame + 1) / frames, "tokens")
        audio = self._decode(torch.stack(produced, dim=1))
        context.progress(1.0, "decode")
        key = request.key or f"{KEYS[seed % len(KEYS)]} {'minor' if seed % 2 else 'major'}"
        return GeneratedAudio(
            stems={name: audio[i] for i, name in enumerate(names)},
            sample_rate=SAMPLE_RATE,
            key=key,
            melody_midi=melody_clip(melody, request.bpm),
            plan={"prefix": tokens.numpy()},  # the conditioning prefix, for a later keep_plan
        )

    def _prefix(self, request: GenerationRequest, names: list[str]) -> torch.Tensor:
        """Condition each row on its prompt and stem through a hashed token prefix."""
        rows = []
        for name in names:
            digest = zlib.crc32(f"{request.prompt}|{name}|{request.bpm}".encode())
            rows.append([(digest >> (4 * i)) % VOCAB for i in range(PREFIX_TOKENS)])
        return torch.tensor(rows, dtype=torch.long)

    @staticmethod
    def _kept_prefix(plan: KeptPlan, rows: int) -> torch.Tensor:
        """The first row of a kept plan's prefix, for every row of this request."""
        if "prefix" not in plan:
            raise RequestError("keep_from: the plan was made by another model")
        return torch.from_numpy(np.asarray(plan["prefix"])[:1]).repeat(rows, 1)

    def _decode(self, tokens: torch.Tensor) -> np.ndarray:
        batch, frames = tokens.shape
        samples = torch.tanh(self.decoder(tokens)) * 0.1  # (batch, frames, 2 * HOP)
        stereo = samples.view(batch, frames, 2, HOP).permute(0, 2, 1, 3)
        return stereo.reshape(batch, 2, frames * HOP).float().numpy()

    def _decode_mix(self, produced: list[torch.Tensor], stems: int) -> np.ndarray:
        audio = self._decode(torch.stack(produced, dim=1)[:stems])
        return audio.sum(axis=0)
