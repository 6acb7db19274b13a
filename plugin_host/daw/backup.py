"""A copy of a session file kept beside it before an adapter rewrites it.

The copy keeps the session's extension, so the DAW opens it as it is:
``song.dawproject`` is copied to ``song.before-stemloom-20261206-061500.dawproject``. Backups
are never deleted or overwritten by Stemloom: two in the same second get ``-2``, ``-3``…
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

BACKUP_TAG = "before-stemloom"


def keep_backup(session: Path, now: float | None = None) -> Path:
    """Copy ``session`` (a file) to a new backup file beside it and return the backup's path.

    Raises OSError if the copy cannot be made; the caller then must not rewrite the session.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    stem, suffix = _split_name(session.name)
    for number in range(1, 1000):
        extra = "" if number == 1 else f"-{number}"
        target = session.with_name(f"{stem}.{BACKUP_TAG}-{stamp}{extra}{suffix}")
        try:
            with open(session, "rb") as source, open(target, "xb") as copy:
                shutil.copyfileobj(source, copy)
        except FileExistsError:
            continue
        shutil.copystat(session, target)
        return target
    raise OSError(f"no free backup name beside {session}")


def _split_name(name: str) -> tuple[str, str]:
    """``song.RPP`` -> (``song``, ``.RPP``); a name without a suffix keeps it empty."""
    stem, dot, suffix = name.rpartition(".")
    return (stem, f".{suffix}") if dot and stem else (name, "")
