"""Jobs that run as one batch: which fit together, and rendering them.

A generator that offers ``generate_batch`` (``engine.generator.batch.BatchGenerator``) says
which requests may share a batch (its ``batch_key``: the length and the sampling settings)
and runs them so that each gets what it would get alone. Other generators run every job
alone; the engine then never takes more than one job at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.api import Result, fitted, generation_seconds, render, torch_threads
from engine.generation import Generator, JobContext
from engine.generator.batch import BatchGenerator, BatchJob
from engine.request import GenerationRequest


@dataclass(frozen=True)
class Work:
    """One job of a batch as the generator sees it."""

    request: GenerationRequest
    seed: int
    context: JobContext
    sample_rate: int | None  # the rate its clips are written at (None: the model's own)
    # Told at once when the job leaves a batch early (see BatchJob.on_leave).
    on_leave: Callable[[Exception], None] | None = None


def batches(generator: Generator | None) -> bool:
    """Whether ``generator`` runs several jobs as one batch."""
    return isinstance(generator, BatchGenerator)


def batch_key(generator: Generator | None, request: GenerationRequest) -> object | None:
    """The key jobs must share to run as one batch on ``generator``; None when it cannot
    batch (or is not loaded yet)."""
    if not isinstance(generator, BatchGenerator):
        return None
    return generator.batch_key(request, generation_seconds(request))


def render_all(generator: Generator, work: Sequence[Work]) -> list[Result | Exception]:
    """Every job's clips, cut to its bars, or what its generation raised: as one batch on a
    generator that batches, else one after another. One torch thread (the caller's thread
    only): generation is thousands of small steps, and on a busy 2-core machine every op
    waits for a second thread."""
    if len(work) > 1 and isinstance(generator, BatchGenerator):
        jobs = [BatchJob(w.request, w.seed, generation_seconds(w.request), w.context,
                         w.on_leave) for w in work]
        with torch_threads(1):
            raws = generator.generate_batch(jobs)
        results: list[Result | Exception] = []
        for w, raw in zip(work, raws, strict=True):
            try:
                results.append(raw if isinstance(raw, Exception) else
                               fitted(generator.name, raw, w.request, w.seed, w.sample_rate))
            except Exception as error:  # one job's clips: not the others'
                results.append(error)
        return results
    outcomes: list[Result | Exception] = []
    for w in work:
        try:
            outcomes.append(render(generator, w.request, w.seed, sample_rate=w.sample_rate,
                                   context=w.context, threads=1))
        except Exception as error:  # its own: each job ends on its own
            outcomes.append(error)
    return outcomes
