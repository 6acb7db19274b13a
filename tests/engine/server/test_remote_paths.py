"""A remote client (protocol 2 over TCP) never learns where the engine keeps its files.

Every byte the engine sends such a client for a whole job goes through a relay that keeps it:
hello, ack, progress, the previews, a reconnect's status and done, the chunks of every file
fetched (``job.json`` too), and the errors that hostile or mistaken requests get. None may
hold the engine's folder (its library's path, or any path under the engine's home), nor its
owner key (the engine names its upload folders from it). The same scan of a v1 connection on
the engine's machine finds the library path in its done: the v1 replies are unchanged, and
the scan can fail. A job that fails on its uploaded input (a silent hum: the melody's error
names its file) is scanned the same way. Random-tiny model, real engine process, real sockets.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge import limits
from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Done, Fail, Generate, Preview
from bridge.schema import Message, decode
from bridge.slip import SlipDecoder, encode_frame
from bridge.transfer import fetch_file
from plugin_host.remote import RemoteEngine
from stemloom.local_engine import LocalEngine
from tests.engine.server.relay import Relay

OWNER = "remote-paths-owner-0123456789"
STRANGER = "remote-paths-stranger-0123456789"
STEMS = ("drums", "bass")
# Names a hostile client asks for in its own job's folder: out of it, hidden, or odd.
HOSTILE_NAMES = ("../job.json", "..", ".", "/etc/passwd", "sub/drums.wav", "..\\job.json",
                 ".hidden", "drums.wav/..", "%2e%2e%2fjob.json", "x" * 300, "leak.wav",
                 "nothing.wav")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    home = tmp_path_factory.mktemp("remote-paths") / "engine"
    with LocalEngine(home / "library", model="random-tiny", tcp=True) as running:
        yield running


@pytest.fixture
def relay(engine: LocalEngine) -> Iterator[Relay]:
    assert engine.tcp_port is not None
    relaying = Relay(engine.tcp_port)
    yield relaying
    relaying.close()


def _hum(path: Path) -> None:
    """Two seconds of a sung-like line at 16 kHz."""
    rate = 16000
    freqs = np.repeat([220.0, 261.6], rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.3 * np.sin(2 * np.pi * np.cumsum(freqs) / rate), rate)


def _secrets(engine: LocalEngine) -> list[bytes]:
    """What a remote client must never hear: the engine's folder (the library's parent, as
    given and resolved) and the owner key the engine recorded for the job."""
    home = engine.library.parent
    record = json.loads((engine.library / "remote-job" / "job.json").read_text())
    return [str(home).encode(), str(home.resolve()).encode(), record["owner"].encode()]


def _raw(sock: socket.socket, decoder: SlipDecoder, address: str, request_id: str,
         last: tuple[str, ...] = ("/stemloom/fail", "/stemloom/chunk"),
         **fields: object) -> list[Message]:
    """Send a request built by hand (no client-side check, as a hostile client would) and
    return the replies that echo its id, up to one whose address is among ``last``."""
    builder = OscMessageBuilder(address=address)
    builder.add_arg(request_id, "s")
    for key, value in {"client_id": OWNER, **fields}.items():
        builder.add_arg(key, "s")
        builder.add_arg(value)
    sock.sendall(encode_frame(builder.build().dgram))
    replies: list[Message] = []
    while not replies or replies[-1].ADDRESS not in last:
        for frame in decoder.feed(sock.recv(65536)):
            message = decode(frame)
            if message.request_id == request_id:
                replies.append(message)
    return replies


def test_a_remote_client_hears_file_names_never_the_engines_paths(
        engine: LocalEngine, relay: Relay, tmp_path: Path) -> None:
    hum = tmp_path / "host" / "hum.wav"
    _hum(hum)
    folder = tmp_path / "host" / "clips" / "remote-job"

    def connect() -> EngineClient:
        return EngineClient(port=relay.port, transport="tcp", client_id=OWNER, timeout=10.0)

    previews: list[Preview] = []

    def heard_preview(preview: Preview) -> None:
        previews.append(preview)
        if len(previews) == 1:  # the job goes on; the client follows it on a new connection
            relay.cut()

    with RemoteEngine(connect, retry_wait_s=0.1) as remote:
        done = remote.run(Generate(request_id="remote-job", prompt="dreamy synthwave", bars=2,
                                   stems=STEMS, melody=str(hum), seed=7),
                          folder, timeout=120, on_preview=heard_preview)
        reconnects = remote.reconnects
    assert previews and reconnects >= 1
    assert sorted(done.stems) == sorted(STEMS)
    for path in (*done.stems.values(), done.melody_midi, done.metadata):
        assert Path(path).parent == folder and Path(path).is_file()

    # Asked again on a new v2 connection: status, the job list, and its done reply.
    with connect() as client:
        assert client.hello_files() is not None
        state, outcome = client.status("remote-job")
        assert state.state == "done" and isinstance(outcome, Done)
        assert outcome.stems == {stem: f"{stem}.wav" for stem in STEMS}
        assert (outcome.metadata, outcome.melody_midi) == ("job.json", "melody.mid")
        assert "remote-job" in client.jobs().jobs
        # Mistakes get errors, which must not name the engine's folders either.
        for mistaken in (
            Generate(request_id="bad-input", prompt="x", bars=1, melody="/nowhere/hum.wav"),
            Generate(request_id="bad-handle", prompt="x", bars=1, melody="upload:up-nothing"),
            Generate(request_id="bad-keep", prompt="x", bars=1, keep_from="not-a-job"),
            Generate(request_id="remote-job", prompt="another", bars=1),
        ):
            with pytest.raises(ProtocolError):
                client.submit(mistaken)
        with pytest.raises(ProtocolError) as unknown:
            client.status("not-a-job")
        assert unknown.value.code == ErrorCode.UNKNOWN_JOB

    # Hostile names: each is refused, and nothing is sent from outside the job's folder.
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"the engine's secret")
    os.symlink(outside, engine.library / "remote-job" / "leak.wav")
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as sock:
        decoder = SlipDecoder(limits.MAX_TCP_FRAME)
        _raw(sock, decoder, "/stemloom/hello", "hello-v2", ("/stemloom/hello/files",),
             protocol=2)
        for index, name in enumerate(HOSTILE_NAMES):
            (answer,) = _raw(sock, decoder, "/stemloom/fetch", f"hostile-{index}",
                             job="remote-job", file=name, offset=0, length=4096)
            assert isinstance(answer, Fail), name
            assert answer.code == ErrorCode.BAD_ARGUMENT, (name, answer)
        for index, job in enumerate(("..", "../remote-job", ".uploads", "remote-job/..")):
            (answer,) = _raw(sock, decoder, "/stemloom/fetch", f"hostile-job-{index}",
                             job=job, file="job.json", offset=0, length=4096)
            assert isinstance(answer, Fail), job
    with EngineClient(port=relay.port, transport="tcp", client_id=STRANGER,
                      timeout=10.0) as stranger:
        stranger.hello_files()
        with pytest.raises(ProtocolError) as theirs:
            stranger.status("remote-job")
        assert theirs.value.code == ErrorCode.UNKNOWN_JOB

    heard = bytes(relay.from_engine)
    assert b"/stemloom/done" in heard and b"/stemloom/preview" in heard
    assert b"the engine's secret" not in heard
    for secret in _secrets(engine):
        assert secret not in heard, f"a remote client heard {secret!r}"
        for fetched in folder.iterdir():
            assert secret not in fetched.read_bytes(), f"{fetched.name} holds {secret!r}"
    record = json.loads((folder / "job.json").read_text())
    assert record["done"]["stems"] == {stem: f"{stem}.wav" for stem in STEMS}
    assert record["request"]["melody"].startswith("upload:")
    # The engine's own record is unchanged: a v1 client on its machine reads paths there.
    kept = json.loads((engine.library / "remote-job" / "job.json").read_text())
    assert kept["done"]["stems"]["drums"] == str(engine.library.resolve() / "remote-job"
                                                 / "drums.wav")


def test_a_v1_connection_on_the_engines_machine_still_gets_paths(
        engine: LocalEngine, relay: Relay) -> None:
    """The scan's control: a client that never says protocol 2 hears the library path."""
    with EngineClient(port=relay.port, transport="tcp", client_id=OWNER,
                      timeout=10.0) as client:
        assert client.hello().protocol == 1
        client.submit(Generate(request_id="v1-job", prompt="piano", bars=1, stems=("keys",)))
        done = client.wait("v1-job", timeout=120)
    library = str(engine.library.resolve())
    assert done.stems["keys"] == f"{library}/v1-job/keys.wav"
    assert Path(done.stems["keys"]).is_file()
    assert library.encode() in bytes(relay.from_engine)


def test_a_remote_client_hears_no_engine_path_when_its_job_fails(
        engine: LocalEngine, relay: Relay, tmp_path: Path) -> None:
    """A silent hum, uploaded: the job fails in the melody reader, whose error names the
    file's path in the upload area; the client hears the upload's handle instead, in the
    fail, in a later status, and in anything it may fetch of the job."""
    silent = tmp_path / "host" / "silent.wav"
    silent.parent.mkdir(parents=True)
    sf.write(silent, np.zeros(32000), 16000)

    def connect() -> EngineClient:
        return EngineClient(port=relay.port, transport="tcp", client_id=OWNER, timeout=10.0)

    with RemoteEngine(connect, retry_wait_s=0.1) as remote, pytest.raises(ProtocolError) as fail:
        remote.run(Generate(request_id="silent-job", prompt="lofi", bars=1, stems=("keys",),
                            melody=str(silent), seed=3), tmp_path / "clips", timeout=120)
    assert fail.value.code == ErrorCode.BAD_ARGUMENT
    assert "silent" in fail.value.message and "upload:" in fail.value.message
    with connect() as client:
        client.hello_files()
        state, outcome = client.status("silent-job")
        assert state.state == "failed" and isinstance(outcome, Fail)
        assert outcome.message == fail.value.message
        with pytest.raises(ProtocolError) as no_record:  # a failed job leaves no folder
            fetch_file(client, "silent-job", "job.json", tmp_path / "job.json")
        assert no_record.value.code == ErrorCode.BAD_ARGUMENT

    heard = bytes(relay.from_engine)
    assert b"/stemloom/fail" in heard
    home = engine.library.parent
    for secret in (str(home), str(home.resolve()), "/.uploads/"):
        assert secret.encode() not in heard, f"a remote client heard {secret!r}"
