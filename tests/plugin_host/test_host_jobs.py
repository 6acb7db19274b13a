"""The host never loses a job: a real engine killed mid-job, restarted, and one resubmit."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from bridge.client import EngineClient, EngineUnreachable
from bridge.messages import Generate
from plugin_host.jobs import HostJobs, HostState, JobRecord, new_job_id
from stemloom.local_engine import LocalEngine, free_port


def _jobs(port: int, journal: Path) -> HostJobs:
    return HostJobs(lambda: EngineClient(port=port, timeout=2.0), journal)


def test_a_job_runs_and_is_journalled(tmp_path) -> None:
    journal = tmp_path / "jobs.json"
    with LocalEngine(tmp_path / "lib", model="random-tiny") as engine:
        jobs = _jobs(engine.udp_port, journal)
        seen: list[str] = []
        record = jobs.run(Generate(request_id=new_job_id(), prompt="bossa", bars=1,
                                   stems=("guitar", "bass")),
                          on_update=lambda r: seen.append(r.state))
    assert record.state == "done" and set(record.stems) == {"guitar", "bass"}
    assert seen[0] == "sent" and seen[-1] == "done"
    reopened = _jobs(0, journal).get(record.id)
    assert reopened.state == "done" and reopened.stems == record.stems


def test_engine_not_running_marks_the_job_lost_with_a_clear_message(tmp_path) -> None:
    jobs = _jobs(free_port(), tmp_path / "jobs.json")
    record = jobs.run(Generate(request_id=new_job_id(), prompt="x", bars=1))
    assert record.state == "lost" and "stemloom engine serve" in record.message
    assert record.can_resubmit


def test_engine_killed_mid_job_then_one_resubmit_finishes_it(tmp_path) -> None:
    journal = tmp_path / "jobs.json"
    library = tmp_path / "lib"
    engine = LocalEngine(library, model="random-tiny")
    engine.start()
    jobs = _jobs(engine.udp_port, journal)
    request = Generate(request_id=new_job_id(), prompt="long drone", bpm=30.0, bars=4,
                       stems=("pads",))
    result: list[JobRecord] = []
    follower = threading.Thread(target=lambda: result.append(jobs.run(request, timeout=120)))
    follower.start()
    deadline = time.monotonic() + 30
    while jobs.get(request.request_id).state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.process is not None
    engine.process.kill()  # the engine dies mid-job, no goodbye
    follower.join(timeout=60)
    lost = result[0]
    assert lost.state == "lost" and lost.can_resubmit
    assert not any(p.suffix == ".wav" and p.name != "preview.wav" for p in library.rglob("*"))

    # Restarted on the same port: the host's connection settings stay the same.
    with LocalEngine(library, model="random-tiny", udp_port=engine.udp_port):
        retried = _jobs(engine.udp_port, journal).resubmit(request.request_id, timeout=120)
    assert retried.state == "done", retried.message
    assert sf.info(retried.stems["pads"]).duration == pytest.approx(4 * 4 * 2.0, abs=1e-3)
    history = _jobs(0, journal)
    assert history.get(request.request_id).resubmitted_as == retried.id
    with pytest.raises(ValueError):
        history.resubmit(request.request_id)


def test_states_are_enums_journalled_as_their_plain_names(tmp_path) -> None:
    journal = tmp_path / "jobs.json"

    def no_engine() -> EngineClient:
        raise EngineUnreachable("no engine here")

    record = HostJobs(no_engine, journal).run(Generate(request_id=new_job_id(), prompt="x"))
    assert record.state is HostState.LOST and record.can_resubmit
    rows = json.loads(journal.read_text())
    assert rows[0]["state"] == "lost"
    rows[0]["state"] = "running"  # the host stopped while following it
    newer = {**rows[0], "request": {**rows[0]["request"], "request_id": "host-newer"}}
    rows.append({**newer, "state": "paused"})  # a state only a newer host knows
    journal.write_text(json.dumps(rows))
    reopened = HostJobs(no_engine, journal).records()
    assert [type(r.state) for r in reopened] == [HostState, HostState]
    assert [r.state for r in reopened] == [HostState.LOST, HostState.LOST]


def test_a_corrupt_journal_is_reported_not_overwritten(tmp_path) -> None:
    journal = tmp_path / "jobs.json"
    journal.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        _jobs(0, journal)
    assert journal.read_text() == "{not json"
