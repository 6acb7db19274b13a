"""Write files so that they appear only complete: a temp file in the same folder, then rename.

A DAW or file browser watching the folder never sees half a clip, and a failure leaves the
previous file (if any) untouched and no temp file behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# Keep temp names short: the final name may already be near the file-system limit.
_MAX_TEMP_STEM = 40


def atomic_write(target: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a temp file beside ``target``, then rename it onto ``target``.

    The temp file lives in the target's folder (a rename across file systems is not atomic),
    is flushed and fsynced before the rename, and is removed if anything fails. Returns the
    target path.
    """
    target = Path(target)
    temp = target.with_name(f".{target.name[:_MAX_TEMP_STEM]}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never clobber a file we did not create; 0o666 lets the umask decide the mode,
    # as for any other file the user creates (mkstemp would force 0o600).
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_write`)."""
    return atomic_write(target, lambda handle: handle.write(data))
