"""The SLIP decoder's whole-buffer unescaping agrees with RFC 1055 read byte by byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.slip import END, ESC, ESC_END, ESC_ESC, BadFrame, SlipDecoder, encode_frame


def _by_the_rfc(frame: bytes) -> bytes:
    """RFC 1055's decoder, one byte at a time; BadFrame for an escape it does not define."""
    out, escaping = bytearray(), False
    for byte in frame:
        if escaping:
            if byte not in (ESC_END, ESC_ESC):
                raise BadFrame(f"escape followed by 0x{byte:02x}")
            out.append(END if byte == ESC_END else ESC)
            escaping = False
        elif byte == ESC:
            escaping = True
        else:
            out.append(byte)
    if escaping:
        raise BadFrame("frame ends inside an escape")
    return bytes(out)


# Frames made mostly of the bytes that matter, so bad and tricky escapes are common.
_FRAMES = st.lists(st.sampled_from([ESC, ESC_END, ESC_ESC, 0x41]), min_size=1,
                   max_size=24).map(bytes)


@settings(max_examples=1000, deadline=None)
@given(_FRAMES)
def test_decoding_agrees_with_the_rfc_byte_by_byte(frame: bytes) -> None:
    wire = bytes([END]) + frame + bytes([END])
    try:
        expected: bytes | str = _by_the_rfc(frame)
    except BadFrame as error:
        expected = str(error)
    try:
        got: bytes | str = SlipDecoder(1024).feed(wire)[0]
    except BadFrame as error:
        got = str(error)
    assert got == expected


@given(st.binary(max_size=4096))
def test_any_payload_survives_a_round_trip(payload: bytes) -> None:
    frames = SlipDecoder(8192).feed(encode_frame(payload))
    assert frames == ([payload] if payload else [])


def test_a_bad_escape_after_good_ones_is_still_found() -> None:
    frame = bytes([ESC, ESC_END, 0x41, ESC, ESC_ESC, ESC, 0x42])
    with pytest.raises(BadFrame, match="0x42"):
        SlipDecoder(64).feed(bytes([END]) + frame + bytes([END]))
