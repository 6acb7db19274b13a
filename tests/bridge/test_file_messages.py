"""Protocol v2's file messages on the wire: blobs, bounds, and v1 requests left unchanged."""

from __future__ import annotations

import hashlib

import pytest
from pythonosc.osc_message import OscMessage

from bridge import limits
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Chunk, Fetch, Hello, Upload
from bridge.schema import decode, encode

EMPTY = hashlib.sha256(b"").hexdigest()


def _upload(**fields: object) -> Upload:
    data = fields.pop("data", b"\xc0\xdb\x00 audio")
    assert isinstance(data, bytes)
    values = {"request_id": "up-1", "name": "hum.wav", "size": 100, "sha256": EMPTY,
              "data": data, "checksum": hashlib.sha256(data).hexdigest(), **fields}
    return Upload(**values)  # type: ignore[arg-type]


def test_a_chunk_travels_as_a_blob_and_comes_back_equal() -> None:
    upload = _upload()
    wire = encode(upload)
    assert b"\xc0\xdb\x00 audio" in wire
    type_tags = wire.split(b",", 1)[1].split(b"\0", 1)[0]
    assert type_tags.count(b"b") == 1
    assert decode(wire) == upload


def test_an_empty_chunk_leaves_its_data_out() -> None:
    empty = _upload(data=b"")
    assert b"data" not in encode(empty)
    assert decode(encode(empty)) == empty
    chunk = Chunk(request_id="f", file="drums.wav", size=0, sha256=EMPTY, offset=0,
                  checksum=EMPTY)
    assert decode(encode(chunk)) == chunk


def test_a_v1_hello_is_sent_exactly_as_before() -> None:
    """A hello that does not ask for v2 carries no protocol key, so a v1 engine takes it."""
    params = OscMessage(encode(Hello(request_id="h"))).params
    assert "protocol" not in params
    asked = OscMessage(encode(Hello(request_id="h", protocol=2))).params
    assert asked[asked.index("protocol") + 1] == 2


@pytest.mark.parametrize("name", ["../etc/passwd", ".hidden.wav", "a/b.wav", "a\\b.wav",
                                  "x" * (limits.MAX_FILE_NAME_CHARS + 1), "", "nul\0.wav"])
def test_file_names_must_be_plain(name: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        encode(_upload(name=name))
    assert caught.value.code == ErrorCode.BAD_ARGUMENT
    with pytest.raises(ProtocolError):
        encode(Fetch(request_id="f", job="j", file=name))


def test_chunks_and_fetches_are_bounded() -> None:
    with pytest.raises(ProtocolError, match="at most"):
        encode(_upload(data=bytes(limits.FILE_CHUNK_BYTES + 1)))
    with pytest.raises(ProtocolError, match="length"):
        encode(Fetch(request_id="f", job="j", file="a.wav",
                     length=limits.FETCH_WINDOW_BYTES + 1))
    with pytest.raises(ProtocolError, match="sha256"):
        encode(_upload(sha256="ABC"))
    biggest = _upload(data=bytes(range(256)) * (limits.FILE_CHUNK_BYTES // 256))
    assert len(encode(biggest)) < limits.MAX_TCP_FRAME


def test_a_blob_where_a_string_belongs_is_refused() -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address="/stemloom/upload")
    for arg in ("up-1", "name", b"blob", "size", 1, "sha256", EMPTY, "checksum", EMPTY):
        builder.add_arg(arg)
    with pytest.raises(ProtocolError) as caught:
        decode(builder.build().dgram)
    assert caught.value.code == ErrorCode.BAD_ARGUMENT and "name" in caught.value.message


def test_a_discarded_fetch_drops_its_late_chunks_and_keeps_others() -> None:
    """A fetch cut short (its file changed) may still have a window of chunks on the way:
    once discarded, they are dropped as they arrive instead of piling up unread."""
    import socket

    from bridge.client import EngineClient, EngineUnreachable

    engine = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    engine.bind(("127.0.0.1", 0))
    with EngineClient("127.0.0.1", engine.getsockname()[1], timeout=2.0) as client:
        client.discard("fetch-late")
        for fetch_id in ("fetch-late", "fetch-live"):
            data = b"x" * 10
            chunk = Chunk(request_id=fetch_id, file="drums.wav", size=10,
                          sha256=hashlib.sha256(data).hexdigest(), offset=0, data=data,
                          checksum=hashlib.sha256(data).hexdigest())
            engine.sendto(encode(chunk), client._sock.getsockname())
        assert isinstance(client.next_reply("fetch-live", timeout=2.0), Chunk)
        with pytest.raises(EngineUnreachable):
            client.next_reply("fetch-late", timeout=0.2)
    engine.close()
