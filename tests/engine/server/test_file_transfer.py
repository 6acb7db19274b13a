"""Files over the protocol (v2) against a real engine process: uploads and fetches resume,
bad chunks are not kept, limits hold, and files are one client's own."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bridge import limits
from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Generate, HelloFiles, Upload, UploadReply
from bridge.transfer import fetch_file, upload_file
from stemloom.local_engine import LocalEngine

OWNER = "file-transfer-tests-0123456789"
STRANGER = "file-transfer-stranger-0123456789"


def _tcp(engine: LocalEngine, client_id: str = OWNER) -> EngineClient:
    assert engine.tcp_port is not None
    return EngineClient(port=engine.tcp_port, transport="tcp", client_id=client_id,
                        timeout=10.0)


def _chunk(upload_id: str, data: bytes, offset: int, piece: bytes, **fields: object) -> Upload:
    values = {"request_id": upload_id, "name": "take.wav", "size": len(data),
              "sha256": hashlib.sha256(data).hexdigest(), "offset": offset, "data": piece,
              "checksum": hashlib.sha256(piece).hexdigest(), **fields}
    return Upload(**values)  # type: ignore[arg-type]


def _answer(client: EngineClient, request: Upload) -> UploadReply:
    client.send(request)
    reply = client.next_reply(request.request_id)
    if not isinstance(reply, UploadReply):
        raise ProtocolError(ErrorCode(getattr(reply, "code", "internal")),
                            getattr(reply, "message", ""), request.request_id)
    return reply


def test_hello_answers_v1_clients_as_v1_and_announces_files_to_v2(engine) -> None:
    with _tcp(engine) as client:
        assert client.hello().protocol == 1
        files = client.hello_files()
    assert files == HelloFiles(request_id="hello-files")  # the limits, as bridge.limits has them
    assert files.max_file_bytes == limits.MAX_INPUT_BYTES


def test_an_upload_resumes_on_a_new_connection(engine, tmp_path) -> None:
    data = os.urandom(5 * limits.FILE_CHUNK_BYTES + 123)
    take = tmp_path / "take.wav"
    take.write_bytes(data)
    with _tcp(engine) as client:
        files = client.hello_files()
        assert files is not None
        upload_id = "up-" + hashlib.sha256(b"take.wav\0" + hashlib.sha256(data).hexdigest()
                                           .encode()).hexdigest()[:24]
        half = 2 * limits.FILE_CHUNK_BYTES
        for offset in range(0, half, limits.FILE_CHUNK_BYTES):
            piece = data[offset:offset + limits.FILE_CHUNK_BYTES]
            assert _answer(client, _chunk(upload_id, data, offset, piece)).received == (
                offset + len(piece))
    sent: list[int] = []
    with _tcp(engine) as client:  # the connection dropped; the same client comes back
        path = upload_file(client, take, files, on_bytes=sent.append)
    assert sum(sent) == len(data) - half  # only the rest travelled
    assert path == f"upload:{upload_id}"  # a handle: nothing of the engine's disk
    (stored,) = (engine.library / ".uploads").glob(f"*/{upload_id}/take.wav")
    assert stored.read_bytes() == data
    with _tcp(engine) as client:  # the same file again: already there, nothing sent
        assert upload_file(client, take, files, on_bytes=sent.append) == path
    assert sum(sent) == len(data) - half


def test_a_bad_chunk_or_a_bad_whole_file_is_not_kept(engine) -> None:
    data = os.urandom(1000)
    with _tcp(engine) as client:
        with pytest.raises(ProtocolError) as caught:
            _answer(client, _chunk("up-bad-chunk", data, 0, data, checksum="0" * 64))
        assert caught.value.code == ErrorCode.CHECKSUM
        assert _answer(client, _chunk("up-bad-chunk", data, 0, b"")).received == 0
        with pytest.raises(ProtocolError) as caught:
            _answer(client, _chunk("up-bad-file", data, 0, data, sha256="1" * 64))
        assert caught.value.code == ErrorCode.CHECKSUM
        reply = _answer(client, _chunk("up-bad-file", data, 0, b"", sha256="1" * 64))
        assert (reply.received, reply.complete) == (0, False)
        with pytest.raises(ProtocolError) as caught:  # the id is taken by another file
            _answer(client, _chunk("up-bad-file", data[:10], 0, b""))
        assert caught.value.code == ErrorCode.DUPLICATE_ID


def test_uploads_are_bounded_before_a_byte_is_written(engine) -> None:
    with _tcp(engine, "file-transfer-quota-0123456789") as client:
        huge = _chunk("up-huge", b"", 0, b"", size=limits.MAX_INPUT_BYTES + 1)
        with pytest.raises(ProtocolError) as caught:
            _answer(client, huge)
        assert caught.value.code == ErrorCode.TOO_LARGE
        with pytest.raises(ProtocolError) as caught:
            _answer(client, _chunk("up-exe", b"x", 0, b"", name="tool.exe"))
        assert caught.value.code == ErrorCode.BAD_ARGUMENT
        for n in range(limits.MAX_UPLOADS):
            assert _answer(client, _chunk(f"up-{n}", b"x", 0, b"x")).complete
        with pytest.raises(ProtocolError) as caught:
            _answer(client, _chunk("up-one-more", b"x", 0, b"x"))
        assert caught.value.code == ErrorCode.TOO_LARGE
    assert not list((engine.library / ".uploads").rglob("huge*"))


def test_files_do_not_travel_over_udp(engine) -> None:
    udp = EngineClient(port=engine.udp_port, client_id=OWNER, timeout=10.0)
    with udp, pytest.raises(ProtocolError) as caught:
        _answer(udp, _chunk("up-udp", b"x", 0, b"x"))
    assert caught.value.code == ErrorCode.UNSUPPORTED


def test_a_fetch_resumes_from_its_part_file_and_is_the_owners_alone(engine, tmp_path) -> None:
    with _tcp(engine) as client:
        client.submit(Generate(request_id="fetch-me", prompt="piano", bars=1,
                               stems=("keys",), seed=3, format="float32"))
        done = client.wait("fetch-me", timeout=120)
        first = fetch_file(client, "fetch-me", "keys.wav", tmp_path / "a" / "keys.wav")
        original = Path(done.stems["keys"]).read_bytes()
        assert first.path.read_bytes() == original and first.resumed_from == 0
        digest = hashlib.sha256(original).hexdigest()
        # An earlier fetch that dropped left the first 100 kB.
        target = tmp_path / "b" / "keys.wav"
        target.parent.mkdir()
        (target.parent / f".keys.wav.{digest[:16]}.part").write_bytes(original[:100_000])
        (target.parent / ".keys.wav.0123456789abcdef.part").write_bytes(b"stale version")
        second = fetch_file(client, "fetch-me", "keys.wav", target)
        assert second.resumed_from == 100_000 and target.read_bytes() == original
        assert sorted(p.name for p in target.parent.iterdir()) == ["keys.wav"]
        with pytest.raises(ProtocolError) as caught:
            fetch_file(client, "fetch-me", "nothing.wav", tmp_path / "c.wav")
        assert caught.value.code == ErrorCode.BAD_ARGUMENT
    with _tcp(engine, STRANGER) as stranger, pytest.raises(ProtocolError) as caught:
        fetch_file(stranger, "fetch-me", "keys.wav", tmp_path / "d.wav")
    assert caught.value.code == ErrorCode.UNKNOWN_JOB
    assert not (tmp_path / "d.wav").exists()


def test_abandoned_uploads_of_any_client_expire_and_a_whole_part_is_finished(tmp_path) -> None:
    """The upload area itself (no socket needed): an upload left by another client (say one
    without a client_id, whose owner key never returns) is removed once stale when anyone
    uploads, with its emptied area; and a part that holds every byte but was never renamed
    (the engine died in between) is finished on the next chunk instead of stuck."""
    from engine.server.uploads import PART_NAME, UploadArea

    area = UploadArea(tmp_path / "uploads", (".wav",), retention_s=60.0)
    data = os.urandom(1000)
    reply = area.receive("gone-client-key", _chunk("old", data, 0, data))
    assert reply.complete
    old = area.folder("gone-client-key")
    stale = os.stat(old / "old").st_mtime - 3600
    for entry in (old / "old").iterdir():
        os.utime(entry, (stale, stale))
    area.receive("another-client-key", _chunk("new", data, 0, data[:10]))
    assert not old.exists()  # expired on another client's admission, area and all

    whole = area.folder("another-client-key") / "new"
    (whole / PART_NAME).write_bytes(data)  # every byte written, the rename never happened
    reply = area.receive("another-client-key", _chunk("new", data, 10, data[10:20]))
    assert reply.complete and reply.received == len(data)
    assert (whole / "take.wav").read_bytes() == data
