"""Every message over real UDP and TCP (SLIP) sockets, and the listener's defences."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bridge import limits
from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import OscListener, Replier
from bridge.messages import Fail, Hello, HelloReply, Request
from bridge.schema import decode, encode
from bridge.slip import encode_frame
from tests.bridge.samples import SAMPLES

REQUESTS = [m for m in SAMPLES if isinstance(m, Request)]
REPLIES = [m for m in SAMPLES if not isinstance(m, Request)]


class Recorder:
    """A handler that records requests and answers hello with every reply type."""

    def __init__(self) -> None:
        self.received: list[Request] = []

    def __call__(self, request: Request, replier: Replier) -> None:
        self.received.append(request)
        if isinstance(request, Hello) and request.client == "all-replies":
            for reply in REPLIES:
                replier.send(
                    reply.__class__(**{**reply.__dict__, "request_id": request.request_id})
                )
        elif isinstance(request, Hello) and request.client == "crash":
            raise RuntimeError("handler bug")
        else:
            replier.send(
                HelloReply(
                    request_id=request.request_id,
                    engine_version="t",
                    model="m",
                    model_state="ready",
                    queue_size=1,
                )
            )


@pytest.fixture()
def listener() -> Iterator[tuple[OscListener, Recorder]]:
    recorder = Recorder()
    server = OscListener(recorder, udp_port=0, tcp_port=0, idle_timeout=1.0)
    server.start()
    yield server, recorder
    server.stop()


def _client(server: OscListener, transport: str) -> EngineClient:
    address = server.udp_address if transport == "udp" else server.tcp_address
    return EngineClient(*address, transport=transport, timeout=3.0)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_every_request_arrives_intact(listener, transport) -> None:
    server, recorder = listener
    with _client(server, transport) as client:
        for request in REQUESTS:
            client.send(request)
        deadline = time.monotonic() + 5
        while len(recorder.received) < len(REQUESTS) and time.monotonic() < deadline:
            time.sleep(0.01)
    # A reply_port sends replies elsewhere, so arrival is checked on the server side.
    assert recorder.received == REQUESTS


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_every_reply_arrives_intact(listener, transport) -> None:
    server, _ = listener
    with _client(server, transport) as client:
        client.send(Hello(request_id="all", client="all-replies"))
        got = [client.next_reply("all") for _ in REPLIES]
    assert [type(m) for m in got] == [type(m) for m in REPLIES]
    assert [{**m.__dict__, "request_id": "x"} for m in got] == [
        {**m.__dict__, "request_id": "x"} for m in REPLIES
    ]


def test_reply_port_redirects_replies(listener) -> None:
    server, _ = listener
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as inbox,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        inbox.bind(("127.0.0.1", 0))
        inbox.settimeout(3)
        hello = Hello(request_id="redirect", reply_port=inbox.getsockname()[1])
        sender.sendto(encode(hello), server.udp_address)
        assert decode(inbox.recv(65536)).request_id == "redirect"


def test_oversized_datagram_gets_too_large(listener) -> None:
    server, _ = listener
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(
            b"/stemloom/hello\x00" + b"x" * (limits.MAX_UDP_DATAGRAM + 100), server.udp_address
        )
        reply = decode(sock.recv(65536))
    assert isinstance(reply, Fail) and reply.code == ErrorCode.TOO_LARGE


def test_handler_crash_is_answered_and_serving_goes_on(listener) -> None:
    server, _ = listener
    with _client(server, "udp") as client:
        client.send(Hello(request_id="boom", client="crash"))
        reply = client.next_reply("boom")
        assert isinstance(reply, Fail) and reply.code == ErrorCode.INTERNAL
        assert client.hello("after").request_id == "after"


def test_a_reply_sent_as_a_request_is_never_answered(listener) -> None:
    """Answering replies is how two parties talk forever; the server stays up for others."""
    server, recorder = listener
    with _client(server, "udp") as client:
        client._sock.sendto(encode(REPLIES[0]), server.udp_address)
        with pytest.raises(EngineUnreachable):
            client.next_reply(REPLIES[0].request_id, timeout=0.5)
        assert isinstance(client.hello(), HelloReply)
    assert len(recorder.received) == 1  # only the hello reached the handler


class CountingListener(OscListener):
    """A real listener that counts every packet it reads (requests, replies and junk)."""

    packets = 0

    def _dispatch(self, data: bytes, peer: tuple[str, int], **kwargs) -> None:
        self.packets += 1
        super()._dispatch(data, peer, **kwargs)


def _packets_during(server: CountingListener, seconds: float) -> int:
    before = server.packets
    time.sleep(seconds)
    return server.packets - before


def test_a_hello_whose_reply_port_is_the_servers_own_does_not_loop() -> None:
    """``oscsend 127.0.0.1 PORT /stemloom/hello ssi h1 reply_port PORT`` once made the engine
    answer itself thousands of times a second."""
    recorder = Recorder()
    server = CountingListener(recorder, udp_port=0)
    server.start()
    try:
        port = server.udp_address[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(encode(Hello(request_id="h1", reply_port=port)), ("127.0.0.1", port))
        time.sleep(0.3)
        assert [r.request_id for r in recorder.received] == ["h1"]
        assert server.packets == 1 and _packets_during(server, 0.5) == 0
        with _client(server, "udp") as client:
            assert isinstance(client.hello(), HelloReply)
    finally:
        server.stop()


def test_two_servers_pointed_at_each_other_go_quiet() -> None:
    first, second = Recorder(), Recorder()
    a, b = CountingListener(first, udp_port=0), CountingListener(second, udp_port=0)
    a.start()
    b.start()
    try:
        # A hello "from" b's port reaches a; a's reply lands on b, which must not answer it.
        b._udp.sendto(encode(Hello(request_id="ping")), a.udp_address)
        time.sleep(0.5)
        assert (len(first.received), len(second.received)) == (1, 0)
        assert (a.packets, b.packets) == (1, 1)
        assert _packets_during(a, 0.5) + _packets_during(b, 0.1) == 0
    finally:
        a.stop()
        b.stop()


def test_tcp_frame_that_never_ends_is_cut_off(listener) -> None:
    server, _ = listener
    with socket.create_connection(server.tcp_address) as hostile:
        hostile.settimeout(5)
        hostile.sendall(b"\xc0" + b"a" * (2 * limits.MAX_TCP_FRAME + 10))
        data = b""
        while chunk := hostile.recv(65536):  # the listener answers, then closes
            data += chunk
    assert b"too_large" in data
    with _client(server, "tcp") as client:
        assert client.hello("still-there").request_id == "still-there"


def test_idle_half_frame_is_dropped_after_the_timeout(listener) -> None:
    server, _ = listener
    with socket.create_connection(server.tcp_address) as slow:
        slow.sendall(b"\xc0/stemloom/hel")
        slow.settimeout(5)
        started = time.monotonic()
        assert slow.recv(10) == b""  # closed by the listener (idle_timeout=1 s)
        assert time.monotonic() - started < 4


def test_bad_slip_escape_closes_only_that_connection(listener) -> None:
    server, _ = listener
    with socket.create_connection(server.tcp_address) as bad:
        bad.settimeout(5)
        bad.sendall(b"\xc0\xdb\x01\xc0")
        assert b"too_large" in bad.recv(65536) or True  # answered or closed, never hung
    with _client(server, "tcp") as client:
        assert client.hello("ok").request_id == "ok"


def test_many_clients_at_once(listener) -> None:
    server, recorder = listener
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            with _client(server, "udp" if n % 2 else "tcp") as client:
                for i in range(20):
                    assert client.hello(f"c{n}-{i}").request_id == f"c{n}-{i}"
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(recorder.received) == 16 * 20


def test_token_is_required_off_loopback() -> None:
    with pytest.raises(ValueError, match="token"):
        OscListener(Recorder(), host="0.0.0.0", udp_port=0)


def test_wrong_or_missing_token_is_unauthorized() -> None:
    recorder = Recorder()
    server = OscListener(recorder, udp_port=0, tcp_port=0, token="s3cret")
    server.start()
    try:
        for transport in ("udp", "tcp"):
            address = server.udp_address if transport == "udp" else server.tcp_address
            with EngineClient(*address, transport=transport, timeout=3) as anonymous:
                with pytest.raises(ProtocolError) as caught:
                    anonymous.hello("anon")
                assert caught.value.code == ErrorCode.UNAUTHORIZED
            with EngineClient(*address, transport=transport, token="s3cret", timeout=3) as ok:
                assert ok.hello("known").request_id == "known"
        assert [r.request_id for r in recorder.received] == ["known", "known"]
    finally:
        server.stop()


def test_no_reply_raises_engine_unreachable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        with (
            EngineClient(*silent.getsockname(), timeout=0.3) as client,
            pytest.raises(EngineUnreachable),
        ):
            client.hello()


def test_slip_frame_helper_matches_python_osc() -> None:
    from pythonosc import slip

    payload = bytes(range(256)) * 3
    assert encode_frame(payload) == slip.encode(payload)
