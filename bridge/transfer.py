"""Files over the protocol (v2), the client's side: upload an input, fetch a file of a job.

Both resume after a dropped connection. An upload first asks the engine how far the file got
(an empty chunk at offset 0) and sends the rest; its id is derived from the file's name and
content, so the same file sent again on a new connection continues the same upload. A fetch
keeps what arrived in a hidden part file beside the target, named after the file's sha256,
and asks for the rest by offset. A fetched file appears under its own name only whole and
matching its sha256 (renamed from the part file); every chunk is checked on arrival.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bridge import limits
from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Chunk, Fail, Fetch, HelloFiles, Upload, UploadReply
from bridge.schema import Message

# Upload chunks in flight: sent, their replies not yet read.
UPLOAD_WINDOW = 8
# Fetches kept in flight; the protocol allows two (see limits.FETCH_WINDOW_BYTES).
FETCHES_IN_FLIGHT = 2
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_PART_STEM = 60  # keep part names short: the target's name may be long already


class TransferError(Exception):
    """A file cannot travel as asked: too large, not there, or it changed while fetched."""


class FileChanged(TransferError):
    """The engine's file changed while it was being fetched (a preview rewritten)."""


@dataclass(frozen=True)
class Fetched:
    """A fetched file: where it is, its size, and how much was already there (resumed)."""

    path: Path
    size: int
    resumed_from: int


def upload_file(client: EngineClient, path: Path, files: HelloFiles,
                on_bytes: Callable[[int], None] | None = None) -> str:
    """Upload ``path`` to the engine (resuming an upload of the same file) and return what
    the engine calls it (a handle such as ``upload:<id>``; an older engine gave its path), to
    name in a generate request. TransferError for a file that is not there or over the
    engine's limit; ProtocolError for the engine's refusal."""
    try:
        size = path.stat().st_size
        if size > files.max_file_bytes:
            raise TransferError(f"{path} is {size} bytes; the engine takes files of at most "
                                f"{files.max_file_bytes}")
        data = path.read_bytes()
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    name = _upload_name(path)
    upload_id = "up-" + hashlib.sha256(f"{name}\0{digest}".encode()).hexdigest()[:24]
    base = Upload(request_id=upload_id, name=name, size=len(data), sha256=digest,
                  checksum=_EMPTY_SHA256)
    reply = _send_chunks(client, [base])  # how far did it get?
    step = min(files.chunk_bytes, limits.FILE_CHUNK_BYTES)
    stalled = 0
    while not reply.complete:
        start = reply.received
        reply = _send_window(client, base, data, start, step)
        stalled = 0 if reply.received > start else stalled + 1
        if stalled > 1:
            raise TransferError(f"the upload of {path} makes no progress at byte {start}")
        if on_bytes is not None:
            on_bytes(reply.received - start)
    return reply.path


def _send_window(client: EngineClient, base: Upload, data: bytes, start: int,
                 step: int) -> UploadReply:
    """Send the file from ``start`` with up to UPLOAD_WINDOW chunks unanswered (a new one
    goes as each reply comes); returns the last reply: the file complete, or where the engine
    wants the next byte when that is not where this client went on (then start again there)."""
    ends: deque[int] = deque()
    offset = start
    reply: UploadReply | None = None
    while True:
        while len(ends) < UPLOAD_WINDOW and offset < len(data):
            piece = data[offset:offset + step]
            client.send(dataclasses.replace(base, offset=offset, data=piece,
                                            checksum=hashlib.sha256(piece).hexdigest()))
            offset += len(piece)
            ends.append(offset)
        if not ends:
            if reply is None:  # nothing left to send, yet the engine did not say complete
                raise TransferError(f"the engine holds all {len(data)} bytes of "
                                    f"{base.name} but did not take the file")
            return reply
        reply = _reply(client, base.request_id)
        if reply.complete:
            _drain(client, base.request_id, len(ends) - 1)
            return reply
        if reply.received != ends.popleft():  # the engine holds less: resend from there
            _drain(client, base.request_id, len(ends))
            return reply


def fetch_file(client: EngineClient, job_id: str, name: str, target: Path,
               on_chunk: Callable[[Chunk], None] | None = None) -> Fetched:
    """Fetch the file ``name`` of the job ``job_id`` into ``target``, resuming from a part
    file an earlier, interrupted fetch left. FileChanged when the engine's file changed
    meanwhile; ProtocolError for the engine's refusal (not the client's job, no such file)."""
    fetch_id = f"fetch-{uuid.uuid4().hex[:16]}"
    try:
        return _fetch(client, fetch_id, job_id, name, target, on_chunk)
    finally:
        client.discard(fetch_id)  # a window's chunks may still be on their way


def _fetch(client: EngineClient, fetch_id: str, job_id: str, name: str, target: Path,
           on_chunk: Callable[[Chunk], None] | None) -> Fetched:
    client.send(Fetch(request_id=fetch_id, job=job_id, file=name, offset=0, length=0))
    head = _chunk(client, fetch_id)  # an empty chunk: the file's size and sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name[:_PART_STEM]}.{head.sha256[:16]}.part")
    discard_parts(target, keep=part)  # parts of other versions of the file: of no use now
    offset = part.stat().st_size if part.exists() else 0
    if offset > head.size:
        part.unlink()
        offset = 0
    resumed_from = offset
    with open(part, "ab") as out:
        asked = offset
        window_ends: deque[int] = deque()
        while offset < head.size:
            while len(window_ends) < FETCHES_IN_FLIGHT and asked < head.size:
                client.send(Fetch(request_id=fetch_id, job=job_id, file=name, offset=asked,
                                  length=limits.FETCH_WINDOW_BYTES))
                asked = min(head.size, asked + limits.FETCH_WINDOW_BYTES)
                window_ends.append(asked)
            chunk = _chunk(client, fetch_id)
            if chunk.sha256 != head.sha256 or chunk.size != head.size:
                part.unlink()  # a part of a version that is gone
                raise FileChanged(f"{name} of job {job_id} changed while it was fetched")
            if chunk.offset != offset or hashlib.sha256(chunk.data).hexdigest() != (
                    chunk.checksum):
                raise TransferError(f"{name}: a chunk at {chunk.offset} is out of order or "
                                    "does not match its checksum")
            out.write(chunk.data)
            offset += len(chunk.data)
            if on_chunk is not None:
                on_chunk(chunk)
            while window_ends and offset >= window_ends[0]:
                window_ends.popleft()
        out.flush()
        os.fsync(out.fileno())
    if _sha256_of(part) != head.sha256:
        part.unlink()
        raise TransferError(f"{name} of job {job_id} does not match its sha256; fetch it again")
    os.replace(part, target)
    return Fetched(target, head.size, resumed_from)


def discard_parts(target: Path, keep: Path | None = None) -> None:
    """Remove the part files an unfinished fetch of ``target`` left (but ``keep``)."""
    for part in target.parent.glob(f".{target.name[:_PART_STEM]}.*.part"):
        if part != keep:
            part.unlink(missing_ok=True)


def _send_chunks(client: EngineClient, chunks: list[Upload]) -> UploadReply:
    """Send upload chunks and return the engine's reply to the last one."""
    for chunk in chunks:
        client.send(chunk)
    _drain(client, chunks[0].request_id, len(chunks) - 1)
    return _reply(client, chunks[0].request_id)


def _reply(client: EngineClient, upload_id: str) -> UploadReply:
    reply = client.next_reply(upload_id)
    _raise_fail(reply)
    if not isinstance(reply, UploadReply):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "expected an upload reply", upload_id)
    return reply


def _drain(client: EngineClient, upload_id: str, count: int) -> None:
    """Read the replies to chunks already sent; a fail among them is raised."""
    for _ in range(count):
        _reply(client, upload_id)


def _chunk(client: EngineClient, fetch_id: str) -> Chunk:
    reply = client.next_reply(fetch_id)
    _raise_fail(reply)
    if not isinstance(reply, Chunk):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"expected a chunk, got {reply.ADDRESS}",
                            fetch_id)
    return reply


def _raise_fail(reply: Message | None) -> None:
    if isinstance(reply, Fail):
        raise ProtocolError(ErrorCode(reply.code), reply.message, reply.request_id)


def _upload_name(path: Path) -> str:
    """The name an upload travels under: the file's own, unless the engine would refuse it
    (hidden, too long, odd characters); then a plain one with the same extension."""
    name = path.name
    plain = (0 < len(name) <= limits.MAX_FILE_NAME_CHARS and not name.startswith(".")
             and name.isprintable() and "\\" not in name)
    return name if plain else f"input{path.suffix.lower()[:16]}"


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
