"""The engine interface every model fills: a generation request in, stems of audio out.

A ``Generator`` turns an ``engine.request.GenerationRequest`` into raw stems at its native
sample rate. It reports progress (and learns of cancellation) through a ``JobContext``
between generation steps. ``engine.api.render`` then cuts the stems to the exact bar length
and resamples them (``engine.render_output``), so every model gets tempo-locked clips for
free; the job server writes them, the Python API hands them back as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from engine.request import GenerationRequest, KeptPlan


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
    # What a later request needs to make some stems again on the same plan (its keep_plan).
    plan: KeptPlan = field(default_factory=dict, repr=False)


class JobContext(Protocol):
    """What a generator may tell whoever runs it while it works."""

    def progress(self, fraction: float, stage: str) -> None:
        """Report progress; raises JobCancelled when the job was cancelled."""

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        """Offer the mix made so far (2, samples) as a preview."""


class QuietContext:
    """A JobContext that listens to nothing (and never cancels)."""

    def progress(self, fraction: float, stage: str) -> None:
        """Progress is not reported."""

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        """Previews are not kept."""


QUIET = QuietContext()


class Generator(Protocol):
    """A loaded model that makes stems."""

    name: str
    stems: tuple[str, ...]  # the stem names it was trained to make (its conditioning vocabulary)

    def generate(self, request: GenerationRequest, seed: int, seconds: float,
                 context: JobContext = QUIET) -> GeneratedAudio:
        """Make ``seconds`` of audio for every requested stem and variation."""
