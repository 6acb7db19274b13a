"""What a client off the engine's machine hears, checked in process: fail messages with the
engine's paths rewritten (an upload's path becomes its handle), names in done replies for
every TCP peer that is not this machine whatever protocol it speaks, and paths for clients
on this machine (every 127.x address and ::1 are loopback, as ``ipaddress`` says)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge import limits
from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import Replier
from bridge.messages import Done, Generate, Hello
from bridge.schema import decode
from engine.server.library import ClipLibrary
from engine.server.naming import EnginePaths, NamingReplier, named_record
from engine.server.service import EngineService


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path, EnginePaths]:
    """A library reached through a link (given and resolved forms differ) and an engine
    folder, both hidden."""
    real = tmp_path / "real-library"
    (real / ".uploads").mkdir(parents=True)
    library = tmp_path / "library"
    library.symlink_to(real)
    engine_dir = tmp_path / "engine"
    return library, engine_dir, EnginePaths(library / ".uploads", (library, engine_dir))


@pytest.mark.parametrize(("said", "heard"), [
    ("melody: {lib}/.uploads/0123abcd/up-1/hum.wav is silent: record it again",
     "melody: upload:up-1 is silent: record it again"),
    ("no melody in {real}/.uploads/0123abcd/up-2/hum.wav: too quiet",
     "no melody in upload:up-2: too quiet"),
    ("could not read {lib}/job-1/drums.wav.", "could not read drums.wav."),
    ("model {engine}/weights/default/generator failed to load: bad file",
     "model generator failed to load: bad file"),
    ("{lib} is full", "the engine's folder is full"),
    ("melody: /nowhere/hum.wav does not exist", "melody: /nowhere/hum.wav does not exist"),
    ("{engine}2/hum.wav is silent", "{engine}2/hum.wav is silent"),  # another folder
])
def test_fail_messages_name_no_engine_path(paths: tuple[Path, Path, EnginePaths], said: str,
                                           heard: str) -> None:
    library, engine_dir, engine_paths = paths
    text = said.format(lib=library, real=library.resolve(), engine=engine_dir)
    assert engine_paths.scrub(text) == heard.format(engine=engine_dir)


def test_a_fetched_record_names_no_engine_path(paths: tuple[Path, Path, EnginePaths]) -> None:
    library, _, engine_paths = paths
    record = {"job_id": "j", "owner": "secret-owner", "state": "failed",
              "fail": {"code": "bad_argument",
                       "message": f"{library}/.uploads/k/up-9/hum.mid is not MIDI"}}
    seen = named_record(record, engine_paths)
    assert seen["fail"] == {"code": "bad_argument", "message": "upload:up-9 is not MIDI"}
    assert "owner" not in seen and record["owner"] == "secret-owner"


def _replier(peer: str, host: str, heard: list[bytes]) -> Replier:
    return Replier(heard.append, peer, limits.MAX_TCP_FRAME, host=host)


def _done(library: Path) -> Done:
    return Done(request_id="job", bpm=120.0, bars=1, time_signature="4/4", key="C major",
                sample_rate=32000, format="wav24", seed=1, loop=False, model="m",
                metadata=str(library / "job" / "job.json"),
                stems={"drums": str(library / "job" / "drums.wav")}, melody_midi="")


@pytest.fixture
def service(tmp_path: Path) -> EngineService:
    """A service that is never started: answering hello needs no model."""
    return EngineService("random-tiny", ClipLibrary(tmp_path / "library"))


@pytest.mark.parametrize(("peer", "host", "names"), [
    ("tcp:192.0.2.7:40000", "192.0.2.7", True),        # another machine, v1: names
    ("tcp:[2001:db8::7]:40000", "2001:db8::7", True),
    ("tcp:127.0.0.1:40000", "127.0.0.1", False),        # this machine, v1: paths
    ("tcp:127.0.0.2:40000", "127.0.0.2", False),
    ("tcp:[::1]:40000", "::1", False),
    ("udp:192.0.2.7:9000", "192.0.2.7", False),         # UDP v1: unchanged
])
def test_a_v1_tcp_client_off_this_machine_gets_names(service: EngineService, peer: str,
                                                     host: str, names: bool) -> None:
    heard: list[bytes] = []
    connection = _replier(peer, host, heard)
    service.handle(Hello(request_id="hello"), connection)  # says protocol 1
    service.recipient(connection).send(_done(service.library.root))
    done = decode(heard[-1])
    assert isinstance(done, Done)
    drums = str(service.library.root / "job" / "drums.wav")
    assert done.stems["drums"] == ("drums.wav" if names else drums)
    assert isinstance(service.recipient(connection), NamingReplier) == names


def test_a_refusal_to_a_remote_client_names_no_engine_path(tmp_path: Path) -> None:
    """An error raised while answering (no model: the message names the model's folder)
    reaches a remote client without the engine's folders; a loopback v1 client hears it
    unchanged."""
    models = tmp_path / "models" / "empty-generator"
    models.mkdir(parents=True)
    service = EngineService(str(models), ClipLibrary(tmp_path / "library"))
    service.model.load()  # no weights there: the model is missing
    request = Generate(request_id="g", prompt="x", bars=1)
    messages = {}
    for host in ("192.0.2.7", "127.0.0.1"):
        with pytest.raises(ProtocolError) as refused:
            service.handle(request, _replier(f"tcp:{host}:40000", host, []))
        assert refused.value.code == ErrorCode.NO_MODEL
        messages[host] = refused.value.message
    assert str(models) in messages["127.0.0.1"]
    assert str(tmp_path) not in messages["192.0.2.7"]
    assert "installed in the engine's folder (it needs" in messages["192.0.2.7"]
