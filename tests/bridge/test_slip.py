"""SLIP framing: any payload survives any chunking; caps hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.slip import BadFrame, FrameTooLarge, SlipDecoder, encode_frame


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=6), st.integers(1, 50))
def test_frames_survive_any_chunking(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = SlipDecoder(max_frame=1000)
    frames = []
    for start in range(0, len(stream), chunk):
        frames += decoder.feed(stream[start : start + chunk])
    assert frames == payloads


def test_unfinished_frame_over_the_cap_raises() -> None:
    decoder = SlipDecoder(max_frame=100)
    decoder.feed(b"\xc0" + b"x" * 150)
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"x" * 100)


def test_finished_frame_over_the_cap_raises() -> None:
    with pytest.raises(FrameTooLarge):
        SlipDecoder(max_frame=10).feed(encode_frame(b"y" * 11))


def test_bad_escape_raises() -> None:
    with pytest.raises(BadFrame):
        SlipDecoder(max_frame=10).feed(b"\xc0\xdb\x00\xc0")
