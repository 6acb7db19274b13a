"""``stemloom bench codec``: encode/decode speed in x real time and peak memory."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from engine.codec import io
from engine.codec.streaming import decode_chunked


def _median_seconds(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: first calls pay for allocation and kernel selection
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(weights: Path | None = None, seconds: float = 10.0, runs: int = 5,
          batches: tuple[int, ...] = (1, 4), threads: int = 2) -> dict:
    """Medians of `runs` timings per batch size on `seconds` of stereo audio per item."""
    torch.set_num_threads(threads)
    codec = io.load_codec(weights)
    cfg = codec.cfg
    gen = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(1, 2, round(seconds * cfg.sample_rate), generator=gen)
    codes = codec.encode(audio)
    result: dict = {"threads": threads, "seconds_per_item": seconds, "runs": runs,
                    "params": sum(p.numel() for p in codec.parameters())
                    + sum(b.numel() for n, b in codec.named_buffers() if "codebook" in n),
                    "rss_after_load_mb": round(_peak_rss_mb(), 1)}
    for b in batches:
        x, c = audio.repeat(b, 1, 1), codes.repeat(b, 1, 1, 1)
        with torch.inference_mode():
            dec = _median_seconds(lambda c=c: codec.decode(c), runs)
            enc = _median_seconds(lambda x=x: codec.encode(x), runs)
        result[f"decode_x_realtime_batch{b}"] = round(b * seconds / dec, 1)
        result[f"encode_x_realtime_batch{b}"] = round(b * seconds / enc, 1)
    with torch.inference_mode():
        chunk = round(0.5 * cfg.frame_rate)
        stream = _median_seconds(lambda: decode_chunked(codec, codes, chunk), runs)
    result["streaming_decode_x_realtime_chunk0.5s"] = round(seconds / stream, 1)
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result
