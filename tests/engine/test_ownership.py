"""Issue #19 item 7: a job belongs to the client that made it. Others can neither list,
ask about, cancel nor re-subscribe to it; its owner can, again after reconnecting with its
client_id."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import (
    Cancel,
    Done,
    Fail,
    Generate,
    JobList,
    JobState,
    ListJobs,
    Progress,
    Status,
)
from bridge.schema import Message
from stemloom.local_engine import LocalEngine

LONG: dict[str, Any] = {"prompt": "x", "bars": 16, "stems": ("drums",)}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    with LocalEngine(tmp_path_factory.mktemp("ownership") / "library", model="random-tiny",
                     tcp=True) as running:
        yield running


def _tcp(engine: LocalEngine) -> EngineClient:
    assert engine.tcp_port is not None
    return EngineClient(port=engine.tcp_port, transport="tcp", timeout=10.0)


def _ask(client: EngineClient, request: Status | Cancel | ListJobs) -> Message:
    client.send(request)
    return client.next_reply(request.request_id)


def _until_done(client: EngineClient, job_id: str, timeout: float = 60) -> list[Message]:
    heard: list[Message] = []
    deadline = time.monotonic() + timeout
    while not heard or not isinstance(heard[-1], Done | Fail):
        heard.append(client.next_reply(job_id, timeout=max(0.1, deadline - time.monotonic())))
    return heard


def test_another_client_cannot_list_ask_cancel_or_take_over_a_job(engine: LocalEngine) -> None:
    with _tcp(engine) as owner, _tcp(engine) as other, \
            EngineClient(port=engine.udp_port, timeout=10.0) as stranger:
        owner.submit(Generate(request_id="a-job", **LONG))
        assert "a-job" in owner.jobs().jobs
        assert "a-job" not in other.jobs().jobs
        assert "a-job" not in stranger.jobs().jobs
        for client in (other, stranger):
            for ask in (client.status, client.cancel):
                with pytest.raises(ProtocolError) as caught:
                    ask("a-job")
                assert caught.value.code == ErrorCode.UNKNOWN_JOB
            # Re-sending the owner's generate does not subscribe a stranger either.
            with pytest.raises(ProtocolError) as caught:
                client.submit(Generate(request_id="a-job", **LONG))
            assert caught.value.code == ErrorCode.DUPLICATE_ID
        heard = _until_done(owner, "a-job")
        assert isinstance(heard[-1], Done), heard[-1]
        assert any(isinstance(m, Progress) for m in heard)
        # A stranger hears nothing of it, and it stays unknown to them once done.
        assert not any(isinstance(m, Progress | Done) for m in _drain(other, "a-job"))
        with pytest.raises(ProtocolError) as caught:
            other.status("a-job")
        assert caught.value.code == ErrorCode.UNKNOWN_JOB
        state, outcome = owner.status("a-job")
        assert state.state == "done" and isinstance(outcome, Done)


def test_status_from_other_connections_does_not_steal_the_progress_stream(
        engine: LocalEngine) -> None:
    with _tcp(engine) as owner:
        owner.submit(Generate(request_id="stream", **LONG))
        thieves = [_tcp(engine) for _ in range(5)]
        try:
            for thief in thieves:
                reply = _ask(thief, Status(request_id="stream"))
                assert isinstance(reply, Fail) and reply.code == ErrorCode.UNKNOWN_JOB
            heard = _until_done(owner, "stream")
            assert isinstance(heard[-1], Done)
            assert sum(isinstance(m, Progress) for m in heard) >= 1
            for thief in thieves:
                assert _drain(thief, "stream") == []
        finally:
            for thief in thieves:
                thief.close()


def test_a_client_id_owns_jobs_across_connections(engine: LocalEngine) -> None:
    mine, theirs = secrets.token_hex(16), secrets.token_hex(16)
    with _tcp(engine) as first:
        first.submit(Generate(request_id="kept", client_id=mine, prompt="x", bars=1,
                              stems=("drums",)))
        assert isinstance(_until_done(first, "kept")[-1], Done)
    # A new connection (or a UDP client) with the same client_id sees, asks and lists it.
    for client in (_tcp(engine), EngineClient(port=engine.udp_port, timeout=10.0)):
        with client:
            listing = _ask(client, ListJobs(request_id="mine", client_id=mine))
            assert isinstance(listing, JobList) and "kept" in listing.jobs
            state = _ask(client, Status(request_id="kept", client_id=mine))
            assert isinstance(state, JobState) and state.state == "done"
            assert isinstance(client.next_reply("kept"), Done)
            # Another client_id, or none (this connection's own identity), does not.
            for other_id in (theirs, ""):
                listing = _ask(client, ListJobs(request_id=f"l{other_id}", client_id=other_id))
                assert isinstance(listing, JobList) and "kept" not in listing.jobs
                reply = _ask(client, Status(request_id="kept", client_id=other_id))
                assert isinstance(reply, Fail) and reply.code == ErrorCode.UNKNOWN_JOB


def _drain(client: EngineClient, job_id: str) -> list[Message]:
    heard = []
    while True:
        try:
            heard.append(client.next_reply(job_id, timeout=0.3))
        except Exception:  # EngineUnreachable: nothing more
            return heard
