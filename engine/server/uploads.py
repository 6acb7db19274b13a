"""Where uploaded input files land: one private area per client, files complete or absent.

``<root>/<client key>/<upload id>/`` holds ``.meta`` (the name, size and sha256 the first
chunk declared), ``.part`` while chunks arrive (appended only at the offset received so far,
so a client resumes by asking how far it got) and, once the whole file matched its sha256,
the file under its own name (renamed from ``.part``: it appears complete or not at all).

The client key is derived from the owner key (``EngineService.owner_of``), so a client sees
only its own uploads; the engine reads an uploaded file for a job only when it lies in that
job's owner's area (``InputFolders.resolve``). A finished upload is named to the client by a
handle (``upload:<id>``), never by its path on the engine's disk. Sizes are checked against
the limits before a byte is written, and an upload untouched for ``UPLOAD_RETENTION_S`` is
removed, unless a job that is waiting or running reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

from bridge import limits
from bridge.atomic import atomic_write_bytes
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Upload, UploadReply

META_NAME = ".meta"
PART_NAME = ".part"
# What a finished upload's reply names it by: this, then the upload's id.
HANDLE_PREFIX = "upload:"
# The client key is a prefix of the owner key (a sha256 hex): long enough never to collide.
_KEY_CHARS = 32
_HASH_BLOCK = 1 << 20
# How often a chunk tries for its upload's lock when expiry and a new start keep swapping it.
_LOCK_TRIES = 3


class UploadArea:
    """Every client's uploads under one root. Thread-safe."""

    def __init__(self, root: Path, extensions: tuple[str, ...], *,
                 retention_s: float = limits.UPLOAD_RETENTION_S,
                 in_use: Callable[[], Collection[Path]] = frozenset) -> None:
        """``in_use`` names the files that unfinished jobs read: their uploads never expire."""
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root = root.resolve()
        self._extensions = extensions
        self._retention_s = retention_s
        self._in_use = in_use
        # The area's lock guards admission (quotas read every area) and expiry. It is never
        # held while a file is written or hashed (a finished 50 MB upload would stall every
        # client): each upload has its own lock for that, and expiry passes over one held.
        self._lock = threading.Lock()
        self._upload_locks: dict[Path, threading.Lock] = {}

    def folder(self, owner: str) -> Path:
        """The area of the client with owner key ``owner`` (not created)."""
        return self.root / owner[:_KEY_CHARS]

    def receive(self, owner: str, upload: Upload) -> UploadReply:
        """Take one chunk of ``upload`` for ``owner``; the reply says how far the file got.
        Raises ProtocolError for a file over the limits, a bad chunk or a reused id."""
        chunk_ok = hashlib.sha256(upload.data).hexdigest() == upload.checksum  # no lock held
        folder = self.folder(owner) / upload.request_id
        # Expiry may remove the folder between the two locks, and another chunk recreate it
        # with a new lock: the lock taken must still be the folder's, or this chunk tries
        # again (once is enough unless expiry strikes again in that instant).
        for _ in range(_LOCK_TRIES):
            lock = self._upload_lock(owner, upload, folder)
            with lock:
                with self._lock:
                    current = self._upload_locks.get(folder) is lock
                if _read_meta(folder) is None:  # expired between the two locks
                    raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"the upload "
                                        f"{upload.request_id!r} expired; upload it again "
                                        "from offset 0", upload.request_id)
                if current:
                    return self._take(folder, upload, chunk_ok)
            # expired and begun again under a new lock: try again with that one
        raise ProtocolError(ErrorCode.BUSY, f"the upload {upload.request_id!r} was removed "
                            "and begun again while this chunk waited; ask how far it got "
                            "(resend from offset 0) and go on from there", upload.request_id)

    def _upload_lock(self, owner: str, upload: Upload, folder: Path) -> threading.Lock:
        """Admit or check the upload (creating its folder on its first chunk) and return the
        lock that guards its folder's files."""
        with self._lock:
            meta = _read_meta(folder)
            if meta is None:
                self._admit(owner, upload)
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # a crash may leave it
                atomic_write_bytes(folder / META_NAME, json.dumps(_declared(upload)).encode())
            elif meta != _declared(upload):
                raise ProtocolError(ErrorCode.DUPLICATE_ID, f"the upload {upload.request_id!r} "
                                    "is another file (name, size or sha256 differ); use a new "
                                    "id", upload.request_id)
            else:
                os.utime(folder / META_NAME)  # in use, not abandoned: expiry passes it over
            return self._upload_locks.setdefault(folder, threading.Lock())

    def file_of(self, owner: str, handle: str) -> Path | None:
        """The finished file the handle ``upload:<id>`` names in ``owner``'s area; None when
        there is none (never finished, expired, or not a handle)."""
        if not is_handle(handle):
            return None
        upload_id = handle.removeprefix(HANDLE_PREFIX)
        if upload_id in ("", ".", "..") or Path(upload_id).name != upload_id:
            return None
        folder = self.folder(owner) / upload_id
        meta = _read_meta(folder)
        name = str(meta.get("name", "")) if meta else ""
        final = folder / name
        return final if name and Path(name).name == name and _is_regular(final) else None

    def sweep(self) -> int:
        """Remove every upload untouched for the retention time (but those unfinished jobs
        read); returns how many."""
        with self._lock:
            in_use = self._folders_in_use()
            removed = 0
            for area in _folders(self.root):
                removed += self._expire(area, in_use)
            return removed

    # ------------------------------------------------------------------ internals

    def _admit(self, owner: str, upload: Upload) -> None:
        """Refuse a new upload over a limit, before anything of it is written."""
        if upload.size > limits.MAX_INPUT_BYTES:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"{upload.name}: {upload.size} bytes; "
                                f"the limit is {limits.MAX_INPUT_BYTES}", upload.request_id)
        if Path(upload.name).suffix.lower() not in self._extensions:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"name: must end in one of "
                                f"{', '.join(self._extensions)}", upload.request_id)
        # Every area, not only this client's: clients without a client_id get a new owner
        # key per connection, and their abandoned uploads would fill the engine's space.
        in_use = self._folders_in_use()
        for other in _folders(self.root):
            self._expire(other, in_use)
        area = self.folder(owner)
        held = _declared_sizes(area)
        if len(held) >= limits.MAX_UPLOADS or sum(held) + upload.size > (
                limits.MAX_UPLOAD_AREA_BYTES):
            raise ProtocolError(
                ErrorCode.TOO_LARGE, f"your uploads hold {len(held)} files, {sum(held)} bytes; "
                f"at most {limits.MAX_UPLOADS} files and {limits.MAX_UPLOAD_AREA_BYTES} bytes "
                "(an upload untouched for an hour is removed)", upload.request_id)
        everyone = sum(sum(_declared_sizes(other)) for other in _folders(self.root))
        if everyone + upload.size > limits.MAX_UPLOADS_TOTAL_BYTES:
            raise ProtocolError(ErrorCode.TOO_LARGE, "the engine's upload space is full; try "
                                "again later", upload.request_id)

    def _take(self, folder: Path, upload: Upload, chunk_ok: bool) -> UploadReply:
        """Append one chunk (under the upload's own lock); finish the file once whole."""
        final = folder / upload.name
        if _is_regular(final):
            return _reply(upload, upload.size, final)
        part = folder / PART_NAME
        received = part.lstat().st_size if _is_regular(part) else 0
        if received == upload.size and upload.size > 0:  # whole, but never renamed (a crash)
            return self._finish(folder, upload, part, final)
        if upload.offset != received or not upload.data:
            if upload.size == 0:  # an empty file is complete at once
                return self._finish(folder, upload, part, final)
            return _reply(upload, received)  # not the next chunk: nothing kept
        if not chunk_ok:
            raise ProtocolError(ErrorCode.CHECKSUM, f"the chunk at {upload.offset} does not "
                                f"match its checksum; send it again from {received}",
                                upload.request_id)
        if received + len(upload.data) > upload.size:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, "data: runs past the declared size",
                                upload.request_id)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(part, flags, 0o600)
        try:
            os.write(fd, upload.data)
        finally:
            os.close(fd)
        received += len(upload.data)
        if received < upload.size:
            return _reply(upload, received)
        return self._finish(folder, upload, part, final)

    def _finish(self, folder: Path, upload: Upload, part: Path, final: Path) -> UploadReply:
        """Check the whole file's sha256 and rename it into place."""
        part.touch(mode=0o600)
        if _sha256_of(part) != upload.sha256:
            part.unlink()
            raise ProtocolError(ErrorCode.CHECKSUM, "the whole file does not match its sha256; "
                                "upload it again from offset 0", upload.request_id)
        with open(part, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(part, final)
        return _reply(upload, upload.size, final)

    def _folders_in_use(self) -> set[Path]:
        """The upload folders holding a file an unfinished job reads."""
        return {path.parent for path in self._in_use() if path.parent.parent.parent == self.root}

    def _expire(self, area: Path, in_use: Collection[Path]) -> int:
        """Remove the uploads of one client's area untouched for the retention time, but
        those in ``in_use`` and one whose chunk is being taken now."""
        cutoff = time.time() - self._retention_s
        removed = 0
        for folder in _folders(area):
            try:
                touched = max(entry.stat(follow_symlinks=False).st_mtime
                              for entry in os.scandir(folder))
            except (OSError, ValueError):  # empty, or vanished: nothing worth keeping
                touched = 0.0
            if touched >= cutoff or folder in in_use:
                continue
            lock = self._upload_locks.get(folder)
            if lock is not None and not lock.acquire(blocking=False):
                continue  # a chunk is being written or the file hashed: not abandoned
            try:
                shutil.rmtree(folder, ignore_errors=True)
                self._upload_locks.pop(folder, None)
                removed += 1
            finally:
                if lock is not None:
                    lock.release()
        if area != self.root and not _folders(area):
            with contextlib.suppress(OSError):  # a client's emptied area goes too
                area.rmdir()
        return removed


def _declared(upload: Upload) -> dict:
    return {"name": upload.name, "size": upload.size, "sha256": upload.sha256}


def is_handle(text: str) -> bool:
    """Whether an input field names an upload by its handle rather than by a path."""
    return text.startswith(HANDLE_PREFIX)


def _reply(upload: Upload, received: int, final: Path | None = None) -> UploadReply:
    """The reply to a chunk; a finished upload is named by its handle, not its path."""
    return UploadReply(request_id=upload.request_id, received=received,
                       complete=final is not None,
                       path=f"{HANDLE_PREFIX}{upload.request_id}" if final else "")


def _declared_sizes(area: Path) -> list[int]:
    """The declared size of each upload in one client's area."""
    sizes = []
    for folder in _folders(area):
        meta = _read_meta(folder)
        sizes.append(int(meta.get("size", 0)) if meta else 0)
    return sizes


def _read_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / META_NAME).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _folders(parent: Path) -> list[Path]:
    """The real (not linked) sub-folders of ``parent``; none when it does not exist."""
    try:
        with os.scandir(parent) as entries:
            return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
