"""The engine's worker outlives any one job: a queued job whose folder is swapped for a link
out of the clip library fails on its own, and the next job is still made."""

from __future__ import annotations

import time
from pathlib import Path

from bridge.listener import Replier
from bridge.messages import Done, Fail, Generate, decode
from engine.server.jobs import Job
from engine.server.library import ClipLibrary
from engine.server.service import EngineService


def _wait_for_outcome(replies: list, job_id: str, timeout: float = 60) -> Done | Fail:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for reply in replies:
            if isinstance(reply, Done | Fail) and reply.request_id == job_id:
                return reply
        time.sleep(0.05)
    raise AssertionError(f"no outcome for {job_id}: {replies}")


def test_a_job_folder_swapped_for_a_link_fails_alone(tmp_path: Path) -> None:
    library = ClipLibrary(tmp_path / "library")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the engine's")
    service = EngineService("random-tiny", library)
    replies: list = []
    replier = Replier(lambda data: replies.append(decode(data)), "test", 1 << 20)
    request = Generate(request_id="swapped", prompt="x", bars=1, stems=("drums",))
    service.handle(request, replier)  # queued: no worker runs yet
    (library.root / "swapped").symlink_to(outside, target_is_directory=True)
    service.start()
    try:
        failed = _wait_for_outcome(replies, "swapped")
        assert isinstance(failed, Fail) and "inside the clip library" in failed.message
        assert (outside / "keep.txt").read_text() == "not the engine's"
        service.handle(Generate(request_id="next", prompt="x", bars=1, stems=("drums",)),
                       replier)
        assert isinstance(_wait_for_outcome(replies, "next"), Done)
    finally:
        service.stop()


def test_the_worker_outlives_a_failure_to_report_a_failure(tmp_path: Path) -> None:
    """A job whose record cannot be written, and whose failure cannot be reported either (a
    full disk, say), leaves the worker running: the next job is made."""
    service = EngineService("random-tiny", ClipLibrary(tmp_path / "library"))
    replies: list = []
    replier = Replier(lambda data: replies.append(decode(data)), "test", 1 << 20)
    record, report = service._record_running, service._fail
    broken = {"doomed"}

    def record_running(job: Job) -> None:
        if job.id in broken:
            raise OSError("No space left on device")
        record(job)

    def fail(job: Job, *args: object) -> None:
        if job.id in broken:
            broken.clear()
            raise OSError("No space left on device")
        report(job, *args)

    service._record_running, service._fail = record_running, fail
    for job_id in ("doomed", "next"):
        service.handle(Generate(request_id=job_id, prompt="x", bars=1, stems=("drums",)),
                       replier)
    service.start()
    try:
        assert isinstance(_wait_for_outcome(replies, "next"), Done)
    finally:
        service.stop()
