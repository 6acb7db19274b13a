"""What a generator that runs several jobs as one batch offers, and what each job brings.

The batched sampling itself is ``engine.generator.sampling.sample_lanes``: each job is a lane
drawing from its own torch random generator, so a seed gives the same tokens batched or alone
(up to the forward pass's float drift, about 1e-7 in the logits at another batch size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from engine.generation import QUIET, GeneratedAudio, JobContext
from engine.request import GenerationRequest


@dataclass(frozen=True)
class BatchJob:
    """One request of a batch: what ``Generator.generate`` takes, per job."""

    request: GenerationRequest
    seed: int
    seconds: float
    context: JobContext = QUIET
    # Told at once when the job leaves the batch early (a bad input, a cancel), with the
    # error that is also its result: its client need not wait for the batch to end.
    on_leave: Callable[[Exception], None] | None = None


@runtime_checkable
class BatchGenerator(Protocol):
    """A generator that runs several requests as one batch."""

    name: str

    def batch_key(self, request: GenerationRequest, seconds: float) -> object:
        """Requests with equal keys may share a batch."""

    def generate_batch(self, jobs: Sequence[BatchJob]) -> list[GeneratedAudio | Exception]:
        """Per job, what ``generate`` gives it alone, or what it raises."""
