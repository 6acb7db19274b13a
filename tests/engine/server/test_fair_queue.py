"""Issue #20 item 3, over real sockets: two producers on one engine (the random-tiny model),
each on its own address (127.0.0.2 and 127.0.0.3: every 127.x address is this machine). One
floods the queue, even with a new client_id per job; the other's job starts as soon as the
running one ends. Hello (v3) reports the capacity each of them has left; v1 and v2 clients
hear what they always did."""

from __future__ import annotations

import functools
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import (
    CAPACITY_VERSION,
    FILES_VERSION,
    Done,
    Generate,
    Hello,
    HelloCapacity,
    HelloFiles,
    HelloReply,
)
from bridge.schema import Message
from stemloom.local_engine import LocalEngine

# Long enough to still run while the test looks (cancelled at the end); the short one is quick.
LONG: dict[str, Any] = {"prompt": "drone", "bars": 64, "bpm": 20.0, "stems": ("pads",)}
SHORT: dict[str, Any] = {"prompt": "drums", "bars": 1, "stems": ("drums",)}
QUEUE, PER_CLIENT = 6, 4
FLOODER, OTHER = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    with LocalEngine(tmp_path_factory.mktemp("fair") / "library", model="random-tiny",
                     tcp=True, queue_size=QUEUE,
                     extra_args=("--client-queue-size", str(PER_CLIENT))) as running:
        yield running


def _client(engine: LocalEngine, client_id: str = "", source: str = "127.0.0.1") -> EngineClient:
    """A TCP client whose connection comes from the address ``source`` (the engine listens
    on 127.0.0.1; the client only picks which local address it connects from)."""
    assert engine.tcp_port is not None
    connect = functools.partial(socket.create_connection, source_address=(source, 0))
    with mock.patch.object(socket, "create_connection", connect):
        return EngineClient(port=engine.tcp_port, transport="tcp", client_id=client_id,
                            timeout=10.0)


def _hello(client: EngineClient, protocol: int, request_id: str) -> list[Message]:
    """Every reply to one hello (the engine sends them back to back)."""
    client.send(Hello(request_id=request_id, protocol=protocol))
    replies = [client.next_reply(request_id)]
    while True:
        try:
            replies.append(client.next_reply(request_id, timeout=0.5))
        except EngineUnreachable:
            return replies


def _capacity(client: EngineClient) -> HelloCapacity:
    replies = _hello(client, CAPACITY_VERSION, f"cap-{secrets.token_hex(4)}")
    assert [type(r) for r in replies] == [HelloReply, HelloFiles, HelloCapacity]
    capacity = replies[-1]
    assert isinstance(capacity, HelloCapacity)
    return capacity


def _state(client: EngineClient, job_id: str) -> str:
    return client.status(job_id)[0].state.value


def _until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_older_clients_hear_the_replies_of_their_version(engine: LocalEngine) -> None:
    with _client(engine) as client:
        assert [type(r) for r in _hello(client, 1, "v1")] == [HelloReply]
        v2 = _hello(client, FILES_VERSION, "v2")
        assert [type(r) for r in v2] == [HelloReply, HelloFiles]
        assert isinstance(v2[0], HelloReply) and v2[0].protocol == FILES_VERSION
        _until(lambda: client.hello().model_state == "ready")  # the device is known then
        capacity = _capacity(client)
    assert (capacity.workers, capacity.queue_size) == (1, QUEUE)
    assert capacity.client_queue_size == PER_CLIENT
    assert capacity.device == "cpu" and capacity.batching is False


def test_a_flooding_client_does_not_hold_back_another(engine: LocalEngine) -> None:
    flood_ids = [f"flood-{n}" for n in range(PER_CLIENT + 1)]
    with _client(engine, secrets.token_hex(16), FLOODER) as flooder, \
            _client(engine, secrets.token_hex(16), OTHER) as other:
        try:
            flooder.submit(Generate(request_id=flood_ids[0], **LONG))
            _until(lambda: _state(flooder, flood_ids[0]) == "running")
            for job_id in flood_ids[1:]:  # four wait behind the running one
                flooder.submit(Generate(request_id=job_id, **LONG))
            with pytest.raises(ProtocolError) as caught:  # a fifth waiting job is one too many
                flooder.submit(Generate(request_id="flood-over", **LONG))
            assert caught.value.code == ErrorCode.BUSY
            theirs, mine = _capacity(flooder), _capacity(other)
            assert (theirs.running, theirs.waiting, theirs.free) == (1, PER_CLIENT,
                                                                     QUEUE - PER_CLIENT)
            assert (theirs.client_free, mine.client_free) == (0, QUEUE - PER_CLIENT)

            ack = other.submit(Generate(request_id="other-job", **SHORT))
            assert ack.state == "queued" and ack.queue_position == 0
            # The flooder's waiting jobs now count the other client's job ahead of them.
            positions = [flooder.status(j)[0].queue_position for j in flood_ids[1:]]
            assert positions == [1, 2, 3, 4]
            assert other.jobs().jobs == {"other-job": "queued"}

            flooder.cancel(flood_ids[0])  # the running job ends: the other client's starts
            done = other.wait("other-job", timeout=60)
            assert isinstance(done, Done)
            listed = flooder.jobs().jobs
            assert listed[flood_ids[0]] == "cancelled"
            assert listed[flood_ids[1]] in ("queued", "running")  # started only after it
            assert all(listed[j] == "queued" for j in flood_ids[2:])
        finally:
            for job_id in flood_ids:
                flooder.cancel(job_id)


def test_a_new_client_id_per_job_neither_jumps_turns_nor_passes_the_limit(
        engine: LocalEngine) -> None:
    """The flooder gives every job a new client_id on a new connection (a new owner each
    time): its jobs still share its address's turn and its client_queue_size."""
    flood = [(f"rotate-{n}", secrets.token_hex(16)) for n in range(PER_CLIENT + 2)]

    def submit(job_id: str, client_id: str) -> None:
        with _client(engine, client_id, FLOODER) as flooder:
            flooder.submit(Generate(request_id=job_id, **LONG))

    def state(job_id: str, client_id: str) -> Any:
        with _client(engine, client_id, FLOODER) as flooder:
            return flooder.status(job_id)[0]

    with _client(engine, secrets.token_hex(16), OTHER) as other:
        try:
            submit(*flood[0])
            _until(lambda: state(*flood[0]).state.value == "running")
            for job_id, client_id in flood[1:-1]:
                submit(job_id, client_id)
            with pytest.raises(ProtocolError) as caught:
                submit(*flood[-1])
            assert caught.value.code == ErrorCode.BUSY and "your machine" in caught.value.message
            ack = other.submit(Generate(request_id="other-after-rotation", **SHORT))
            assert ack.queue_position == 0
            assert [state(*job).queue_position for job in flood[1:-1]] == [1, 2, 3, 4]
        finally:
            for job_id, client_id in flood[:-1]:
                with _client(engine, client_id, FLOODER) as flooder:
                    flooder.cancel(job_id)
            other.cancel("other-after-rotation")
