"""What a remote client sees of a job's files: names in its job, never the engine's paths.

A client on the engine's machine (UDP, or a TCP connection that never said protocol 2) reads
the clips where the engine wrote them, so its ``done`` and ``preview`` replies name absolute
paths. A TCP connection whose hello said protocol 2 or more may be on another machine: it
fetches files by their name in its job folder, and the engine's library layout (its folders,
user name, owner keys) is none of its business. Every file a job makes lies directly in the
job's folder, so a file's name in that folder is all such a client needs.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePath
from typing import Any

from bridge.listener import Replier
from bridge.messages import Done, Preview
from bridge.schema import Message


def file_name(path: str) -> str:
    """A job file's name in its job folder (empty stays empty)."""
    return PurePath(path).name if path else ""


def named(message: Message) -> Message:
    """``message`` as a remote client sees it: a done or preview names its files by their
    names in the job folder; any other message is unchanged."""
    if isinstance(message, Done):
        return dataclasses.replace(
            message, metadata=file_name(message.metadata),
            stems={stem: file_name(path) for stem, path in message.stems.items()},
            melody_midi=file_name(message.melody_midi))
    if isinstance(message, Preview):
        return dataclasses.replace(message, path=file_name(message.path))
    return message


def named_record(record: dict[str, Any]) -> dict[str, Any]:
    """A job's record (``job.json``) as a remote client fetches it: its ``done`` entry names
    files as a remote done reply does, and the owner key (the engine's upload folders are
    named from it) is left out; the rest (the request as the client sent it, the state, the
    versions) is unchanged."""
    seen = {key: value for key, value in record.items() if key != "owner"}
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
    """Sends to one TCP connection that speaks protocol 2 or more: each reply as ``named``
    makes it. It passes for the connection's replier everywhere (same ``peer`` and
    ``host``), so a job's subscribers and the fair queue see one client."""

    def __init__(self, inner: Replier) -> None:
        self._inner = inner
        self.peer = inner.peer
        self.host = inner.host

    def send(self, message: Message) -> None:
        """Send ``message`` with file names in place of the engine's paths."""
        self._inner.send(named(message))
