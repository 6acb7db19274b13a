"""A tiny, randomly initialised generator: exercises the real generation path in tests.

It runs a small transformer frame by frame (with a key/value cache, progress, cancel and
previews, exactly as the trained stages will) and turns its tokens into noise-like audio.
It has learned nothing: the engine labels its output "random-tiny (untrained)", and the CLI
only runs it when asked for by name.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import torch
from torch import nn

from bridge.atomic import atomic_write_bytes
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Generate
from engine.generation import GeneratedAudio, JobContext, stem_names
from engine.melody.condition import melody_clip, request_melody
from engine.models.transformer import Transformer, TransformerConfig, sample_next

FRAME_RATE = 50
SAMPLE_RATE = 32000
HOP = SAMPLE_RATE // FRAME_RATE
VOCAB = 64
PREFIX_TOKENS = 8
KEYS = ("C", "D", "E", "F", "G", "A", "B")


class RandomTinyGenerator:
    """Untrained stand-in with the shape of a real generator. For tests only."""

    name = "random-tiny (untrained)"

    def __init__(self, init_seed: int = 0, preview_every_s: float = 1.0) -> None:
        torch.manual_seed(init_seed)
        self.lm = Transformer(
            TransformerConfig(vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=2, max_len=4096)
        ).eval()
        # Token -> one stereo frame of samples.
        self.decoder = nn.Embedding(VOCAB, 2 * HOP)
        self.preview_every = max(1, int(preview_every_s * FRAME_RATE))

    @torch.inference_mode()
    def generate(
        self, request: Generate, seed: int, seconds: float, context: JobContext
    ) -> GeneratedAudio:
        """Sample ``seconds`` of frames for every stem and variation as one batch."""
        torch.set_num_threads(1)  # small per-frame ops: a second thread only spins (see pipeline)
        names = stem_names(request)
        melody = request_melody(request)  # read first: a bad file fails before any work
        generator = torch.Generator().manual_seed(seed)
        frames = int(np.ceil(seconds * FRAME_RATE))
        tokens = self._prefix(request, names)
        if request.keep_from:
            tokens = self._kept_prefix(context, request.keep_from, len(names))
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
        self._save_plan(context, tokens)
        context.progress(1.0, "decode")
        key = request.key or f"{KEYS[seed % len(KEYS)]} {'minor' if seed % 2 else 'major'}"
        return GeneratedAudio(
            stems={name: audio[i] for i, name in enumerate(names)},
            sample_rate=SAMPLE_RATE,
            key=key,
            melody_midi=melody_clip(melody, request.bpm),
        )

    def _prefix(self, request: Generate, names: list[str]) -> torch.Tensor:
        """Condition each row on its prompt and stem through a hashed token prefix."""
        rows = []
        for name in names:
            digest = zlib.crc32(f"{request.prompt}|{name}|{request.bpm}".encode())
            rows.append([(digest >> (4 * i)) % VOCAB for i in range(PREFIX_TOKENS)])
        return torch.tensor(rows, dtype=torch.long)

    @staticmethod
    def _save_plan(context: JobContext, prefix: torch.Tensor) -> None:
        """Keep the conditioning prefix as this job's plan, for a later keep_from."""
        buffer = io.BytesIO()
        np.savez(buffer, prefix=prefix.numpy())
        path = context.plan_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())

    @staticmethod
    def _kept_prefix(context: JobContext, job_id: str, rows: int) -> torch.Tensor:
        """The first row of a finished job's prefix, for every row of this one."""
        path = context.plan_path(job_id)
        if not path.is_file():
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"keep_from: job {job_id!r} left no plan")
        with np.load(path) as data:
            return torch.from_numpy(data["prefix"][:1]).repeat(rows, 1)

    def _decode(self, tokens: torch.Tensor) -> np.ndarray:
        batch, frames = tokens.shape
        samples = torch.tanh(self.decoder(tokens)) * 0.1  # (batch, frames, 2 * HOP)
        stereo = samples.view(batch, frames, 2, HOP).permute(0, 2, 1, 3)
        return stereo.reshape(batch, 2, frames * HOP).float().numpy()

    def _decode_mix(self, produced: list[torch.Tensor], stems: int) -> np.ndarray:
        audio = self._decode(torch.stack(produced, dim=1)[:stems])
        return audio.sum(axis=0)
