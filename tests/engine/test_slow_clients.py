"""Hostile TCP clients against a real engine process (issue #19, items 2 and 3): a client
that never reads does not stall other clients' jobs, and connections that drip bytes do not
lock other clients out."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from pathlib import Path

from bridge import limits
from bridge.client import EngineClient
from bridge.messages import Generate, Hello
from bridge.schema import encode
from bridge.slip import encode_frame
from stemloom.local_engine import LocalEngine

CLIENT_ID = "slow-clients-tests-0123456789"  # one user, two connections

def _is_closed(sock: socket.socket, within: float) -> bool:
    """Read (and discard) until the engine closes ``sock``; False if it is still open."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            continue
        except OSError:  # reset by the engine
            return True
    return False


def _is_dropped(sock: socket.socket, within: float) -> bool:
    """Whether the engine drops ``sock`` within ``within`` s, seen without reading a byte (a
    read would make the client a reader); then, for a close behind unread replies, by reading."""
    poller = select.poll()
    poller.register(sock, select.POLLHUP | select.POLLERR | select.POLLRDHUP)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(event & (select.POLLHUP | select.POLLERR | select.POLLRDHUP)
               for _, event in poller.poll(100)):
            return True
    return _is_closed(sock, within=3)


def _flood(sock: socket.socket, frames: bytes, seconds: float) -> None:
    """Send ``frames`` (and nothing more) until done, closed, or ``seconds`` pass."""
    sock.settimeout(seconds)
    with contextlib.suppress(OSError):  # closed by the engine, or it stopped reading
        sock.sendall(frames)


def test_a_client_that_never_reads_does_not_delay_another_clients_job(tmp_path: Path) -> None:
    with LocalEngine(tmp_path / "library", model="random-tiny", tcp=True) as engine:
        stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", engine.tcp_port))
        try:
            # Submit a job, then ask for far more replies than any buffer holds and never read
            # one: an engine that waits for its clients stalls sending this job's progress.
            frames = encode_frame(encode(Generate(request_id="stuck", prompt="x", bars=16,
                                                  stems=("drums",), client_id=CLIENT_ID)))
            frames += b"".join(encode_frame(encode(Hello(request_id=f"h{i}")))
                               for i in range(20000))
            flooder = threading.Thread(target=_flood, args=(stuck, frames, 15.0), daemon=True)
            flooder.start()
            time.sleep(0.5)
            with EngineClient(port=engine.tcp_port, transport="tcp", client_id=CLIENT_ID,
                              timeout=5) as other:
                submitted = time.monotonic()
                other.submit(Generate(request_id="other", prompt="x", bars=1, stems=("drums",)))
                other.wait("other", timeout=20, poll_interval=1.0)  # queued behind "stuck"
                latency = time.monotonic() - submitted
                assert other.hello("after").request_id == "after"
                assert _is_dropped(stuck, within=10), "the client that never reads stays"
                _, outcome = other.status("stuck")  # its job went on without it
                assert outcome is not None and outcome.ADDRESS == "/stemloom/done"
            flooder.join(timeout=20)
            assert latency < 20
        finally:
            stuck.close()


def test_forty_drip_connections_do_not_lock_out_a_fresh_client(tmp_path: Path) -> None:
    with LocalEngine(tmp_path / "library", model="random-tiny", tcp=True) as engine:
        payload = encode(Hello(request_id="drip"))  # sent a byte a second: never whole in time
        drips = [socket.create_connection(("127.0.0.1", engine.tcp_port), timeout=2)
                 for _ in range(40)]
        started = time.monotonic()
        try:
            stop = threading.Event()

            def drip() -> None:
                for index in range(len(payload)):
                    for sock in drips:
                        with contextlib.suppress(OSError):  # closed by the engine: the point
                            sock.send(payload[index:index + 1])
                    if stop.wait(1.0):
                        return

            dripper = threading.Thread(target=drip, daemon=True)
            dripper.start()
            time.sleep(2.0)  # every drip is mid-frame
            asked = time.monotonic()
            with EngineClient(port=engine.tcp_port, transport="tcp", timeout=3) as fresh:
                assert fresh.hello("fresh").request_id == "fresh"
                hello_latency = time.monotonic() - asked
                # Once the deadline has closed every drip, the client is still served.
                time.sleep(max(0.0, started + limits.TCP_FRAME_DEADLINE_S + 1.5
                               - time.monotonic()))
                open_drips = [s for s in drips if not _is_closed(s, within=1.0)]
                assert fresh.hello("still").request_id == "still"
            stop.set()
            dripper.join(timeout=5)
            assert hello_latency < 3
            assert not open_drips, f"{len(open_drips)} drips outlived the frame deadline"
        finally:
            for sock in drips:
                sock.close()
