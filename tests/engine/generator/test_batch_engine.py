"""Cross-job batching over real sockets: an engine process serving the tiny trained generator
with ``--max-batch 4``, three producers on their own addresses (127.0.0.2-4: every 127.x
address is this machine). Compatible waiting jobs of two clients run as one batch and each
gets the stems it gets alone; one cancelled leaves the batch, one with a bad input fails
alone; one of another length waits for its own turn; hello reports batching."""

from __future__ import annotations

import functools
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import soundfile as sf

from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import CAPACITY_VERSION, Done, Generate, Hello, HelloCapacity, Preview
from engine.api import render
from engine.generator.pipeline import load_default
from engine.request import from_generate
from stemloom.local_engine import LocalEngine

BATCHED: dict[str, Any] = {"prompt": "dusty lo-fi drums and rhodes", "bpm": 120.0, "bars": 4}
FIRST, SECOND, THIRD = "127.0.0.2", "127.0.0.3", "127.0.0.4"


@pytest.fixture(scope="module")
def engine(tiny_generator: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LocalEngine]:
    with LocalEngine(tmp_path_factory.mktemp("batch") / "library", model=str(tiny_generator),
                     tcp=True, extra_args=("--max-batch", "4")) as running:
        yield running


def _client(engine: LocalEngine, source: str) -> EngineClient:
    """A TCP client connecting from the local address ``source``."""
    assert engine.tcp_port is not None
    connect = functools.partial(socket.create_connection, source_address=(source, 0))
    with mock.patch.object(socket, "create_connection", connect):
        return EngineClient(port=engine.tcp_port, transport="tcp", timeout=10.0)


def _generate(request_id: str, **fields: Any) -> Generate:
    return Generate(**{"request_id": request_id, **BATCHED, **fields})


def _wait_running(client: EngineClient, job_id: str) -> None:
    deadline = time.monotonic() + 120
    while client.status(job_id)[0].state.value != "running":
        assert time.monotonic() < deadline, f"{job_id} never started"
        time.sleep(0.05)


def _record(done: Done) -> dict[str, Any]:
    return json.loads(Path(done.metadata).read_text())


def test_hello_reports_batching(engine: LocalEngine) -> None:
    with _client(engine, FIRST) as client:
        client.send(Hello(request_id="hi", protocol=CAPACITY_VERSION))
        replies = []
        with pytest.raises(EngineUnreachable):
            while True:
                replies.append(client.next_reply("hi", timeout=1.0))
    capacity = [r for r in replies if isinstance(r, HelloCapacity)]
    assert len(capacity) == 1 and capacity[0].batching is True


def test_compatible_jobs_of_two_clients_run_as_one_batch(engine: LocalEngine,
                                                         tiny_generator: Path,
                                                         tmp_path: Path) -> None:
    garbage = tmp_path / "tune.mid"
    garbage.write_bytes(b"not a MIDI file")  # found at submit, unreadable when generating
    a_job = _generate("a-1", stems=("drums", "bass"), seed=11)
    a_bad = _generate("a-2", stems=("bass",), melody=str(garbage), seed=15)
    b_job = _generate("b-1", stems=("bass",), seed=12)
    b_cancelled = _generate("b-2", stems=("keys",), seed=13)
    other_length = _generate("c-1", stems=("drums",), bars=1, seed=14)
    with _client(engine, THIRD) as third, _client(engine, FIRST) as first, \
            _client(engine, SECOND) as second:
        third.submit(_generate("blocker", stems=("pads",), seed=1))
        _wait_running(third, "blocker")  # the worker is busy: the next ones wait together
        first.submit(a_job)
        first.submit(a_bad)  # joins the batch after b-1: the turns alternate
        third.submit(other_length)  # another length: it cannot join the batch
        second.submit(b_job)
        second.submit(b_cancelled)
        third.wait("blocker", timeout=300)
        _wait_running(second, "b-2")
        second.cancel("b-2")
        with pytest.raises(ProtocolError) as cancelled:
            second.wait("b-2", timeout=300)
        assert cancelled.value.code is ErrorCode.CANCELLED
        with pytest.raises(ProtocolError) as bad:
            first.wait("a-2", timeout=300)
        assert bad.value.code is ErrorCode.BAD_ARGUMENT and "melody" in bad.value.message
        # Both were answered while a-1 still ran: they left a-1's batch at once (a-2 did not
        # wait for a turn of its own after it, and neither waited for the batch to end).
        assert first.status("a-1")[0].state.value == "running"
        previews: dict[str, list[Preview]] = {"a-1": [], "b-1": []}
        a_done = first.wait("a-1", timeout=300, on_preview=previews["a-1"].append)
        b_done = second.wait("b-1", timeout=300, on_preview=previews["b-1"].append)
        c_done = third.wait("c-1", timeout=300)
        # Each client heard only its own jobs.
        for client, foreign in ((first, "b-1"), (second, "a-1"), (third, "a-1")):
            with pytest.raises(EngineUnreachable):
                client.next_reply(foreign, timeout=0.2)
    assert all(previews.values())
    a_record, b_record, c_record = map(_record, (a_done, b_done, c_done))
    assert a_record["batch"] == b_record["batch"] != ""  # one batch...
    assert "batch" not in c_record  # ...that the other length did not join
    assert not (Path(engine.library) / "b-2").exists()  # the cancelled job left nothing
    # Each batched job's stems are those it makes alone.
    generator = load_default(tiny_generator)
    for message, done in ((a_job, a_done), (b_job, b_done)):
        alone = render(generator, from_generate(message), message.seed,
                       sample_rate=message.sample_rate)
        assert set(done.stems) == set(alone.stems)
        for name, path in done.stems.items():
            audio, rate = sf.read(path, dtype="float32")
            assert rate == alone.sample_rate
            np.testing.assert_allclose(audio.T, alone.stems[name], atol=1e-4)
