"""Which files the engine reads: its input folders, and nothing through a link out of them.

A generate request names its inputs (``melody``, ``reference``, ``continue_from``) by path.
The engine reads such a file only when the path, with every link in it resolved, lies inside
one of its input folders (the clip library, and the folders ``stemloom engine serve`` was
given with ``--input-folder``; by default the user's home and temp folders for a loopback
engine and none for one listening off loopback) and is a regular file it can open. A path that is
missing, unreadable, not a regular file or outside every input folder gets one and the same
answer, so a refusal says nothing about what exists outside. Files a client uploaded over TCP
(``engine.server.uploads``) are readable by that client's requests only.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from bridge.limits import MAX_INPUT_BYTES

# The one answer for a path the engine will not read, whatever the reason.
NOT_READABLE = ("no readable file at this path inside the engine's input folders (a folder of "
                "yours elsewhere: stemloom engine serve --input-folder DIR)")


class InputRefused(ValueError):
    """An input path the engine will not read; the message is safe to send to the client."""


class InputFolders:
    """The folders the engine may read inputs from (resolved once, at start)."""

    def __init__(self, folders: Iterable[Path]) -> None:
        roots: list[Path] = []
        for folder in folders:
            try:
                root = Path(folder).expanduser().resolve(strict=True)
            except (OSError, RuntimeError):
                continue  # a folder that does not exist holds nothing to read
            if root.is_dir() and root not in roots:
                roots.append(root)
        self.roots = tuple(roots)

    def contains(self, path: Path) -> bool:
        """True when the resolved ``path`` lies inside an input folder."""
        return any(path.is_relative_to(root) for root in self.roots)

    def resolve(self, path_text: str, extensions: tuple[str, ...], *,
                private: Path | None = None, own: Path | None = None) -> Path:
        """The real path of a readable input file named by ``path_text``; InputRefused if the
        engine will not read it. The returned path has no link in it, so reading it later
        cannot be sent out of the input folders by the link it was named through.

        Inside ``private`` (the uploads root) only ``own`` (the asking client's area there)
        may be read, whatever the input folders say: one client never reads another's
        uploads, even when the uploads lie inside an input folder."""
        path = Path(path_text)
        if not path.is_absolute():
            raise InputRefused("must be an absolute path")
        if path.suffix.lower() not in extensions:
            raise InputRefused(f"must end in one of {', '.join(extensions)}")
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError, ValueError):  # missing, a loop of links, no permission
            raise InputRefused(NOT_READABLE) from None
        if private is not None and real.is_relative_to(private):
            allowed = own is not None and real.is_relative_to(own)
        else:
            allowed = self.contains(real)
        if not allowed or real.suffix.lower() not in extensions:
            raise InputRefused(NOT_READABLE)
        try:
            # Non-blocking and never through a link: a FIFO cannot stall the engine, and the
            # file opened is the one that was checked.
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except (OSError, ValueError):
            raise InputRefused(NOT_READABLE) from None
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(NOT_READABLE)
        if info.st_size > MAX_INPUT_BYTES:  # said only of a file the engine may read
            raise InputRefused(f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MB")
        return real
