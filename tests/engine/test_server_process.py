"""Whole job lifecycles against a real engine subprocess over real sockets."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import soundfile as sf

from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Ack, Done, Fail, Generate, Preview, Progress
from bridge.timing import clip_samples
from stemloom.local_engine import LocalEngine
from tests.conftest import library_files

# One user's id: a job made by one client is theirs from any other socket or process.
CLIENT_ID = "server-process-tests-0123456789"


def _client(engine: LocalEngine, transport: str = "udp") -> EngineClient:
    port = engine.udp_port if transport == "udp" else engine.tcp_port
    return EngineClient(port=port, transport=transport, client_id=CLIENT_ID, timeout=10.0)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_job_runs_to_done_with_exact_length_clips(engine, transport) -> None:
    request = Generate(
        request_id=f"life-{transport}",
        prompt="boom bap drums and upright bass",
        bpm=90.0,
        bars=2,
        time_signature="3/4",
        stems=("drums", "bass"),
        seed=11,
        sample_rate=44100,
        format="wav24",
    )
    progress: list[Progress] = []
    previews: list[Preview] = []
    with _client(engine, transport) as client:
        ack = client.submit(request)
        done = client.wait(
            request.request_id, timeout=120, on_progress=progress.append, on_preview=previews.append
        )
    assert isinstance(ack, Ack)
    assert set(done.stems) == {"drums", "bass"}
    assert (done.bpm, done.bars, done.sample_rate, done.seed) == (90.0, 2, 44100, 11)
    expected = clip_samples(90.0, 2, "3/4", 44100)
    for path in done.stems.values():
        info = sf.info(path)
        assert (info.frames, info.samplerate, info.channels, info.subtype) == (
            expected,
            44100,
            2,
            "PCM_24",
        )
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert previews and all(p.seconds > 0 for p in previews)
    metadata = json.loads(Path(done.metadata).read_text())
    assert metadata["done"]["stems"] == done.stems
    assert metadata["request"]["prompt"] == request.prompt
    assert not Path(done.metadata).with_name("preview.wav").exists()


def test_same_seed_reproduces_the_same_audio(engine) -> None:
    outputs = []
    with _client(engine) as client:
        for n in range(2):
            request = Generate(
                request_id=f"seed-{n}",
                prompt="house",
                bars=1,
                stems=("mix",),
                seed=1234,
                format="float32",
            )
            client.submit(request)
            outputs.append(sf.read(client.wait(request.request_id, timeout=60).stems["mix"])[0])
    assert (outputs[0] == outputs[1]).all()


def test_variations_get_their_own_files(engine) -> None:
    request = Generate(
        request_id="takes", prompt="synthwave", bars=1, stems=("bass", "lead"), variations=2
    )
    with _client(engine) as client:
        client.submit(request)
        done = client.wait(request.request_id, timeout=60)
    assert set(done.stems) == {"bass.1", "lead.1", "bass.2", "lead.2"}
    assert len({sf.read(p)[0].tobytes() for p in done.stems.values()}) == 4


def test_cancel_a_running_job_stops_it_and_leaves_no_files(engine) -> None:
    request = Generate(request_id="cancel-me", prompt="ambient", bars=64, bpm=20.0, stems=("pads",))
    with _client(engine) as client:
        client.submit(request)
        deadline = time.monotonic() + 30
        while client.status("cancel-me")[0].state != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        client.cancel("cancel-me")
        with pytest.raises(ProtocolError) as caught:
            client.wait("cancel-me", timeout=30)
        assert caught.value.code == ErrorCode.CANCELLED
        state, outcome = client.status("cancel-me")
    assert state.state == "cancelled" and isinstance(outcome, Fail)
    assert not (engine.library / "cancel-me").exists()


def test_full_queue_answers_busy_and_queued_jobs_can_be_cancelled(engine) -> None:
    long_job = dict(prompt="drone", bars=64, bpm=20.0, stems=("pads",))
    with _client(engine) as client:
        client.submit(Generate(request_id="q-run", **long_job))
        for n in range(3):  # the engine's queue holds 3
            assert client.submit(Generate(request_id=f"q-{n}", **long_job)).state == "queued"
        with pytest.raises(ProtocolError) as caught:
            client.submit(Generate(request_id="q-over", **long_job))
        assert caught.value.code == ErrorCode.BUSY
        for job_id in ("q-0", "q-1", "q-2", "q-run"):
            client.cancel(job_id)
        for job_id in ("q-0", "q-1", "q-2", "q-run"):
            with pytest.raises(ProtocolError):
                client.wait(job_id, timeout=30)
        assert client.jobs().jobs["q-1"] == "cancelled"


def test_a_lost_reply_is_recovered_through_status(engine) -> None:
    # Send the request from one socket with replies routed to a port nobody reads:
    # ack, progress and done are all lost. A new client then recovers the result.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blackhole, _client(engine) as client:
        blackhole.bind(("127.0.0.1", 0))
        client.send(
            Generate(
                request_id="lost",
                prompt="reggae",
                bars=1,
                stems=("mix",),
                reply_port=blackhole.getsockname()[1],
            )
        )
        done = client.wait("lost", timeout=60, poll_interval=0.3)
    assert isinstance(done, Done) and Path(done.stems["mix"]).is_file()


def test_resending_a_request_is_idempotent_and_a_different_one_is_refused(engine) -> None:
    request = Generate(request_id="again", prompt="funk", bars=1, stems=("bass",))
    with _client(engine) as client:
        client.submit(request)
        first = client.wait("again", timeout=60)
        assert client.submit(request).state == "done"
        assert client.next_reply("again") == first
        with pytest.raises(ProtocolError) as caught:
            client.submit(Generate(request_id="again", prompt="metal", bars=1))
        assert caught.value.code == ErrorCode.DUPLICATE_ID


def test_unknown_job_and_bad_melody_fail_cleanly(engine, tmp_path) -> None:
    hostile = [
        "relative/hum.wav",
        "/etc/passwd",
        "/nonexistent/hum.wav",
        f"{engine.library}/../../hum.mid",
    ]
    with _client(engine) as client:
        with pytest.raises(ProtocolError) as caught:
            client.status("never-submitted")
        assert caught.value.code == ErrorCode.UNKNOWN_JOB
        for n, path in enumerate(hostile):
            with pytest.raises(ProtocolError) as caught:
                client.submit(Generate(request_id=f"melody-{n}", prompt="x", melody=path))
            assert caught.value.code == ErrorCode.BAD_ARGUMENT
        assert client.hello().model_state == "ready"


def test_hello_names_a_model_given_as_a_path_without_its_folder(tmp_path) -> None:
    folder = tmp_path / "private-studio-folder"
    with LocalEngine(tmp_path / "library", model=str(folder / "my-model")) as engine, \
            _client(engine) as client:
        hello = client.hello()
    assert hello.model == "my-model" and hello.model_state != "ready"


def test_a_restarted_engine_still_answers_for_finished_jobs(tmp_path) -> None:
    library = tmp_path / "library"
    with LocalEngine(library, model="random-tiny") as first, _client(first) as client:
        client.submit(Generate(request_id="survivor", prompt="jazz", bars=1, stems=("keys",)))
        done = client.wait("survivor", timeout=60)
    with LocalEngine(library, model="random-tiny") as second, _client(second) as client:
        state, outcome = client.status("survivor")
        assert state.state == "done" and outcome == done
        with pytest.raises(ProtocolError) as caught:  # never overwrite a finished job's clips
            client.submit(Generate(request_id="survivor", prompt="other", bars=1))
        assert caught.value.code == ErrorCode.DUPLICATE_ID
    assert {p.name for p in library_files(library)} == {"keys.wav", "job.json", "plan.npz"}
