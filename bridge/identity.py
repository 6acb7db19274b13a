"""This user's client id: the secret that makes the engine's jobs theirs across connections.

The engine gives a job only to the client that made it (docs/protocol.md, "Ownership"). A
client id sent with every request lets a later process of the same user (``stemloom host
jobs``, the studio after a restart) find its jobs again. It is random, made once, and kept in
a file only the user can read, beside Stemloom's other per-user settings.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from platformdirs import user_config_path

FILE_NAME = "client-id"


def user_client_id(folder: Path | None = None) -> str:
    """The client id kept in ``folder`` (default: the user's Stemloom config folder), made
    on first use (32 hex digits, file mode 0600). An unreadable or malformed file is
    replaced, so the engine sees a new client rather than a bad request."""
    path = (folder or user_config_path("stemloom", appauthor=False)) / FILE_NAME
    try:
        kept = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        kept = ""
    if len(kept) == 32 and all(c in "0123456789abcdef" for c in kept):
        return kept
    made = secrets.token_hex(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(made + "\n")
    os.replace(temporary, path)
    return made
