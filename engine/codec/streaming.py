"""Streaming decode: tokens in as they are made, audio out with a fixed look-ahead.

The decoder is non-causal but local: an output frame depends only on token frames within
``context_frames`` of it (convolutions plus the iSTFT overlap). Decoding a chunk together with
that much context on both sides and keeping only its middle therefore gives the offline
result up to float rounding. The state between chunks is explicit: the tokens not yet fully
emitted and how many frames have been emitted.
"""

from __future__ import annotations

import math

import torch

from engine.codec.model import Codec, CodecConfig


def context_frames(cfg: CodecConfig) -> int:
    """Token frames of context each side that make chunked decoding match offline."""
    half = cfg.kernel // 2
    token_rate = half * (1 + cfg.dec_blocks)  # input conv + ConvNeXt blocks at 50 Hz
    upsampled = math.ceil(half * cfg.dec_up_blocks / cfg.dec_up)  # blocks after upsampling
    overlap = math.ceil(cfg.head_n_fft / 2 / cfg.hop)  # iSTFT window reach
    return token_rate + upsampled + overlap + 1


class StreamingDecoder:
    """Feed (B, C, n_q, frames) code chunks with ``push``; call ``flush`` at the end."""

    def __init__(self, codec: Codec, context: int | None = None) -> None:
        """Stream through `codec`; `context` defaults to ``context_frames``."""
        self.codec = codec
        self.context = context_frames(codec.cfg) if context is None else context
        self.hop = codec.cfg.hop
        self._codes: torch.Tensor | None = None  # frames kept: from self._first on
        self._first = 0  # absolute index of self._codes[..., 0]
        self._done = 0  # frames emitted so far

    @property
    def latency_frames(self) -> int:
        """Token frames that must arrive after a frame before it can be emitted."""
        return self.context

    def push(self, codes: torch.Tensor) -> torch.Tensor:
        """Add frames; returns the audio (B, C, samples) that is now final (maybe empty)."""
        self._codes = codes if self._codes is None else torch.cat([self._codes, codes], -1)
        return self._emit(self._first + self._codes.shape[-1] - self.context, final=False)

    def flush(self) -> torch.Tensor:
        """Emit everything left (the end of the stream is the end of the signal)."""
        if self._codes is None:
            raise RuntimeError("nothing was pushed")
        return self._emit(self._first + self._codes.shape[-1], final=True)

    def _emit(self, end: int, final: bool) -> torch.Tensor:
        codes = self._codes
        b, c = codes.shape[:2]
        if end <= self._done:
            return codes.new_zeros((b, c, 0), dtype=torch.float32)
        total = self._first + codes.shape[-1]
        lo = max(self._first, self._done - self.context)
        hi = total if final else min(total, end + self.context)
        audio = self.codec.decode(codes[..., lo - self._first:hi - self._first])
        out = audio[..., (self._done - lo) * self.hop:(end - lo) * self.hop]
        self._done = end
        # Keep only the context the next chunk needs.
        keep = max(self._first, self._done - self.context)
        self._codes, self._first = codes[..., keep - self._first:], keep
        return out


def decode_chunked(codec: Codec, codes: torch.Tensor, chunk_frames: int) -> torch.Tensor:
    """Decode (B, C, n_q, F) codes through ``StreamingDecoder`` in chunks of `chunk_frames`."""
    stream = StreamingDecoder(codec)
    parts = [stream.push(codes[..., i:i + chunk_frames])
             for i in range(0, codes.shape[-1], chunk_frames)]
    parts.append(stream.flush())
    return torch.cat(parts, dim=-1)
