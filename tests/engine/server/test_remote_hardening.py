"""Uploads on an engine that serves several clients: a finished upload is named by a handle
that is the uploader's alone and says nothing of the engine's disk; an upload a waiting job
needs outlives its hour; and one client's large file being checked does not stall the
chunks of another (random-tiny model, real sockets, except where the upload area alone
shows it)."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import limits
from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Done, Generate, Upload
from bridge.transfer import upload_file
from engine.server import uploads
from engine.server.uploads import UploadArea
from stemloom.local_engine import LocalEngine
from tests.engine.server.host_checks import _one_note_midi

# Runs long enough to hold the only worker while the test looks (cancelled at the end).
LONG: dict[str, Any] = {"prompt": "drone", "bars": 64, "bpm": 20.0, "stems": ("pads",)}
HOUR_AGO = 2 * limits.UPLOAD_RETENTION_S


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    with LocalEngine(tmp_path_factory.mktemp("hardening") / "library", model="random-tiny",
                     tcp=True) as running:
        yield running


def _tcp(engine: LocalEngine, client_id: str) -> EngineClient:
    assert engine.tcp_port is not None
    return EngineClient(port=engine.tcp_port, transport="tcp", client_id=client_id,
                        timeout=10.0)


def _tune(folder: Path, name: str = "tune.mid") -> Path:
    tune = folder / name
    tune.write_bytes(_one_note_midi() + secrets.token_bytes(8))  # trailing bytes: a new file
    return tune


def _stored(engine: LocalEngine, handle: str) -> Path:
    (folder,) = (engine.library / ".uploads").glob(f"*/{handle.removeprefix('upload:')}")
    return folder


def _age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    for entry in folder.iterdir():
        os.utime(entry, (then, then))


def _until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_handle_says_nothing_of_the_engines_disk_and_is_the_uploaders_alone(
        engine: LocalEngine, tmp_path: Path) -> None:
    owner, stranger = secrets.token_hex(16), secrets.token_hex(16)
    with _tcp(engine, owner) as client:
        files = client.hello_files()
        assert files is not None
        handle = upload_file(client, _tune(tmp_path), files)
    assert handle.startswith("upload:") and "/" not in handle
    assert str(engine.library.resolve()) not in handle
    with _tcp(engine, stranger) as other, pytest.raises(ProtocolError) as caught:
        other.submit(Generate(request_id="strangers-melody", prompt="piano", bars=1,
                              stems=("keys",), melody=handle))
    assert caught.value.code == ErrorCode.BAD_ARGUMENT and "melody" in caught.value.message
    for not_a_handle in ("upload:../x", "upload:", "upload:up-never-sent"):
        with _tcp(engine, owner) as client, pytest.raises(ProtocolError) as caught:
            client.submit(Generate(request_id="bad-handle", prompt="piano", bars=1,
                                   stems=("keys",), melody=not_a_handle))
        assert caught.value.code == ErrorCode.BAD_ARGUMENT
    with _tcp(engine, owner) as client:
        client.submit(Generate(request_id="owners-melody", prompt="piano", bars=1,
                               stems=("keys",), melody=handle, seed=1))
        done = client.wait("owners-melody", timeout=120)
    assert isinstance(done, Done) and done.melody_midi  # the engine heard the tune
    record = (engine.library / "owners-melody" / "job.json").read_text()
    assert handle in record and ".uploads" not in record  # the record keeps the handle


def test_an_upload_a_waiting_job_names_outlives_its_hour(engine: LocalEngine,
                                                         tmp_path: Path) -> None:
    owner, busy = secrets.token_hex(16), secrets.token_hex(16)
    with _tcp(engine, busy) as holder, _tcp(engine, owner) as client:
        files = client.hello_files()
        assert files is not None
        try:
            holder.submit(Generate(request_id="holds-the-worker", **LONG))
            _until(lambda: holder.status("holds-the-worker")[0].state.value == "running")
            needed = upload_file(client, _tune(tmp_path, "needed.mid"), files)
            unneeded = upload_file(client, _tune(tmp_path, "unneeded.mid"), files)
            ack = client.submit(Generate(request_id="waits-for-its-tune", prompt="piano",
                                         bars=1, stems=("keys",), melody=needed, seed=2))
            assert ack.state.value == "queued"
            for handle in (needed, unneeded):  # both untouched for two hours, as it were
                _age(_stored(engine, handle), HOUR_AGO)
            # Another client's new upload sweeps every area.
            with _tcp(engine, secrets.token_hex(16)) as third:
                upload_file(third, _tune(tmp_path, "sweeper.mid"), files)
            assert not list((engine.library / ".uploads").glob(
                f"*/{unneeded.removeprefix('upload:')}"))  # the sweep ran
            assert (_stored(engine, needed) / "needed.mid").is_file()
        finally:
            holder.cancel("holds-the-worker")
        done = client.wait("waits-for-its-tune", timeout=120)
        assert isinstance(done, Done) and done.melody_midi
    # Its job over, the old upload goes at the next sweep like any other.
    with _tcp(engine, secrets.token_hex(16)) as third:
        upload_file(third, _tune(tmp_path, "sweeper-2.mid"), files)
    assert not list((engine.library / ".uploads").glob(f"*/{needed.removeprefix('upload:')}"))


def _chunks(upload_id: str, data: bytes) -> list[Upload]:
    step = limits.FILE_CHUNK_BYTES
    digest = hashlib.sha256(data).hexdigest()
    return [Upload(request_id=upload_id, name="take.wav", size=len(data), sha256=digest,
                   offset=at, data=data[at:at + step],
                   checksum=hashlib.sha256(data[at:at + step]).hexdigest())
            for at in range(0, len(data), step)]


def test_a_file_being_checked_holds_back_neither_other_clients_nor_expiry_of_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload area alone: while one client's whole file is being hashed (held there by
    the test, as a 50 MB file on a slow disk would be), another client's chunks are answered,
    and a sweep passes over the file being checked however old it looks."""
    area = UploadArea(tmp_path / "uploads", (".wav",))
    hashing, release = threading.Event(), threading.Event()
    real_sha256 = uploads._sha256_of

    def held_sha256(path: Path) -> str:
        if "big" in path.parts:  # client A's file only
            hashing.set()
            assert release.wait(30)
        return real_sha256(path)

    monkeypatch.setattr(uploads, "_sha256_of", held_sha256)
    data = os.urandom(3 * limits.FILE_CHUNK_BYTES + 7)
    *head, last = _chunks("big", data)
    for chunk in head:
        area.receive("client-a", chunk)
    finished: list[Any] = []
    finisher = threading.Thread(target=lambda: finished.append(area.receive("client-a", last)))
    finisher.start()
    try:
        assert hashing.wait(10)
        answered: list[Any] = []
        other = threading.Thread(target=lambda: answered.append(
            area.receive("client-b", _chunks("small", b"x" * 100)[0])))
        other.start()
        other.join(10)
        assert not other.is_alive(), "another client's chunk waited for the hash"
        assert answered[0].received == 100
        _age(area.folder("client-a") / "big", HOUR_AGO)
        assert area.sweep() == 0  # the file being checked is in use, whatever its age
    finally:
        release.set()
        finisher.join(30)
    assert finished[0].complete and finished[0].path == "upload:big"
    assert (area.folder("client-a") / "big" / "take.wav").read_bytes() == data
