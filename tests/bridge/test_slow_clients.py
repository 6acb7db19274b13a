"""The listener's TCP rules against slow and hostile clients, on real loopback sockets: sending
never blocks, a client that does not read is dropped, a dripped frame has a deadline, and
connections that never send a request cannot lock a real client out."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from bridge import limits
from bridge.client import EngineClient
from bridge.listener import OscListener, Replier
from bridge.messages import Hello, HelloReply, Progress, Request
from bridge.schema import encode
from bridge.slip import encode_frame


class Following:
    """A handler that answers hello and keeps each replier, as a job's subscribers are kept."""

    def __init__(self) -> None:
        self.repliers: list[Replier] = []

    def __call__(self, request: Request, replier: Replier) -> None:
        self.repliers.append(replier)
        replier.send(HelloReply(request_id=request.request_id, engine_version="t", model="m",
                                model_state="ready", queue_size=1))


@pytest.fixture()
def served() -> Iterator[tuple[OscListener, Following]]:
    handler = Following()
    server = OscListener(handler, udp_port=0, tcp_port=0, frame_deadline=1.0, send_stall=1.0)
    server.start()
    yield server, handler
    server.stop()


def _non_reader(server: OscListener) -> socket.socket:
    """A client with a tiny receive buffer that says hello once and never reads."""
    assert server.tcp_address is not None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(server.tcp_address)
    sock.sendall(encode_frame(encode(Hello(request_id="follow"))))
    return sock


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(0.1)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def _progress(index: int) -> Progress:
    return Progress(request_id="follow", fraction=index / 1e6, stage="generating " + "x" * 200)


@pytest.mark.parametrize("replies", [300, 5000])
def test_sending_to_a_client_that_never_reads_never_blocks(served, replies) -> None:
    """300 replies fill the kernel's buffers but not the outbox: dropped after send_stall (1 s).
    5000 overflow the outbox: dropped at once. Either way each send returns at once."""
    server, handler = served
    with _non_reader(server) as stuck:
        assert _wait_for(lambda: handler.repliers, 3)
        replier = handler.repliers[0]
        slowest = 0.0
        started = time.monotonic()
        for index in range(replies):  # a worker telling a subscriber of its progress
            before = time.monotonic()
            replier.send(_progress(index))
            slowest = max(slowest, time.monotonic() - before)
        sending = time.monotonic() - started
        # Loose bounds for a loaded 2-core machine; a blocking send waits seconds per reply.
        assert slowest < 0.5 and sending < 10
        time.sleep(1.5 if replies < 1000 else 0.2)  # stall deadline, or overflow at once
        assert _closed_by_server(stuck, within=2)
    with EngineClient(*server.tcp_address, transport="tcp", timeout=3) as client:
        assert client.hello("next").request_id == "next"


def test_a_reader_keeps_its_connection_through_a_burst(served) -> None:
    server, handler = served
    with EngineClient(*server.tcp_address, transport="tcp", timeout=3) as client:
        client.hello("follow")
        for index in range(limits.MAX_TCP_OUTBOX_MESSAGES - 10):
            handler.repliers[0].send(_progress(index))
        for _ in range(limits.MAX_TCP_OUTBOX_MESSAGES - 10):
            assert isinstance(client.next_reply("follow"), Progress)
        assert client.hello("still").request_id == "still"


def test_a_dripped_frame_is_cut_at_its_deadline(served) -> None:
    """A byte every 0.2 s never lets the connection go idle; the frame deadline (1 s) cuts it."""
    server, _ = served
    payload = encode(Hello(request_id="drip"))
    with socket.create_connection(server.tcp_address, timeout=2) as drip:
        started = time.monotonic()
        closed_after = None
        for index in range(len(payload)):
            try:
                drip.send(payload[index:index + 1])
            except OSError:
                closed_after = time.monotonic() - started
                break
            time.sleep(0.2)
            if _closed_by_server(drip, within=0.01):
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None and closed_after < 2.5


def test_silent_and_dripping_connections_make_room_for_a_client() -> None:
    """Past the caps, the oldest connection without a request makes room; clients stay."""
    server = OscListener(Following(), udp_port=0, tcp_port=0)  # default 10 s deadline
    server.start()
    hogs: list[socket.socket] = []
    try:
        with EngineClient(*server.tcp_address, transport="tcp", timeout=3) as first:
            assert first.hello("first").request_id == "first"
            for index in range(limits.MAX_TCP_CONNECTIONS + 8):
                hog = socket.create_connection(server.tcp_address, timeout=2)
                if index % 2:
                    hog.sendall(b"/stemloom/hel")  # half a frame
                hogs.append(hog)
            time.sleep(0.3)
            asked = time.monotonic()
            with EngineClient(*server.tcp_address, transport="tcp", timeout=3) as fresh:
                assert fresh.hello("fresh").request_id == "fresh"
            assert time.monotonic() - asked < 1
            assert first.hello("first-again").request_id == "first-again"
        open_hogs = 0
        for hog in hogs:
            open_hogs += not _closed_by_server(hog, within=0.05)
        assert open_hogs <= limits.MAX_TCP_CONNECTIONS_PER_HOST
    finally:
        for hog in hogs:
            with contextlib.suppress(OSError):
                hog.close()
        server.stop()
