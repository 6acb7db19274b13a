"""Just enough OSC 1.0 for the remote script, with the standard library only (Live's Python
cannot install packages): messages of strings, int32, float32/64, int64 and true/false."""

from __future__ import annotations

import struct


class OscError(ValueError):
    """A packet that is not an OSC message this codec reads."""


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (4 - len(data) % 4)


def _string(text: str) -> bytes:
    return _pad(text.encode("utf-8"))


def encode(address: str, *args: object) -> bytes:
    """An OSC message: str -> s, bool -> T/F, int -> i, float -> f."""
    tags, payload = ",", b""
    for arg in args:
        if isinstance(arg, bool):
            tags += "T" if arg else "F"
        elif isinstance(arg, int):
            tags += "i"
            payload += struct.pack(">i", arg)
        elif isinstance(arg, float):
            tags += "f"
            payload += struct.pack(">f", arg)
        elif isinstance(arg, str):
            tags += "s"
            payload += _string(arg)
        else:
            raise TypeError(f"cannot send a {type(arg).__name__} over OSC")
    return _string(address) + _string(tags) + payload


def _read_string(data: bytes, offset: int) -> tuple[str, int]:
    end = data.find(b"\0", offset)
    if end < 0:
        raise OscError("unterminated string")
    try:
        text = data[offset:end].decode("utf-8")
    except UnicodeDecodeError as error:
        raise OscError("string is not UTF-8") from error
    return text, (end // 4 + 1) * 4  # strings start aligned and are padded to 4 bytes


def decode(data: bytes) -> tuple[str, list[object]]:
    """The address and arguments of one OSC message; raises OscError for anything else."""
    if not data.startswith(b"/"):
        raise OscError("not an OSC message")
    address, offset = _read_string(data, 0)
    tags, offset = _read_string(data, offset) if offset < len(data) else (",", offset)
    if not tags.startswith(","):
        raise OscError("missing type tags")
    args: list[object] = []
    for tag in tags[1:]:
        if tag in "ifdh":
            size, fmt = {"i": (4, ">i"), "f": (4, ">f"), "d": (8, ">d"), "h": (8, ">q")}[tag]
            if offset + size > len(data):
                raise OscError("message ends early")
            args.append(struct.unpack(fmt, data[offset:offset + size])[0])
            offset += size
        elif tag == "s":
            text, offset = _read_string(data, offset)
            args.append(text)
        elif tag in "TF":
            args.append(tag == "T")
        else:
            raise OscError(f"unsupported type tag {tag!r}")
    return address, args
