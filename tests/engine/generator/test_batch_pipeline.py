"""Several requests through the tiny trained generator as one batch (``generate_batch``):
each job gets what it gets alone, with its own previews, progress and cancel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.generation import GeneratedAudio, JobCancelled
from engine.generator.batch import BatchJob
from engine.generator.pipeline import HierarchicalGenerator, load_default
from engine.request import GenerationRequest, RequestError

SECONDS = 4.0  # 200 coarse frames: past the tiny model's 128-step window, so it slides


class Recorder:
    """A JobContext that keeps what it hears and cancels at a coarse fraction if told."""

    def __init__(self, cancel_at: float | None = None) -> None:
        self.cancel_at = cancel_at
        self.stages: list[str] = []
        self.previews: list[np.ndarray] = []

    def progress(self, fraction: float, stage: str) -> None:
        self.stages.append(stage)
        if self.cancel_at is not None and fraction >= self.cancel_at:
            raise JobCancelled("asked")

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        self.previews.append(mix)


@pytest.fixture(scope="module")
def generator(tiny_generator: Path) -> HierarchicalGenerator:
    return load_default(tiny_generator)


def _request(prompt: str, stems: tuple[str, ...], **fields: object) -> GenerationRequest:
    values = {"prompt": prompt, "bpm": 120.0, "bars": 2, "stems": stems, **fields}
    return GenerationRequest(**values)  # type: ignore[arg-type]


REQUESTS = [_request("dusty lo-fi drums and rhodes", ("drums", "bass")),
            _request("bright synth pop", ("bass", "lead", "pad")),
            _request("slow ambient strings", ("strings",), key="D minor")]


def _alone(generator: HierarchicalGenerator, request: GenerationRequest, seed: int
           ) -> tuple[GeneratedAudio, Recorder]:
    context = Recorder()
    return generator.generate(request, seed, SECONDS, context), context


def _assert_same(batched: GeneratedAudio | Exception, alone: GeneratedAudio) -> None:
    assert isinstance(batched, GeneratedAudio), batched
    # The plan's tokens are drawn; equal tokens make equal stems up to the codec's float drift.
    np.testing.assert_array_equal(batched.plan["semantic"], alone.plan["semantic"])
    assert batched.stems.keys() == alone.stems.keys() and batched.key == alone.key
    for name, audio in alone.stems.items():
        np.testing.assert_allclose(batched.stems[name], audio, atol=1e-4)


@pytest.mark.parametrize("seeds", [(1, 2, 3), (40, 41, 42)])
def test_a_batch_gives_each_job_what_it_gets_alone(generator: HierarchicalGenerator,
                                                  seeds: tuple[int, ...]) -> None:
    contexts = [Recorder() for _ in REQUESTS]
    jobs = [BatchJob(r, s, SECONDS, c) for r, s, c in zip(REQUESTS, seeds, contexts, strict=True)]
    results = generator.generate_batch(jobs)
    for request, seed, context, result in zip(REQUESTS, seeds, contexts, results, strict=True):
        alone, alone_context = _alone(generator, request, seed)
        _assert_same(result, alone)
        # Its own previews, as many as alone, of its own mix.
        assert len(context.previews) == len(alone_context.previews) > 1
        np.testing.assert_allclose(context.previews[-1], alone_context.previews[-1], atol=1e-4)
        assert context.stages[-1] == "decode" and "coarse" in context.stages
    assert not np.allclose(results[0].stems["bass"], results[1].stems["bass"])  # type: ignore[union-attr]


def test_a_cancelled_job_leaves_the_batch_and_the_others_finish(
        generator: HierarchicalGenerator) -> None:
    contexts = [Recorder(), Recorder(cancel_at=0.5), Recorder()]
    left: list[tuple[int, Exception, int]] = []  # (job, error, previews of job 0 by then)

    def leaving(job: int) -> Callable[[Exception], None]:
        return lambda error: left.append((job, error, len(contexts[0].previews)))

    results = generator.generate_batch(
        [BatchJob(r, 7, SECONDS, c, leaving(n))
         for n, (r, c) in enumerate(zip(REQUESTS, contexts, strict=True))])
    assert isinstance(results[1], JobCancelled)
    assert contexts[1].stages[-1] == "coarse"  # it stopped mid-stage, the others went on
    # Told once, at once: mid-stage, before job 0 had all its previews.
    assert [(job, error) for job, error, _ in left] == [(1, results[1])]
    assert left[0][2] < len(contexts[0].previews)
    for index in (0, 2):
        _assert_same(results[index], _alone(generator, REQUESTS[index], 7)[0])


def test_a_bad_request_fails_alone_and_other_lengths_run_apart(
        generator: HierarchicalGenerator) -> None:
    bad = _request("anything", ("kazoo",))
    shorter = _request("dusty lo-fi drums and rhodes", ("drums",), bars=1)
    jobs = [BatchJob(bad, 1, SECONDS), BatchJob(REQUESTS[0], 5, SECONDS),
            BatchJob(shorter, 5, SECONDS / 2)]
    told: list[Exception] = []
    jobs[0] = BatchJob(bad, 1, SECONDS, on_leave=told.append)
    results = generator.generate_batch(jobs)
    assert isinstance(results[0], RequestError) and "kazoo" in str(results[0])
    assert told == [results[0]]
    _assert_same(results[1], _alone(generator, REQUESTS[0], 5)[0])
    alone = generator.generate(shorter, 5, SECONDS / 2)
    _assert_same(results[2], alone)


def test_a_kept_plan_too_short_fails_its_own_job_alone(
        generator: HierarchicalGenerator) -> None:
    short = generator.generate(_request("dusty lo-fi drums and rhodes", ("drums", "bass"),
                                        bars=1), 3, SECONDS / 2)
    kept = _request("dusty lo-fi drums and rhodes", ("bass",), keep_plan=short.plan)
    with pytest.raises(RequestError, match="keep_from"):
        generator.generate(kept, 5, SECONDS)
    results = generator.generate_batch([BatchJob(REQUESTS[0], 1, SECONDS),
                                        BatchJob(kept, 5, SECONDS)])
    assert isinstance(results[1], RequestError)
    _assert_same(results[0], _alone(generator, REQUESTS[0], 1)[0])


def test_a_job_whose_stage_inputs_fail_leaves_and_the_others_finish(
        generator: HierarchicalGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    build = generator._coarse_lane

    def failing(request: GenerationRequest, *args: object) -> object:
        if request.prompt == "bright synth pop":
            raise ValueError("this job's inputs")
        return build(request, *args)  # type: ignore[arg-type]

    told: list[Exception] = []
    jobs = [BatchJob(REQUESTS[0], 1, SECONDS), BatchJob(REQUESTS[1], 2, SECONDS,
                                                        on_leave=told.append)]
    monkeypatch.setattr(generator, "_coarse_lane", failing)
    results = generator.generate_batch(jobs)
    monkeypatch.undo()
    assert isinstance(results[1], ValueError) and told == [results[1]]
    _assert_same(results[0], _alone(generator, REQUESTS[0], 1)[0])


def test_the_batch_key_tells_compatible_requests(generator: HierarchicalGenerator) -> None:
    key = generator.batch_key
    assert key(REQUESTS[0], SECONDS) == key(REQUESTS[1], SECONDS)
    assert key(REQUESTS[0], SECONDS) != key(REQUESTS[0], SECONDS / 2)
    warmer = _request("dusty lo-fi drums and rhodes", ("drums",), temperature=1.0)
    assert key(REQUESTS[0], SECONDS) != key(warmer, SECONDS)
