"""Fitting a melody to bars and BPM, and moving it into a key."""

from __future__ import annotations

import pytest

from bridge.keys import Key, parse_key
from engine.melody.grid import fit_to_grid, quantize
from engine.melody.key import key_shift, melody_key, transpose_to_key
from engine.melody.tokens import MelodyNote as Note


def test_a_hum_asked_to_stretch_fills_the_bars_and_snaps_to_sixteenths() -> None:
    """Sung at about 75 BPM starting 0.43 s in, stretched over 2 bars of 4/4 at 120 BPM (4 s):
    the first note starts the clip, the last ends it, every edge lies on a sixteenth."""
    beat = 0.8  # the singer's beat
    sung = [Note(0.43 + a * beat + wobble, 0.43 + b * beat, p) for a, b, p, wobble in
            [(0, 1, 60, 0.0), (1, 1.5, 62, 0.03), (1.5, 2, 64, -0.02), (2, 4, 65, 0.01),
             (4, 6, 67, 0.0), (6, 8, 64, 0.02)]]
    fitted = fit_to_grid(sung, bpm=120, bars=2, beats_per_bar=4, timing="stretch")
    assert [(n.start, n.end, n.pitch) for n in fitted] == [
        (0.0, 0.5, 60), (0.5, 0.75, 62), (0.75, 1.0, 64), (1.0, 2.0, 65), (2.0, 3.0, 67),
        (3.0, 4.0, 64)]


def test_a_hum_sung_to_the_click_keeps_its_timing_and_is_cut_at_the_end() -> None:
    """Sung to the click, onsets only snap (to 0.125 s at 120 BPM); what runs past one bar
    is cut, what starts after it is dropped."""
    sung = [Note(0.06, 0.49, 60), Note(0.51, 1.3, 62), Note(1.7, 2.4, 64), Note(2.2, 2.5, 65)]
    fitted = fit_to_grid(sung, bpm=120, bars=1, beats_per_bar=4, timing="click")
    assert [(n.start, n.end, n.pitch) for n in fitted] == [
        (0.0, 0.5, 60), (0.5, 1.25, 62), (1.75, 2.0, 64)]


def test_quantize_keeps_one_line() -> None:
    """Two notes snapping to one onset: the longer stays; a note shorter than a step lasts
    a step; a note reaching past the next onset ends there."""
    notes = [Note(0.0, 0.4, 60), Note(0.02, 0.1, 72), Note(0.5, 0.52, 62), Note(0.62, 1.0, 64)]
    assert [(n.start, n.end, n.pitch) for n in quantize(notes, 0.125)] == [
        (0.0, 0.375, 60), (0.5, 0.625, 62), (0.625, 1.0, 64)]


def test_fit_to_grid_of_nothing_is_nothing() -> None:
    """An empty melody stays empty."""
    assert fit_to_grid([], bpm=100, bars=4, beats_per_bar=4) == []


def test_a_free_hum_is_laid_on_the_bars_by_its_own_beats() -> None:
    """The same tune sung freely at 100 BPM, fitted to 4 bars at 120 BPM: each sung beat
    becomes one of the request's (two bars' worth), not stretched over all four; an unknown
    timing is refused."""
    beat = 0.6
    sung = [Note(0.43 + a * beat + wobble, 0.43 + b * beat, p) for a, b, p, wobble in
            [(0, 1, 60, 0.0), (1, 1.5, 62, 0.03), (1.5, 2, 64, -0.02), (2, 4, 65, 0.01),
             (4, 6, 67, 0.0), (6, 8, 64, 0.02)]]
    fitted = fit_to_grid(sung, bpm=120, bars=4, beats_per_bar=4, timing="free")
    assert [(n.start, n.end, n.pitch) for n in fitted] == [
        (0.0, 0.5, 60), (0.5, 0.75, 62), (0.75, 1.0, 64), (1.0, 2.0, 65), (2.0, 3.0, 67),
        (3.0, 4.0, 64)]
    with pytest.raises(ValueError, match="unknown melody timing"):
        fit_to_grid(sung, bpm=120, bars=4, beats_per_bar=4, timing="rubato")  # type: ignore[arg-type]


C_MAJOR_TUNE = [Note(i * 0.5, i * 0.5 + 0.5, p) for i, p in
                enumerate([60, 64, 67, 72, 71, 67, 65, 64, 62, 60, 67, 60])]


@pytest.mark.parametrize(("key", "shift"), [
    ("C major", 0), ("D major", 2), ("G major", -5), ("Bb major", -2), ("F# major", -6),
    ("Ebmaj", 3), ("A major", -3)])
def test_a_c_major_tune_moves_to_the_requested_major_key(key: str, shift: int) -> None:
    """The shift is the one that lands the tune on the new tonic, by the shorter way."""
    assert key_shift(C_MAJOR_TUNE, key) == shift
    moved = transpose_to_key(C_MAJOR_TUNE, key)
    assert [n.pitch - o.pitch for n, o in zip(moved, C_MAJOR_TUNE, strict=True)] == [shift] * 12
    assert [(n.start, n.end) for n in moved] == [(o.start, o.end) for o in C_MAJOR_TUNE]


def test_an_a_minor_tune_moves_to_the_requested_minor_key() -> None:
    """A tune around A minor's tonic and fifth goes to C minor up three, E minor down five."""
    a_minor = [Note(i * 0.5, i * 0.5 + 0.5, p) for i, p in
               enumerate([57, 60, 64, 69, 67, 65, 64, 62, 60, 59, 57, 64, 57])]
    assert key_shift(a_minor, "C minor") == 3
    assert key_shift(a_minor, "E minor") == -5
    assert key_shift(a_minor, "A minor") == 0


def test_a_tune_given_without_a_key_is_heard_in_its_own() -> None:
    """C major's scale is heard in C major, the A minor tune in A minor, each moved up a
    tone in D major and B minor; no notes, no key."""
    a_minor = [Note(i * 0.5, i * 0.5 + 0.5, p) for i, p in
               enumerate([57, 60, 64, 69, 67, 65, 64, 62, 60, 59, 57, 64, 57])]
    assert melody_key(C_MAJOR_TUNE) == "C major"
    assert melody_key(a_minor) == "A minor"
    assert melody_key(transpose_to_key(C_MAJOR_TUNE, "D major")) == "D major"
    assert melody_key(transpose_to_key(a_minor, "B minor")) == "B minor"
    assert melody_key([]) == ""


def test_key_names() -> None:
    """Names as the bridge writes them, and a few shorthands; nonsense is refused."""
    assert parse_key("A minor") == Key(9, "minor")
    assert parse_key("F# major") == Key(6, "major")
    assert parse_key("bb minor") == Key(10, "minor")
    assert parse_key("Ebm") == Key(3, "minor")
    assert parse_key("B") == Key(11, "major")
    assert parse_key("Cb major") == Key(11, "major")  # enharmonic: no crash downstream
    assert parse_key("E flat minor") == parse_key("E♭m") == Key(3, "minor")
    with pytest.raises(ValueError, match='like "A minor"'):
        parse_key("H dorian")
