"""Files over the protocol (v2), the engine's side: a fetch answered by checksummed chunks.

The service checks who asks (the job must be the client's own) and that the request came
over TCP; this module reads the asked range of one file of the job's folder, never through a
link, and cuts it into chunks that each fit one frame. The name is a plain file name (the
schema refuses folders, leading dots and NULs), looked up in that folder alone. The job's
record (``job.json``) travels as a remote client sees it (``engine.server.naming``): its
``done`` entry names the job's files, not where the engine keeps them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bridge import limits
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Chunk, Fetch, Request
from engine.server.jobs import Recipient
from engine.server.library import METADATA_NAME, ClipLibrary, json_bytes
from engine.server.naming import EnginePaths, named_record


def require_stream(request: Request, replier: Recipient) -> None:
    """Refuse a file request that came over UDP: files travel over TCP only."""
    if not replier.peer.startswith("tcp:"):
        raise ProtocolError(ErrorCode.UNSUPPORTED, "files travel over TCP only (engine serve "
                            "--tcp-port; the client's --transport tcp)", request.request_id)


def fetch_chunks(library: ClipLibrary, job_dir: Path, fetch: Fetch,
                 paths: EnginePaths) -> list[Chunk]:
    """The chunks answering ``fetch`` for a file of the job folder ``job_dir``: its range cut
    at the file's end, or one empty chunk when the range starts at or past it (``job.json``
    as ``named_record`` shows it, without the ``paths``)."""
    try:
        if fetch.file == METADATA_NAME:
            data, size, digest = _record_range(library, job_dir, fetch, paths)
        else:
            data, size, digest = library.read_range(job_dir / fetch.file, fetch.offset,
                                                    fetch.length)
    except (OSError, ValueError):  # OutsideLibrary and a broken record are ValueErrors
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


def _record_range(library: ClipLibrary, job_dir: Path, fetch: Fetch,
                  paths: EnginePaths) -> tuple[bytes, int, str]:
    """The asked range of the job's record as the client sees it, with that view's size and
    sha256 (the view is the same bytes for the same record, so windows fit together)."""
    record = json.loads(library.read_regular(job_dir / METADATA_NAME, limits.MAX_INPUT_BYTES))
    if not isinstance(record, dict):
        raise ValueError("a job record is a JSON object")
    view = json_bytes(named_record(record, paths))
    return (view[fetch.offset:fetch.offset + fetch.length], len(view),
            hashlib.sha256(view).hexdigest())
