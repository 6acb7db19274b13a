"""Session facts: bars count from 1, beats are quarter notes, bad facts are refused."""

from __future__ import annotations

import pytest

from plugin_host.daw import SessionInfo


@pytest.mark.parametrize(("signature", "bar", "beats"), [
    ((4, 4), 1, 0.0), ((4, 4), 3, 8.0), ((3, 4), 9, 24.0), ((6, 8), 2, 3.0), ((7, 8), 3, 7.0),
    ((4, 4), 2.5, 6.0),
])
def test_bar_to_beats(signature: tuple[int, int], bar: float, beats: float) -> None:
    assert SessionInfo(120.0, signature, 1.0, 48000).bar_to_beats(bar) == beats


def test_bar_to_seconds() -> None:
    assert SessionInfo(90.0, (4, 4), 1.0, 44100).bar_to_seconds(3) == pytest.approx(8 / 1.5)


@pytest.mark.parametrize("kwargs", [
    {"bpm": 0.0}, {"bpm": float("inf")}, {"time_signature": (4, 3)},
    {"time_signature": (0, 4)}, {"cursor_bar": 0.5}, {"cursor_bar": float("nan")},
    {"sample_rate": 0},
])
def test_bad_session_facts(kwargs: dict) -> None:
    facts = {"bpm": 120.0, "time_signature": (4, 4), "cursor_bar": 1.0, "sample_rate": 48000}
    with pytest.raises(ValueError):
        SessionInfo(**{**facts, **kwargs})
