"""Clean ends (#19 items 8, 9): an engine stopped by SIGTERM tells every queued and running
job's client before its sockets close and exits 0 at once; what a killed engine leaves is
swept at the next start; the token can stay off the command line; and every refusal has its
own stable code (the token first, bundles, over-size datagrams, bad SLIP escapes, over-long
or linked paths), while the CLI refuses --bpm 0 and a missing token file in plain words.

Real engine processes (random-tiny) and real sockets throughout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import limits
from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import OscListener
from bridge.messages import Fail, Generate, Hello, JobStatus, Preview, Progress
from bridge.schema import Message, decode, encode
from bridge.slip import BadFrame, SlipDecoder, encode_frame
from engine.server.library import ClipLibrary
from engine.server.service import UPLOADS_NAME, EngineService
from stemloom.cli import main as cli_main
from stemloom.local_engine import LocalEngine, free_port

# A job random-tiny needs minutes for (768 s of audio, frame by frame): it is still running
# whenever the test acts. Short jobs: one bar.
LONG = {"prompt": "drums", "bpm": 20.0, "bars": 64, "stems": ("drums",)}
SHORT = {"prompt": "drums", "bars": 1, "stems": ("drums",)}
CLIENT_ID = "clean-ends-tests-0123456789"  # the jobs' owner, whichever socket asks
# SIGTERM to exit: the engine's own bound is 10 s; it should need far less.
EXIT_WITHIN_S = 8.0


def _frames(sock: socket.socket, decoder: SlipDecoder, until: float) -> Iterator[Message | None]:
    """Replies read from a TCP socket, then one None at end of stream (the engine closed it)."""
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            yield None
            return
        for frame in decoder.feed(chunk):
            yield decode(frame)
    raise AssertionError("the engine neither replied nor closed the connection in time")


def _send_tcp(sock: socket.socket, message: Message) -> None:
    sock.sendall(encode_frame(encode(message)))


# ------------------------------------------------------------------------- item 8: SIGTERM


def test_sigterm_fails_running_and_queued_jobs_before_the_sockets_close(tmp_path) -> None:
    engine = LocalEngine(tmp_path / "library", model="random-tiny", tcp=True)
    engine.start()
    try:
        assert engine.tcp_port is not None
        with (
            socket.create_connection(("127.0.0.1", engine.tcp_port), timeout=5) as tcp,
            EngineClient(port=engine.udp_port, timeout=5) as udp,
        ):
            decoder = SlipDecoder(limits.MAX_TCP_FRAME)
            _send_tcp(tcp, Generate(request_id="running-job", **LONG))
            replies = _frames(tcp, decoder, time.monotonic() + 60)
            assert next(r for r in replies if isinstance(r, Progress)).stage  # it runs
            assert udp.submit(Generate(request_id="queued-job", **SHORT)).state == "queued"

            engine.process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            rest = list(_frames(tcp, decoder, stopped + EXIT_WITHIN_S))
            assert rest[-1] is None, "the engine must close the connection"
            fails = [r for r in rest if isinstance(r, Fail)]
            assert [(f.request_id, f.code) for f in fails] == [
                ("running-job", ErrorCode.SHUTTING_DOWN)]
            queued = udp.next_reply("queued-job", timeout=EXIT_WITHIN_S)
            assert isinstance(queued, Fail) and queued.code == ErrorCode.SHUTTING_DOWN
            assert engine.process.wait(timeout=EXIT_WITHIN_S) == 0
            assert time.monotonic() - stopped < EXIT_WITHIN_S
    finally:
        engine.stop()
    # The running job stopped at its next step and took its files with it.
    assert not (tmp_path / "library" / "running-job").exists()


# ------------------------------------------------------------------------- item 8: kill -9


def test_a_killed_engines_job_is_reported_interrupted_and_its_leftovers_swept(tmp_path) -> None:
    library = tmp_path / "library"
    with LocalEngine(library, model="random-tiny") as first:
        assert first.process is not None
        with EngineClient(port=first.udp_port, client_id=CLIENT_ID, timeout=5) as client:
            finished = client.wait(client.submit(Generate(request_id="finished", **SHORT))
                                   .request_id, timeout=60)
            client.submit(Generate(request_id="killed", **LONG))
            deadline = time.monotonic() + 60
            while not isinstance(client.next_reply("killed", timeout=60), Preview):
                assert time.monotonic() < deadline
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    job_dir = library / "killed"
    assert (job_dir / "preview.wav").is_file()  # what kill -9 leaves behind
    (job_dir / ".drums.wav.0badc0de.tmp").write_bytes(b"RIFF half a clip")  # a half-written file
    (library / "finished" / "preview.wav").write_bytes(b"stale")  # killed just after done
    finished_files = sorted(p.name for p in (library / "finished").iterdir())

    with LocalEngine(library, model="random-tiny") as second, \
            EngineClient(port=second.udp_port, client_id=CLIENT_ID, timeout=5) as client:
        state, outcome = client.status("killed")
        assert state.state == JobStatus.FAILED
        assert isinstance(outcome, Fail) and outcome.code == ErrorCode.INTERRUPTED
        state, outcome = client.status("finished")
        assert state.state == JobStatus.DONE and outcome == finished
        with pytest.raises(ProtocolError) as caught:  # its id stays taken
            client.submit(Generate(request_id="killed", **SHORT))
        assert caught.value.code == ErrorCode.DUPLICATE_ID
    assert sorted(p.name for p in job_dir.iterdir()) == ["job.json"]
    assert sorted(p.name for p in (library / "finished").iterdir()) == [
        n for n in finished_files if n != "preview.wav"]
    assert all(Path(path).is_file() for path in finished.stems.values())


def test_a_second_engine_on_a_live_library_sweeps_nothing(tmp_path) -> None:
    library = ClipLibrary(tmp_path / "library")
    running = library.root / "running"
    running.mkdir()
    (running / "job.json").write_text('{"job_id": "running", "state": "running"}')
    (running / "preview.wav").write_bytes(b"RIFF")
    assert library.claim()  # a live engine holds the library
    assert EngineService("random-tiny", ClipLibrary(library.root)).sweep() == []
    assert (running / "preview.wav").exists()


# --------------------------------------------------------------- item 8: the token's source


def _serve_with_token(tmp_path: Path, args: list[str], env: dict[str, str]
                      ) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "stemloom", "engine", "serve", "--port", str(port),
         "--library", str(tmp_path / "library"), "--model", "random-tiny", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env},
    )
    return process, port


@pytest.mark.parametrize("source", ["file", "env"])
def test_the_token_comes_from_a_file_or_the_environment_not_the_command_line(
    tmp_path, source
) -> None:
    secret = f"s3cret-from-{source}-{os.getpid()}"
    if source == "file":
        token_file = tmp_path / "token"
        token_file.write_text(secret + "\n")
        process, port = _serve_with_token(tmp_path, ["--token-file", str(token_file)], {})
    else:
        process, port = _serve_with_token(tmp_path, [], {"STEMLOOM_TOKEN": secret})
    try:
        with EngineClient(port=port, timeout=0.25, token=secret) as client:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None and time.monotonic() < deadline
                try:
                    client.hello()
                    break
                except EngineUnreachable:
                    continue
        with EngineClient(port=port, timeout=5) as stranger, \
                pytest.raises(ProtocolError) as caught:
            stranger.hello()
        assert caught.value.code == ErrorCode.UNAUTHORIZED
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert secret.encode() not in cmdline
        # A client command takes the token the same ways, never needing it on its own
        # command line.
        client_env = {**os.environ, "STEMLOOM_TOKEN": secret} if source == "env" else {
            k: v for k, v in os.environ.items() if k != "STEMLOOM_TOKEN"}
        client_args = ["--token-file", str(tmp_path / "token")] if source == "file" else []
        status = subprocess.run(
            [sys.executable, "-m", "stemloom", "host", "status", "--engine",
             f"127.0.0.1:{port}", *client_args], capture_output=True, text=True, timeout=60,
            env=client_env)
        assert status.returncode == 0, status.stderr
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_missing_token_file_is_a_plain_error(tmp_path, capsys) -> None:
    code = cli_main(["engine", "serve", "--token-file", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot read the token file" in err and "Traceback" not in err
    client = subprocess.run([sys.executable, "-m", "stemloom", "host", "status",
                             "--token-file", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=60)
    assert client.returncode == 2 and "cannot read the token file" in client.stderr
    assert "Traceback" not in client.stderr


# ------------------------------------------------------------------ item 9: refusal codes


@pytest.fixture()
def served(tmp_path) -> Iterator[tuple[OscListener, ClipLibrary]]:
    """A real service (not started: its jobs stay queued) behind a real listener."""
    library = ClipLibrary(tmp_path / "library")
    service = EngineService("random-tiny", library)
    listener = OscListener(service.handle, udp_port=0, tcp_port=0)
    listener.start()
    yield listener, library
    listener.stop()


def _refusal(client: EngineClient, request: Generate) -> str:
    with pytest.raises(ProtocolError) as caught:
        client.submit(request)
    return caught.value.code


def test_over_long_path_components_and_linked_ids_are_bad_arguments(served, tmp_path) -> None:
    listener, library = served
    outside = tmp_path / "outside"
    outside.mkdir()
    (library.root / "linked").symlink_to(outside, target_is_directory=True)
    with EngineClient(*listener.udp_address, timeout=5) as client:
        long_name = "/tmp/" + "a" * 300 + ".wav"
        assert _refusal(client, Generate(request_id="long-melody", prompt="x",
                                         melody=long_name)) == ErrorCode.BAD_ARGUMENT
        assert _refusal(client, Generate(request_id="long-ref", prompt="x",
                                         reference=long_name)) == ErrorCode.BAD_ARGUMENT
        assert _refusal(client, Generate(request_id="linked", prompt="x")) \
            == ErrorCode.BAD_ARGUMENT
        assert _refusal(client, Generate(request_id="keeps-linked", prompt="x",
                                         keep_from="linked")) == ErrorCode.BAD_ARGUMENT
        with pytest.raises(ProtocolError) as caught:
            client.status("linked")
        assert caught.value.code == ErrorCode.UNKNOWN_JOB
    assert list(outside.iterdir()) == []


def test_a_bad_slip_escape_serves_the_frames_before_it() -> None:
    good = encode_frame(encode(Hello(request_id="before")))
    with pytest.raises(BadFrame) as caught:
        SlipDecoder(limits.MAX_TCP_FRAME).feed(good + b"\xc0\xdb\x00\xc0")
    assert [decode(f).request_id for f in caught.value.frames] == ["before"]


def test_a_bad_slip_escape_over_tcp_answers_the_good_frames_then_bad_message(served) -> None:
    listener, _ = served
    assert listener.tcp_address is not None
    with socket.create_connection(listener.tcp_address, timeout=5) as sock:
        sock.sendall(encode_frame(encode(Hello(request_id="before")))
                     + b"\xc0/x\xdb\x00\xc0")
        replies = list(_frames(sock, SlipDecoder(limits.MAX_TCP_FRAME), time.monotonic() + 5))
    assert replies[0].request_id == "before" and not isinstance(replies[0], Fail)
    assert isinstance(replies[1], Fail) and replies[1].code == ErrorCode.BAD_MESSAGE
    assert replies[2:] == [None]


def _udp_exchange(address: tuple[str, int], data: bytes) -> Message:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(data, address)
        return decode(sock.recv(65536))


def _osc(address: str, *args: object) -> bytes:
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def test_an_over_size_datagram_is_refused_under_its_own_id(served) -> None:
    listener, _ = served
    data = _osc("/stemloom/hello", "big-one", "client", "x" * (limits.MAX_UDP_DATAGRAM + 10))
    reply = _udp_exchange(listener.udp_address, data)
    assert isinstance(reply, Fail) and reply.code == ErrorCode.TOO_LARGE
    assert reply.request_id == "big-one"


def test_a_bundle_is_refused_as_unsupported(served) -> None:
    listener, library = served
    bundle = OscBundleBuilder(IMMEDIATELY)
    for job_id in ("in-bundle-1", "in-bundle-2"):
        bundle.add_content(_message(Generate(request_id=job_id, **SHORT)))
    reply = _udp_exchange(listener.udp_address, bundle.build().dgram)
    assert isinstance(reply, Fail) and reply.code == ErrorCode.UNSUPPORTED
    assert reply.request_id == "in-bundle-1" and "bundle" in reply.message
    # Nothing but the (empty) upload area the service keeps from its start.
    assert [p.name for p in library.root.iterdir()] in ([], [UPLOADS_NAME])
    assert not any((library.root / UPLOADS_NAME).glob("*/*"))


def _message(message: Message) -> OscMessage:
    return OscMessage(encode(message))


def test_the_token_is_checked_before_anything_else() -> None:
    listener = OscListener(lambda request, replier: None, udp_port=0, token="right")
    listener.start()
    try:
        bad_bpm = _osc("/stemloom/generate", "no-token", "prompt", "x", "bpm", 0.0)
        unknown = _osc("/stemloom/nothing", "no-token-2")
        too_big = _osc("/stemloom/hello", "no-token-3", "client", "x" * 9000)
        bundle = OscBundleBuilder(IMMEDIATELY)
        bundle.add_content(_message(Hello(request_id="no-token-4")))
        for data in (bad_bpm, unknown, too_big, bundle.build().dgram, b"junk"):
            reply = _udp_exchange(listener.udp_address, data)
            assert isinstance(reply, Fail) and reply.code == ErrorCode.UNAUTHORIZED, data[:40]
        # With the token, the same bad request learns what is wrong with it.
        authorized = _osc("/stemloom/generate", "has-token", "prompt", "x", "bpm", 0.0,
                          "token", "right")
        reply = _udp_exchange(listener.udp_address, authorized)
        assert isinstance(reply, Fail) and reply.code == ErrorCode.BAD_ARGUMENT
    finally:
        listener.stop()


def test_bpm_zero_is_refused_by_the_cli_not_run_at_120(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        cli_main(["generate", "lofi drums", "--bpm", "0", "--dry-run"])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert "--bpm" in err and "Traceback" not in err


def test_a_corrupt_ardour_session_is_a_plain_error(tmp_path, capsys) -> None:
    session = tmp_path / "corrupt"
    session.mkdir()
    (session / "corrupt.ardour").write_text("<Session garbage")
    code = cli_main(["generate", "lofi drums", "--daw", "ardour", "--dest", str(session),
                     "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot open the ardour session" in err and "Traceback" not in err
