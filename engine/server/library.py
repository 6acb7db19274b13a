"""The clip library: where the engine writes, and the only place it writes.

Each job gets ``<root>/<job id>/`` holding one audio file per stem and ``job.json``. Every
file appears whole or not at all (written to a hidden temp file beside it, then renamed),
and every path is checked to lie inside the library whatever a request says.

``job.json`` is written when a job starts to run (``state: running``) and replaced by the
full record when it is done (with a ``done`` entry). An engine that is killed leaves the
first kind behind; the next engine on the library finds it with ``sweep_interrupted``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bridge import limits
from bridge.atomic import atomic_write

METADATA_NAME = "job.json"
_KEPT_DIGESTS = 64
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

log = logging.getLogger(__name__)


class OutsideLibrary(ValueError):
    """A path would leave the clip library."""


class ClipLibrary:
    """A folder of finished clips."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self._lock: int | None = None
        # sha256 of the files fetched lately, by file version: a fetch comes in windows.
        self._digests: dict[tuple[int, int, int, int], str] = {}
        self._digests_lock = threading.Lock()

    def claim(self) -> bool:
        """Take the library's lock for this process's life; False if another live engine
        holds it (the lock goes with its process, however that process ends)."""
        if self._lock is not None:
            return True
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one engine per library is assumed
            return True
        # The library folder itself is locked: no lock file joins the clips.
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock = fd
        return True

    def release(self) -> None:
        """Let go of the library's lock (taken by ``claim``)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def sweep_interrupted(self, partial_names: Iterable[str], fail: dict,
                          stale_names: Iterable[str] = ()) -> list[str]:
        """Clean up after an engine that was killed mid-job; returns the ids of the jobs found
        interrupted.

        In every job folder, hidden temp files (half-written files) are removed, and so are
        ``stale_names`` (e.g. the preview) once a job is done. A job that never finished
        (its ``job.json`` has no ``done`` entry, or it has none but holds partial files)
        loses its partial files, keeps its complete files, and gets a ``job.json`` that
        records it as failed with ``fail``. Links are never followed.
        """
        partial, stale = set(partial_names), set(stale_names)
        swept = []
        with os.scandir(self.root) as entries:
            folders = [e for e in entries if _JOB_ID.match(e.name)
                       and e.is_dir(follow_symlinks=False)]
        for entry in folders:
            job_dir = Path(entry.path)
            try:
                if self._sweep_one(job_dir, partial, stale, fail):
                    swept.append(entry.name)
            except (OSError, OutsideLibrary) as exc:  # one bad folder must not stop the engine
                log.warning("could not sweep %s: %s", job_dir, exc)
        return swept

    def _sweep_one(self, job_dir: Path, partial: set[str], stale: set[str], fail: dict) -> bool:
        files = [p for p in job_dir.iterdir() if not p.is_symlink() and p.is_file()]
        half_written = [p for p in files if p.name.startswith(".") and p.name.endswith(".tmp")]
        for path in half_written:
            path.unlink(missing_ok=True)
        record: dict | None = None
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(self.confine(job_dir / METADATA_NAME).read_text())
            record = loaded if isinstance(loaded, dict) else None
        leftovers = [p for p in files if p.name in partial]
        if record is not None and ("done" in record or "fail" in record):
            for path in files if "done" in record else ():
                if path.name in stale:  # killed after the job was done, before the preview went
                    path.unlink()
            return False
        if record is None and not (half_written or leftovers):
            return False  # not a folder an engine was writing
        for path in leftovers:
            path.unlink()
        kept = sorted(p.name for p in files
                      if p not in half_written and p not in leftovers
                      and p.name != METADATA_NAME)
        self.write_json(job_dir / METADATA_NAME, {
            **(record or {}),
            "job_id": job_dir.name,
            "state": "failed",
            "fail": fail,
            "kept": kept,
        })
        return True

    def job_dir(self, job_id: str) -> Path:
        """The folder for a job's files (not created)."""
        return self.confine(self.root / job_id)

    def confine(self, path: Path) -> Path:
        """``path`` resolved; OutsideLibrary unless it lies strictly inside the library."""
        resolved = path.resolve()
        if resolved == self.root or not resolved.is_relative_to(self.root):
            raise OutsideLibrary(f"{path} is outside the clip library {self.root}")
        return resolved

    def write_audio(self, path: Path, audio: np.ndarray, sample_rate: int, fmt: str) -> Path:
        """Write (2, samples) float audio as a WAV file atomically."""
        subtype = limits.FORMAT_SUBTYPES[fmt]
        data = np.clip(audio.T, -1.0, 1.0) if subtype != "FLOAT" else audio.T

        def write(handle: Any) -> None:
            sf.write(handle, data, sample_rate, subtype=subtype, format="WAV")

        return self._write_atomic(path, write)

    def write_json(self, path: Path, payload: dict) -> Path:
        """Write ``payload`` as indented JSON atomically."""

        def write(handle: Any) -> None:
            handle.write(json_bytes(payload))

        return self._write_atomic(path, write)

    def read_regular(self, path: Path, max_bytes: int) -> bytes:
        """The bytes of a regular file inside the library, never read through a link (its
        last component must not be one; the folders above it are confined by resolving);
        OSError if it is missing, a link, not a regular file or over ``max_bytes``."""
        target = self.confine(path.parent) / path.name
        if target.is_symlink():  # where O_NOFOLLOW does not exist
            raise OSError(f"{target} is a link")
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
                raise OSError(f"{target} is not a regular file of at most {max_bytes} bytes")
            return handle.read(max_bytes + 1)[:max_bytes]

    def read_range(self, path: Path, offset: int, length: int) -> tuple[bytes, int, str]:
        """``length`` bytes from ``offset`` of a regular file inside the library (never read
        through a link), with the file's size and sha256; OSError if it is missing, a link
        or not a regular file. The sha256 is kept per file version (inode, size, mtime)."""
        target = self.confine(path.parent) / path.name
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"{target} is not a regular file")
            version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            with self._digests_lock:
                digest = self._digests.get(version)
            if digest is None:
                digest = _sha256(handle)
                with self._digests_lock:
                    self._digests[version] = digest
                    while len(self._digests) > _KEPT_DIGESTS:
                        self._digests.pop(next(iter(self._digests)))
            handle.seek(offset)
            return handle.read(length), info.st_size, digest

    def read_json(self, path: Path) -> dict:
        """Read a JSON file from inside the library."""
        return json.loads(self.confine(path).read_text())

    def _write_atomic(self, path: Path, write: Callable[[Any], None]) -> Path:
        target = self.confine(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(target, write)


def json_bytes(payload: dict) -> bytes:
    """A record as the library writes it: indented JSON, keys sorted."""
    return json.dumps(payload, indent=2, sort_keys=True).encode()


def _sha256(handle: Any) -> str:
    """sha256 (hex) of an open file from its start."""
    digest = hashlib.sha256()
    handle.seek(0)
    while block := handle.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()
