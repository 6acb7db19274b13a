"""Nothing a client sends stops the engine or writes outside its clip library."""

from __future__ import annotations

import os
import socket
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import limits
from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Fail, Generate
from bridge.schema import decode, registered
from tests.conftest import library_files

_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=60)
_PATHLIKE = st.sampled_from(
    ["../../escape", "/etc/passwd", "..", ".", "a/../../b", "~/x", "C:\\x", "%2e%2e%2f", ""]
)


def _datagram(address: str, args: list) -> bytes:
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


_ARGS = st.lists(
    st.one_of(
        _TEXT,
        _PATHLIKE,
        st.integers(-(2**31), 2**31 - 1),
        st.floats(width=32, allow_nan=True),
        st.booleans(),
        st.binary(min_size=1, max_size=30),
    ),
    max_size=10,
)
_FIELD_NAMES = st.sampled_from(
    ["prompt", "bpm", "bars", "stems", "melody", "key", "seed", "format", "reply_port", "token"]
)


def test_random_datagrams_and_requests_never_stop_the_engine(engine, tmp_path) -> None:
    outside_before = set(os.listdir(tmp_path))
    before = library_files(engine.library)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.05)
        target = ("127.0.0.1", engine.udp_port)

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            st.one_of(
                st.binary(max_size=400),
                st.builds(
                    _datagram, st.sampled_from([*sorted(registered()), "/x", "/stemloom"]), _ARGS
                ),
                st.builds(
                    lambda pairs: _datagram("/stemloom/generate", ["../evil", *sum(pairs, ())]),
                    st.lists(st.tuples(_FIELD_NAMES, st.one_of(_TEXT, _PATHLIKE)), max_size=5),
                ),
            )
        )
        def fire(data: bytes) -> None:
            sock.sendto(data, target)
            try:  # drain whatever came back; every reply must be a valid message
                while True:
                    decode(sock.recv(65536))
            except TimeoutError:
                pass

        fire()
    with EngineClient(port=engine.udp_port, timeout=10) as client:
        assert client.hello().model_state == "ready"
    new_files = library_files(engine.library) - before
    assert all(p.is_relative_to(engine.library) for p in new_files)
    assert set(os.listdir(tmp_path)) == outside_before


def test_path_traversal_in_every_path_like_field(engine) -> None:
    with EngineClient(port=engine.udp_port, timeout=10) as client:
        for bad_id in ("../outside", "..", "/abs", "a/b", ".hidden", "x\\y"):
            client._sock.sendto(
                _datagram("/stemloom/generate", [bad_id, "prompt", "x"]),
                ("127.0.0.1", engine.udp_port),
            )
            reply = client.next_reply(bad_id)
            assert isinstance(reply, Fail) and reply.code == ErrorCode.BAD_ARGUMENT
        for n, melody in enumerate(
            ["../../etc/passwd.wav", "/etc/shadow", str(engine.library / ".." / "x.mid")]
        ):
            try:
                client.submit(Generate(request_id=f"trav-{n}", prompt="x", melody=melody))
            except ProtocolError as exc:
                assert exc.code == ErrorCode.BAD_ARGUMENT
            else:
                raise AssertionError(f"melody {melody!r} was accepted")
        for status_id in ("../../etc", "..."):
            client._sock.sendto(
                _datagram("/stemloom/status", [status_id]), ("127.0.0.1", engine.udp_port)
            )
            assert isinstance(client.next_reply(status_id), Fail)
    assert not (engine.library.parent / "outside").exists()


def test_oversized_packets_are_refused(engine) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        huge = _datagram("/stemloom/generate", ["big", "prompt", "x" * (limits.MAX_UDP_DATAGRAM)])
        sock.sendto(huge, ("127.0.0.1", engine.udp_port))
        reply = decode(sock.recv(65536))
    assert isinstance(reply, Fail) and reply.code == ErrorCode.TOO_LARGE
    with EngineClient(port=engine.udp_port, timeout=5) as client:
        with_long_prompt = Generate(request_id="long", prompt="p" * (limits.MAX_PROMPT_CHARS + 1))
        try:
            client.submit(with_long_prompt)
        except ProtocolError as exc:
            assert exc.code == ErrorCode.BAD_ARGUMENT


def test_tcp_client_that_never_ends_its_frame(engine) -> None:
    with socket.create_connection(("127.0.0.1", engine.tcp_port)) as hostile:
        hostile.sendall(b"\xc0/stemloom/hello\x00\x00\x00\x00,s\x00\x00")  # and then nothing
        with EngineClient(port=engine.tcp_port, transport="tcp", timeout=5) as client:
            assert client.hello("meanwhile").request_id == "meanwhile"
        hostile.sendall(b"z" * (2 * limits.MAX_TCP_FRAME + 1))
        hostile.settimeout(10)
        received = b""
        try:
            while chunk := hostile.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    assert b"too_large" in received
    with EngineClient(port=engine.tcp_port, transport="tcp", timeout=5) as client:
        assert client.hello("after").request_id == "after"


def test_many_clients_at_once(engine) -> None:
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            transport, port = ("udp", engine.udp_port) if n % 2 else ("tcp", engine.tcp_port)
            with EngineClient(port=port, transport=transport, timeout=10) as client:
                for i in range(25):
                    if i % 5 == 0:
                        try:
                            client.status(f"none-{n}-{i}")
                        except ProtocolError as exc:
                            assert exc.code == ErrorCode.UNKNOWN_JOB
                    else:
                        assert client.hello(f"m{n}-{i}").request_id == f"m{n}-{i}"
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(12)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    assert time.monotonic() - started < 120
