"""Which waiting jobs a batching worker takes together (the JobBook alone, no engine): the
next job in turn and the fitting jobs that would start after it, turn by turn; a job that
does not fit keeps its place and starts next."""

from __future__ import annotations

from bridge.messages import Generate, JobStatus
from engine.server.jobs import Job, JobBook


def _job(turn: str, n: int, bars: int = 4) -> Job:
    return Job(request=Generate(request_id=f"{turn}{n}", prompt="x", bars=bars), seed=0,
               owner=turn, turn=turn)


def _bars(job: Job) -> int:
    return job.request.bars


def _ids(jobs: list[Job]) -> list[str]:
    return [job.id for job in jobs]


def test_a_batch_takes_fitting_jobs_turn_by_turn() -> None:
    book = JobBook(queue_size=16)
    for turn, count in (("a", 3), ("b", 2), ("c", 1)):
        for n in range(count):
            book.submit(_job(turn, n))
    batch = book.take_batch(4, _bars, timeout=0)
    # a, b, c once each before any turn's second job; the fourth goes to the next turn, a.
    assert _ids(batch) == ["a0", "b0", "c0", "a1"]
    assert all(job.status is JobStatus.RUNNING for job in batch)
    assert _ids(book.take_batch(4, _bars, timeout=0)) == ["b1", "a2"]


def test_a_job_that_does_not_fit_keeps_its_turn_and_starts_next() -> None:
    book = JobBook(queue_size=16)
    book.submit(_job("a", 0))
    book.submit(_job("b", 0, bars=8))  # another length: b's turn is passed over...
    book.submit(_job("b", 1))  # ...with the job behind it in b's own queue
    book.submit(_job("c", 0))
    assert _ids(book.take_batch(4, _bars, timeout=0)) == ["a0", "c0"]
    waiting_b0 = book.get("b0")
    assert book.position(waiting_b0) == 0  # it is the next to start
    assert _ids(book.take_batch(4, _bars, timeout=0)) == ["b0"]
    assert _ids(book.take_batch(4, _bars, timeout=0)) == ["b1"]


def test_a_cap_of_one_or_an_unbatchable_key_takes_one_job() -> None:
    book = JobBook(queue_size=16)
    for turn in "ab":
        book.submit(_job(turn, 0))
    assert _ids(book.take_batch(1, _bars, timeout=0)) == ["a0"]
    book.submit(_job("a", 1))
    assert _ids(book.take_batch(4, lambda job: None, timeout=0)) == ["b0"]
    assert _ids(book.take_batch(4, _bars, timeout=0)) == ["a1"]
    assert book.take_batch(4, _bars, timeout=0) == []


class _Sink:
    """A client that keeps what the engine sends it."""

    peer, host = "udp:127.0.0.1:1", "127.0.0.1"

    def __init__(self) -> None:
        self.got: list[object] = []

    def send(self, message: object) -> None:
        self.got.append(message)


class _CrashingBatch:
    """A generator whose batch fails as a whole after every job has started writing (an
    out-of-memory at batch size N is one way; none can be provoked in the real model)."""

    name = "crashing"

    def batch_key(self, request: object, seconds: float) -> str:
        return "same"

    def generate_batch(self, jobs: list) -> list:
        for job in jobs:
            job.context.progress(0.1, "coarse")
        raise RuntimeError("the whole batch")

    def generate(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a batch of two runs as a batch")


def test_a_batch_that_fails_as_a_whole_fails_each_job_and_leaves_no_folder(tmp_path) -> None:
    from bridge.messages import Fail
    from engine.server.library import ClipLibrary
    from engine.server.service import EngineService

    root = tmp_path / "library"
    service = EngineService("default", ClipLibrary(root), max_batch=4)
    service.model._generator = _CrashingBatch()  # type: ignore[assignment]
    service.model._loaded.set()
    sinks = [_Sink(), _Sink()]
    for n, sink in enumerate(sinks):
        job = _job(f"t{n}", n)
        job.subscribe(sink)  # type: ignore[arg-type]
        service.book.submit(job)
    service._work_on_next()
    for sink in sinks:
        assert isinstance(sink.got[-1], Fail) and sink.got[-1].code == "internal"
    assert [p for p in root.iterdir() if not p.name.startswith(".")] == []
