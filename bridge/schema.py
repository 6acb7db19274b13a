"""The wire codec: typed message dataclasses <-> OSC 1.0 messages.

Every Stemloom message is ``ADDRESS request_id key value key value ...``: the request id comes
first, every other field travels as a key/value pair, so any OSC client (liblo's ``oscsend``,
Max, a DAW script) can send just the fields it cares about, in any order. Field types:

- ``str``, ``int``, ``float``, ``bool`` map to OSC ``s``, ``i``/``h``, ``f``/``d``/``i``,
  ``T``/``F``/``i`` (0 or 1);
- a ``StrEnum`` (``JobStatus``) travels as its value, an ``s``;
- ``tuple[str, ...]`` travels as one comma-separated string ("drums,bass");
- ``dict[str, str]`` travels as one pair per entry, the key prefixed with the field name
  ("stems.drums" "/path/drums.wav");
- ``bytes`` (a file chunk's data) travels as an OSC blob, ``b``.

Checks attached to a field (``spec(check=...)``) run on both encode and decode, so the host
learns about a bad request before it is sent and the engine never trusts the wire.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types

from bridge.errors import ErrorCode, ProtocolError

Check = Callable[[Any], str | None]

_FLOAT32_MAX = 3.4028234663852886e38

_REGISTRY: dict[str, type[Message]] = {}


def spec(default: Any = dataclasses.MISSING, *, doc: str, check: Check | None = None,
         omit_default: bool = False) -> Any:
    """Declare a message field with its documentation and an optional validity check.
    ``omit_default``: the field is not sent while it has its default (a field added in a
    later protocol version, so a request that does not use it still reaches older engines)."""
    metadata = {"doc": doc, "check": check, "omit_default": omit_default}
    if isinstance(default, dict):
        initial = dict(default)
        return field(default_factory=lambda: dict(initial), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class Message:
    """Base of every message. Subclasses set ``ADDRESS`` and are registered by ``register``."""

    ADDRESS: ClassVar[str]
    request_id: str = spec(doc="Client-chosen id; every reply echoes it.")

    @classmethod
    def fill_absent(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The decoded fields with those the sender left out filled from the ones it sent,
        where the protocol says how (``Generate`` reads them from its prompt); as is here."""
        return values

    def validate(self) -> None:
        """Raise ProtocolError(BAD_ARGUMENT) if a field fails its check."""
        for f in _fields(type(self)):
            check = f.metadata.get("check")
            if check is None:
                continue
            problem = check(getattr(self, f.name))
            if problem:
                raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{f.name}: {problem}", self.request_id)


def register(cls: type[Message]) -> type[Message]:
    """Class decorator: make a message class decodable by its address."""
    if cls.ADDRESS in _REGISTRY:
        raise ValueError(f"address registered twice: {cls.ADDRESS}")
    _REGISTRY[cls.ADDRESS] = cls
    return cls


def registered() -> dict[str, type[Message]]:
    """All message classes by address (a copy), for documentation and tests."""
    return dict(_REGISTRY)


def _fields(cls: type[Message]) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(cls)


# Resolved once per class: resolving type hints costs ~1 ms, a file chunk's whole budget.
_HINTS: dict[type[Message], dict[str, Any]] = {}


def _types(cls: type[Message]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def encode(message: Message) -> bytes:
    """Validate ``message`` and build its OSC datagram."""
    message.validate()
    builder = OscMessageBuilder(address=message.ADDRESS)
    builder.add_arg(message.request_id, "s")
    hints = _types(type(message))
    for f in _fields(type(message)):
        if f.name == "request_id":
            continue
        value = getattr(message, f.name)
        if f.metadata.get("omit_default") and value == f.default:
            continue
        kind = hints[f.name]
        if _origin(kind) is dict:
            for sub_key, sub_value in value.items():
                builder.add_arg(f"{f.name}.{sub_key}", "s")
                builder.add_arg(str(sub_value), "s")
            continue
        builder.add_arg(f.name, "s")
        if _origin(kind) is tuple:
            builder.add_arg(",".join(value), "s")
        elif kind is bytes:
            builder.add_arg(bytes(value), "b")
        elif kind is bool:
            builder.add_arg(bool(value))
        elif kind is int:
            builder.add_arg(int(value))
        elif kind is float:
            builder.add_arg(float(value), "f")
        else:
            builder.add_arg(str(value), "s")
    return builder.build().dgram


# The OSC type tags python-osc decodes. Any other it skips with a warning on the root logger,
# one log line per hostile packet, so such a packet is refused before python-osc sees it.
_KNOWN_TYPE_TAGS = frozenset("ifdsbrmhtTFN[]")


def decode(data: bytes) -> Message:
    """Parse and validate one OSC datagram into its message; raise ProtocolError if it is bad."""
    try:
        _, tags_at = osc_types.get_string(data, 0)
        tags, _ = osc_types.get_string(data, tags_at)
    except (osc_types.ParseError, UnicodeDecodeError):
        tags = ","  # no type tags to check: OscMessage below says what is wrong
    if not set(tags[1:]) <= _KNOWN_TYPE_TAGS:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "not an OSC message (an unknown type tag)")
    try:
        osc = OscMessage(data)
        address = osc.address
        args = list(osc.params)
    except Exception as exc:  # python-osc raises several types on hostile bytes
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"not an OSC message ({str(exc)[:200]})"
        ) from None
    request_id = args[0] if args and isinstance(args[0], str) else ""
    try:
        return _decode_args(address, args, request_id)
    except ProtocolError as exc:
        exc.reply_port = _reply_port_hint(args)
        raise


def _decode_args(address: str, args: list[Any], request_id: str) -> Message:
    cls = _REGISTRY.get(address)
    if cls is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_ADDRESS, f"unknown address {address[:80]!r}", request_id
        )
    if not args or not isinstance(args[0], str):
        raise ProtocolError(
            ErrorCode.MISSING_ARGUMENT, "the first argument must be the request id (a string)"
        )
    values = cls.fill_absent({"request_id": request_id,
                              **_decode_pairs(cls, args[1:], request_id)})
    try:
        message = cls(**values)
    except TypeError as exc:  # a required field is absent
        missing = [
            f.name
            for f in _fields(cls)
            if f.name not in values and f.name != "request_id" and _is_required(f)
        ]
        raise ProtocolError(
            ErrorCode.MISSING_ARGUMENT, f"missing {', '.join(missing) or exc}", request_id
        ) from None
    message.validate()
    return message


def _reply_port_hint(args: list[Any]) -> int:
    """The reply_port of a request that failed to decode, so its fail reply can reach the
    client (oscsend, for one, exits before any reply to its own port could arrive)."""
    pairs = args[1:]
    for key, value in zip(pairs[::2], pairs[1::2], strict=False):
        if key == "reply_port" and type(value) is int and 0 < value < 65536:
            return value
    return 0


def _decode_pairs(cls: type[Message], pairs: list[Any], request_id: str) -> dict[str, Any]:
    if len(pairs) % 2:
        raise ProtocolError(
            ErrorCode.BAD_ARGUMENT, "arguments after the id must be key/value pairs", request_id
        )
    hints = _types(cls)
    names = {f.name for f in _fields(cls)} - {"request_id"}
    dict_fields = {name for name in names if _origin(hints[name]) is dict}
    values: dict[str, Any] = {}
    for key, raw in zip(pairs[::2], pairs[1::2], strict=True):
        if not isinstance(key, str):
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"key {key!r} is not a string", request_id)
        prefix, _, sub_key = key.partition(".")
        if prefix in dict_fields and sub_key:
            if not isinstance(raw, str):
                raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{key}: expected a string", request_id)
            entries = values.setdefault(prefix, {})
            if sub_key in entries:
                raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{key} given twice", request_id)
            entries[sub_key] = raw
            continue
        if key not in names or key in dict_fields:
            raise ProtocolError(
                ErrorCode.BAD_ARGUMENT, f"unknown key {key!r} for {cls.ADDRESS}", request_id
            )
        if key in values:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{key} given twice", request_id)
        values[key] = _coerce(key, hints[key], raw, request_id)
    return values


def _float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _shortest_float32(value: float) -> float:
    """A value that arrived as OSC 'f' (its 32 bits hold it exactly) read as the shortest
    decimal those 32 bits stand for, so that 0.7 sent is 0.7 received, not 0.699999988;
    a double that needs more bits is kept as it is."""
    if _float32(value) != value:
        return value
    for digits in range(1, 10):  # 9 significant digits always pin a float32
        shortest = float(f"{value:.{digits}g}")
        if _float32(shortest) == value:
            return shortest
    return value


def _coerce(name: str, kind: Any, raw: Any, request_id: str) -> Any:
    """Convert one wire value to the field's type, accepting only lossless conversions."""

    def wrong(expected: str) -> ProtocolError:
        return ProtocolError(
            ErrorCode.BAD_ARGUMENT,
            f"{name}: expected {expected}, got {type(raw).__name__}",
            request_id,
        )

    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        raise wrong("true/false or 0/1")
    if kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        # Max, TouchOSC and JavaScript send whole numbers as floats ("bars 2.0").
        if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**31:
            return int(raw)
        raise wrong("an integer")
    if kind is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            if not math.isfinite(raw) or abs(raw) > _FLOAT32_MAX:
                # Floats travel as OSC 'f' (32 bit): refuse what cannot go back out.
                raise ProtocolError(
                    ErrorCode.BAD_ARGUMENT, f"{name}: not finite or out of range", request_id
                )
            return _shortest_float32(float(raw))
        raise wrong("a number")
    if kind is bytes:
        if isinstance(raw, bytes):
            return raw
        raise wrong("a blob")
    if not isinstance(raw, str):
        raise wrong("a string")
    if _origin(kind) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if _is_enum(kind):
        try:
            return kind(raw)
        except ValueError:
            raise ProtocolError(
                ErrorCode.BAD_ARGUMENT, f"{name}: must be one of {', '.join(kind)}", request_id
            ) from None
    return raw


def _origin(kind: Any) -> Any:
    return typing.get_origin(kind)


def _is_enum(kind: Any) -> bool:
    """A str-valued enum field (``JobStatus``): a plain string on the wire."""
    return isinstance(kind, type) and issubclass(kind, StrEnum)


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def describe(cls: type[Message]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, doc) for each field after the request id, for docs and help."""
    hints = _types(cls)
    rows = []
    for f in _fields(cls):
        if f.name == "request_id":
            continue
        if f.default is not dataclasses.MISSING:
            if isinstance(f.default, tuple):
                default = ",".join(f.default)
            else:
                default = repr(f.default.value if isinstance(f.default, StrEnum) else f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = "none"
        else:
            default = "required"
        rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("doc", "")))
    return rows


def _type_name(kind: Any) -> str:
    if _origin(kind) is tuple:
        return "comma-separated string"
    if _origin(kind) is dict:
        return "key/value pairs (prefixed keys)"
    if _is_enum(kind):
        return "string"
    return {str: "string", int: "int", float: "float", bool: "bool (T/F or 0/1)",
            bytes: "blob"}[kind]
