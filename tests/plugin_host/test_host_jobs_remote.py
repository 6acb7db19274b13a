"""The host's jobs over TCP: inputs uploaded, clips fetched into the host's own folder, so a
record names files on the host's machine even when the engine cannot read the host's disk."""

from __future__ import annotations

import secrets
import threading
import time

import numpy as np
import soundfile as sf

from bridge.client import EngineClient
from bridge.messages import Generate
from plugin_host.jobs import HostJobs, HostState, new_job_id
from stemloom.local_engine import LocalEngine

CLIENT_ID = "host-jobs-remote-0123456789"


def test_a_tcp_job_uploads_its_hum_and_its_record_names_local_clips(tmp_path) -> None:
    hum = tmp_path / "host" / "hum.wav"
    hum.parent.mkdir()
    rate = 16000
    sf.write(hum, 0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * rate) / rate), rate)
    clips = tmp_path / "host" / "clips"
    # The engine reads inputs from its library alone: the hum must travel in the protocol.
    with LocalEngine(tmp_path / "engine" / "library", model="random-tiny", tcp=True,
                     extra_args=("--input-folder", str(tmp_path / "engine"))) as engine:
        port = engine.tcp_port
        assert port is not None
        jobs = HostJobs(lambda: EngineClient(port=port, transport="tcp", client_id=CLIENT_ID,
                                             timeout=10.0),
                        tmp_path / "host" / "jobs.json", clips_root=clips)
        request = Generate(request_id=new_job_id(), prompt="warm bass", bars=1,
                           stems=("bass", "keys"), melody=str(hum), seed=2)
        record = jobs.run(request, timeout=120)
        refused = HostJobs(lambda: EngineClient(port=engine.udp_port, timeout=10.0),
                           tmp_path / "host" / "udp-jobs.json").run(
            Generate(request_id=new_job_id(), prompt="warm bass", bars=1, melody=str(hum)))
    assert record.state == HostState.DONE, record.message
    assert set(record.stems) == {"bass", "keys"}
    for path in record.stems.values():
        assert path.startswith(str(clips / request.request_id / "engine"))
        assert sf.info(path).frames == 2 * 48000
    assert record.melody_midi.startswith(str(clips))
    assert record.request.melody == str(hum)  # the journal keeps the host's own path
    # Over UDP the engine reads paths, and it may not read this one.
    assert refused.state == HostState.FAILED and "melody" in refused.message


def test_a_tcp_jobs_record_says_queued_once_the_engine_acks_it(tmp_path) -> None:
    """The engine's one worker is busy: the job waits, and the host's record says so (from
    the ack) instead of staying 'sent' until the job starts."""
    with LocalEngine(tmp_path / "engine" / "library", model="random-tiny", tcp=True) as engine:
        port = engine.tcp_port
        assert port is not None

        def connect(client_id: str = CLIENT_ID) -> EngineClient:
            return EngineClient(port=port, transport="tcp", client_id=client_id, timeout=10.0)

        seen: list[HostState] = []
        jobs = HostJobs(connect, tmp_path / "host" / "jobs.json", clips_root=tmp_path / "clips")
        request = Generate(request_id=new_job_id(), prompt="warm bass", bars=1,
                           stems=("bass",), seed=4)
        with connect(secrets.token_hex(16)) as holder:
            holder.submit(Generate(request_id="holds-the-worker", prompt="drone", bars=64,
                                   bpm=20.0, stems=("pads",)))
            deadline = time.monotonic() + 30
            while holder.status("holds-the-worker")[0].state.value != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            runner = threading.Thread(target=lambda: jobs.run(
                request, timeout=120, on_update=lambda record: seen.append(record.state)))
            runner.start()
            deadline = time.monotonic() + 30
            while HostState.QUEUED not in seen:
                assert time.monotonic() < deadline, f"never queued: {seen}"
                time.sleep(0.05)
            assert jobs.get(request.request_id).state == HostState.QUEUED
            holder.cancel("holds-the-worker")
            runner.join(120)
    assert jobs.get(request.request_id).state == HostState.DONE
    assert seen[:2] == [HostState.SENT, HostState.QUEUED]
