"""``stemloom bench mulan``: how long a prompt and a clip take to embed on this machine."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from engine.codec.config import SAMPLE_RATE
from engine.mulan.api import DEFAULT_DIR, MulanConditioner


def bench(weights: Path | None = None, runs: int = 20, seconds: float = 10.0) -> dict:
    """Medians over ``runs``: text embedding latency (ms, one prompt), audio embedding speed
    (x real time, a ``seconds``-long clip), and the one-off load time."""
    started = time.perf_counter()
    conditioner = MulanConditioner.load(weights or DEFAULT_DIR)
    conditioner.embed_text(["warm-up"])  # loads the sentence encoder
    load_s = time.perf_counter() - started
    prompts = [f"dusty lo-fi drums and mellow rhodes, take {n}" for n in range(runs)]
    text_ms = []
    for prompt in prompts:
        tick = time.perf_counter()
        conditioner.embed_text([prompt])
        text_ms.append((time.perf_counter() - tick) * 1e3)
    rng = np.random.default_rng(0)
    clip = rng.normal(0, 0.1, (2, int(seconds * SAMPLE_RATE))).astype(np.float32)
    audio_x = []
    for _ in range(max(3, runs // 4)):
        tick = time.perf_counter()
        conditioner.embed_audio(clip, SAMPLE_RATE)
        audio_x.append(seconds / (time.perf_counter() - tick))
    return {
        "load_seconds": round(load_s, 2),
        "text_embedding_ms_median": round(statistics.median(text_ms), 2),
        "audio_embedding_x_realtime_median": round(statistics.median(audio_x), 1),
        "runs": runs,
    }
