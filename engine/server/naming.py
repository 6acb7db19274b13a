"""What a remote client sees of a job's files: names in its job, never the engine's paths.

A client on the engine's machine (UDP, or a loopback TCP connection that never said protocol
2) reads the clips where the engine wrote them, so its ``done`` and ``preview`` replies name
absolute paths. Any other TCP connection (one from another address, or one whose hello said
protocol 2 or more) may be on another machine: it fetches files by their name in its job
folder, and the engine's library layout (its folders, user name, owner keys) is none of its
business. Every file a job makes lies directly in the job's folder, so a file's name in that
folder is all such a client needs. Messages in fails (a melody's error names its file) are
rewritten the same way: an upload's path becomes its ``upload:<id>`` handle, any other path
under a hidden folder (the library, the engine's code and models) its file name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

from bridge.errors import ProtocolError
from bridge.listener import Replier
from bridge.messages import Done, Fail, Preview
from bridge.schema import Message
from engine.server.uploads import HANDLE_PREFIX

# The rest of a path after a hidden folder: "/"-separated parts, up to a space or a quote.
_REST = r"((?:/[^/\s'\"]+)*)"
# What ends a sentence rather than a file name ("<path>: reason", "... <path>.").
_TRAILING = ":,;.)"


class EnginePaths:
    """The engine's folders a remote client never hears of, and how a message names what
    lies in them instead."""

    def __init__(self, uploads: Path, hidden: Iterable[Path]) -> None:
        """``uploads``: the upload area (a file there is named by its handle); ``hidden``:
        folders whose paths become bare file names (the library, the engine's own)."""
        def forms(*paths: Path) -> list[str]:  # as given and resolved, the longest first
            found = {str(form) for path in paths for form in (path, path.resolve())}
            return sorted(found, key=len, reverse=True)

        upload_roots = "|".join(map(re.escape, forms(uploads)))
        self._upload = re.compile(rf"(?:{upload_roots})/[^/\s'\"]+/([^/\s'\"]+)" + _REST)
        hidden_roots = "|".join(map(re.escape, forms(*hidden)))
        # A root ends where the path does or at a "/": "<library>2/x" is another folder.
        self._hidden = re.compile(rf"(?:{hidden_roots})(?![^/\s'\"]){_REST}")

    def scrub(self, text: str) -> str:
        """``text`` with every path in a hidden folder replaced: an upload's by its handle,
        any other by its file name (a folder itself by "the engine's folder")."""
        def upload(match: re.Match[str]) -> str:
            upload_id, tail = _split_trailing(match.group(1) + match.group(2))
            upload_id = upload_id.split("/", 1)[0]
            return f"{HANDLE_PREFIX}{upload_id}{tail}"

        def hidden(match: re.Match[str]) -> str:
            rest, tail = _split_trailing(match.group(1))
            name = PurePath(rest).name if rest.strip("/") else "the engine's folder"
            return f"{name}{tail}"

        return self._hidden.sub(hidden, self._upload.sub(upload, text))


def _split_trailing(path: str) -> tuple[str, str]:
    """A matched path and the sentence punctuation that ended it."""
    stripped = path.rstrip(_TRAILING)
    return stripped, path[len(stripped):]


def file_name(path: str) -> str:
    """A job file's name in its job folder (empty stays empty)."""
    return PurePath(path).name if path else ""


def named(message: Message, paths: EnginePaths) -> Message:
    """``message`` as a remote client sees it: a done or preview names its files by their
    names in the job folder, a fail's message no engine path; any other is unchanged."""
    if isinstance(message, Done):
        return dataclasses.replace(
            message, metadata=file_name(message.metadata),
            stems={stem: file_name(path) for stem, path in message.stems.items()},
            melody_midi=file_name(message.melody_midi))
    if isinstance(message, Preview):
        return dataclasses.replace(message, path=file_name(message.path))
    if isinstance(message, Fail):
        return dataclasses.replace(message, message=paths.scrub(message.message))
    return message


def named_record(record: dict[str, Any], paths: EnginePaths) -> dict[str, Any]:
    """A job's record (``job.json``) as a remote client fetches it: its ``done`` entry names
    files as a remote done reply does, its ``fail`` message no engine path, and the owner
    key (the engine's upload folders are named from it) is left out; the rest (the request
    as the client sent it, the state, the versions) is unchanged."""
    seen = {key: value for key, value in record.items() if key != "owner"}
    fail = seen.get("fail")
    if isinstance(fail, dict) and "message" in fail:
        seen["fail"] = {**fail, "message": paths.scrub(str(fail["message"]))}
    done = seen.get("done")
    if not isinstance(done, dict):
        return seen
    stems = done.get("stems")
    return {**seen, "done": {
        **done,
        **{key: file_name(str(done[key])) for key in ("metadata", "melody_midi") if key in done},
        **({"stems": {stem: file_name(str(path)) for stem, path in stems.items()}}
           if isinstance(stems, dict) else {}),
    }}


class NamingReplier:
    """Sends to one TCP connection that may be on another machine: each reply as ``named``
    makes it. It passes for the connection's replier everywhere (same ``peer`` and
    ``host``), so a job's subscribers and the fair queue see one client."""

    def __init__(self, inner: Replier, paths: EnginePaths) -> None:
        self._inner = inner
        self._paths = paths
        self.peer = inner.peer
        self.host = inner.host

    def send(self, message: Message) -> None:
        """Send ``message`` with file names in place of the engine's paths."""
        self._inner.send(named(message, self._paths))

    def refusal(self, error: ProtocolError) -> ProtocolError:
        """``error`` as this client hears it (the listener sends it): no engine path."""
        return ProtocolError(error.code, self._paths.scrub(error.message), error.request_id,
                             error.reply_port)
