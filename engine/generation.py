"""The engine interface every model fills: a generate request in, stems of audio out.

A ``Generator`` turns a ``bridge.messages.Generate`` request into raw stems at its native
sample rate. It reports progress (and learns of cancellation) through a ``JobContext``
between generation steps. The job server then cuts the stems to the exact bar length,
resamples and writes them (``engine.render_output``), so every model gets tempo-locked,
atomically written clips for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from bridge.messages import Generate


class JobCancelled(Exception):
    """Raised inside generation when the job's cancel was requested."""


class NoTrainedModel(RuntimeError):
    """No trained weights are installed for the requested model."""


@dataclass(frozen=True)
class GeneratedAudio:
    """Raw generator output: float32 arrays shaped (2, samples), one per stem name.

    With several variations the names are ``<stem>.<n>`` (n from 1); otherwise ``<stem>``.
    Each array holds at least the requested length (plus the loop tail when looping).
    """

    stems: dict[str, np.ndarray]
    sample_rate: int
    key: str
    melody_midi: bytes = b""  # the melody condition transcribed to the grid, when one was given


class JobContext(Protocol):
    """What a generator may tell the job server while it works."""

    def progress(self, fraction: float, stage: str) -> None:
        """Report progress; raises JobCancelled when the job was cancelled."""

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        """Offer the mix made so far (2, samples) as a preview."""

    def plan_path(self, job_id: str = "") -> Path:
        """Where the generation plan of a job (this job when empty) is kept, so a later
        request can regenerate some stems while the others stay."""


class Generator(Protocol):
    """A loaded model that makes stems."""

    name: str

    def generate(
        self, request: Generate, seed: int, seconds: float, context: JobContext
    ) -> GeneratedAudio:
        """Make ``seconds`` of audio for every requested stem and variation."""


def stem_names(request: Generate) -> list[str]:
    """Output names for the request's stems and variations, in order."""
    if request.variations == 1:
        return list(request.stems)
    return [f"{stem}.{n}" for n in range(1, request.variations + 1) for stem in request.stems]
