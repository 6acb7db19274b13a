"""``stemloom bench generate``: wall time of an 8-bar 120 BPM request (16 s of audio) as the
mix alone and as 4 stems, time to the first preview chunk, and peak memory."""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bridge.timing import clip_seconds
from engine.api import torch_threads
from engine.generation import Generator
from engine.request import GenerationRequest

BPM, BARS = 120.0, 8
PROMPT = "dusty lo-fi drums and mellow rhodes"


class _TimingContext:
    """Records when the first preview arrived."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started = time.perf_counter()
        self.first_preview: float | None = None

    def progress(self, fraction: float, stage: str) -> None:
        """Progress is not timed."""

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        """Note the first preview's time."""
        if self.first_preview is None:
            self.first_preview = time.perf_counter() - self.started


def time_request(generator: Generator, stems: tuple[str, ...], seed: int, folder: Path
                 ) -> tuple[float, float]:
    """(wall seconds, seconds to the first preview) of one request."""
    request = GenerationRequest(prompt=PROMPT, bpm=BPM, bars=BARS, stems=stems)
    context = _TimingContext(folder)
    with torch_threads(1):  # as the engine runs a job
        generator.generate(request, seed, clip_seconds(BPM, BARS, "4/4") + 0.05, context)
    wall = time.perf_counter() - context.started
    return wall, context.first_preview if context.first_preview is not None else wall


def bench(generator: Generator, runs: int = 3) -> dict:
    """Medians over ``runs`` (after one warm-up) of each request shape."""
    seconds = clip_seconds(BPM, BARS, "4/4")
    result: dict = {"audio_seconds": seconds, "runs": runs}
    with tempfile.TemporaryDirectory() as scratch:
        for label, stems in (("mix", ("mix",)), ("4_stems", ("drums", "bass", "keys", "lead"))):
            time_request(generator, stems, 0, Path(scratch))
            walls, previews = zip(*(time_request(generator, stems, run + 1, Path(scratch))
                                    for run in range(runs)), strict=True)
            result[f"{label}_wall_s"] = round(statistics.median(walls), 2)
            result[f"{label}_rtf"] = round(statistics.median(walls) / seconds, 3)
            result[f"{label}_first_preview_s"] = round(statistics.median(previews), 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result
