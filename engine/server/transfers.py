"""Files over the protocol (v2), the engine's side: a fetch answered by checksummed chunks.

The service checks who asks (the job must be the client's own) and that the request came
over TCP; this module reads the asked range of one file of the job's folder, never through a
link, and cuts it into chunks that each fit one frame.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bridge import limits
from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import Replier
from bridge.messages import Chunk, Fetch, Request
from engine.server.library import ClipLibrary, OutsideLibrary


def require_stream(request: Request, replier: Replier) -> None:
    """Refuse a file request that came over UDP: files travel over TCP only."""
    if not replier.peer.startswith("tcp:"):
        raise ProtocolError(ErrorCode.UNSUPPORTED, "files travel over TCP only (engine serve "
                            "--tcp-port; the client's --transport tcp)", request.request_id)


def fetch_chunks(library: ClipLibrary, job_dir: Path, fetch: Fetch) -> list[Chunk]:
    """The chunks answering ``fetch`` for a file of the job folder ``job_dir``: its range cut
    at the file's end, or one empty chunk when the range starts at or past it."""
    try:
        data, size, digest = library.read_range(job_dir / fetch.file, fetch.offset,
                                                fetch.length)
    except (OSError, OutsideLibrary):
        raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"file: job {fetch.job!r} has no file "
                            f"{fetch.file!r} (a preview is gone once the job is done)",
                            fetch.request_id) from None
    step = limits.FILE_CHUNK_BYTES
    pieces = [data[at:at + step] for at in range(0, len(data), step)] or [b""]
    start = min(fetch.offset, size)
    chunks = []
    for index, piece in enumerate(pieces):
        chunks.append(Chunk(request_id=fetch.request_id, file=fetch.file, size=size,
                            sha256=digest, offset=start + index * step, data=piece,
                            checksum=hashlib.sha256(piece).hexdigest()))
    return chunks
