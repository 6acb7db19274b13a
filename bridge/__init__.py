"""Stemloom's OSC contract, shared by the engine and the DAW-side host.

The bridge is pure Python (python-osc and the standard library): it never imports torch,
numpy-heavy code, ``engine`` or ``plugin_host``.
"""

from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import PROTOCOL_VERSION, decode, encode

__all__ = ["PROTOCOL_VERSION", "ErrorCode", "ProtocolError", "decode", "encode"]
