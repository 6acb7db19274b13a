"""Read the head of an OSC message without trusting the rest: a bounded, forgiving parser.

The listener uses it before a packet is decoded for real, to check the token first (a client
without it learns nothing else) and to find the request id and reply port of a packet it
refuses whole (a datagram over the size limit, a bundle). It reads at most ``limit`` bytes and
stops quietly at the first thing it cannot read: what it returns is what it could read.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

from bridge import limits

BUNDLE_TAG = b"#bundle\x00"
# "#bundle\0", the time tag, then the first element's size: where that element begins.
_FIRST_ELEMENT = 8 + 8 + 4
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Argument types with a fixed size in bytes (and their struct format, where read).
_FIXED = {"i": (4, ">i"), "f": (4, ">f"), "h": (8, ">q"), "d": (8, ">d"), "t": (8, None),
          "c": (4, None), "r": (4, None), "m": (4, None)}
_NO_DATA = {"T": True, "F": False, "N": None, "I": None}


@dataclass
class Head:
    """What could be read of a message: its address and its first arguments."""

    address: str = ""
    args: list[Any] = field(default_factory=list)

    @property
    def request_id(self) -> str:
        """The first argument when it is a well-formed request id, else ""."""
        first = self.args[0] if self.args else None
        if isinstance(first, str) and len(first) <= limits.MAX_ID_CHARS and _ID.match(first):
            return first
        return ""

    def value(self, key: str) -> Any:
        """The value that follows ``key`` among the key/value pairs after the id, or None."""
        pairs = self.args[1:]
        for name, value in zip(pairs[::2], pairs[1::2], strict=False):
            if name == key:
                return value
        return None

    @property
    def token(self) -> str:
        """The token the message carries ("" if none could be read)."""
        token = self.value("token")
        return token if isinstance(token, str) else ""

    @property
    def reply_port(self) -> int:
        """The reply port asked for, when it is a valid one; else 0."""
        port = self.value("reply_port")
        return port if type(port) is int and 0 < port < 65536 else 0


def is_bundle(data: bytes) -> bool:
    """True for an OSC bundle."""
    return data.startswith(BUNDLE_TAG)


def read_head(data: bytes, limit: int) -> Head:
    """The head of the message in ``data`` (of a bundle: of its first element), reading at
    most ``limit`` bytes."""
    if is_bundle(data):
        data = data[_FIRST_ELEMENT:]
    view = bytes(data[:limit])
    head = Head()
    address, offset = _string(view, 0)
    if address is None or not address.startswith("/"):
        return head
    head.address = address
    tags, offset = _string(view, offset)
    if tags is None or not tags.startswith(","):
        return head
    for tag in tags[1:]:
        if tag in _NO_DATA:
            head.args.append(_NO_DATA[tag])
        elif tag in ("s", "S"):
            text, offset = _string(view, offset)
            if text is None:
                return head
            head.args.append(text)
        elif tag in _FIXED:
            size, fmt = _FIXED[tag]
            if offset + size > len(view):
                return head
            head.args.append(struct.unpack_from(fmt, view, offset)[0] if fmt else None)
            offset += size
        elif tag == "b":
            if offset + 4 > len(view):
                return head
            size = struct.unpack_from(">i", view, offset)[0]
            if size < 0:
                return head
            offset += 4 + size + (-size % 4)
            head.args.append(None)
        else:  # an array or an unknown type: what follows cannot be read safely
            return head
    return head


def _string(view: bytes, offset: int) -> tuple[str | None, int]:
    end = view.find(b"\x00", offset)
    if end < 0:
        return None, offset
    try:
        text = view[offset:end].decode("utf-8")
    except UnicodeDecodeError:
        return None, offset
    return text, end + 1 + (-(end + 1 - offset) % 4)
