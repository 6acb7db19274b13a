"""A melody on the musical grid: a hum keeps the rhythm it was sung in, and every note snaps
to sixteenths.

How a hum's seconds become the request's beats is its timing: sung to the request's click
(``click``: the take starts on the downbeat, its seconds are kept), sung freely (``free``: its
own tempo and first downbeat are found and its beats become the request's), or stretched as
a whole over the requested bars (``stretch``, only when the producer asks for it). Whatever
runs past the last bar is cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from engine.melody.tempo import find_pulse
from engine.melody.tokens import MelodyNote

STEPS_PER_BEAT = 4  # sixteenth notes; a beat is a quarter note, as the engine's BPM counts
Timing = Literal["click", "free", "stretch"]


def fit_to_grid(notes: Sequence[MelodyNote], bpm: float, bars: int, beats_per_bar: float,
                timing: Timing = "click") -> list[MelodyNote]:
    """`notes` as a melody of at most `bars` bars at `bpm`, quantized to sixteenths.

    ``click``: the take was sung to the clip's tempo from its first sample and keeps its
    timing. ``free``: it was sung at its own tempo; its beats are found and laid on the
    request's, its first downbeat on bar 1. ``stretch``: it is moved to start on the first
    beat and stretched (or squeezed) so that its last note ends with the last bar. Notes
    past the end are cut.
    """
    if not notes:
        return []
    length = bars * beats_per_bar * 60.0 / bpm
    if timing == "stretch":
        notes = stretched(notes, length)
    elif timing == "free":
        notes = on_the_beat(notes, bpm, beats_per_bar)
    elif timing != "click":
        raise ValueError(f"unknown melody timing {timing!r}")
    return quantize(notes, 60.0 / bpm / STEPS_PER_BEAT, length)


def on_the_beat(notes: Sequence[MelodyNote], bpm: float,
                beats_per_bar: float) -> list[MelodyNote]:
    """A take sung at its own tempo, in seconds at `bpm`: each sung beat lasts one of the
    request's beats and the take's first downbeat is at 0. Too few notes to hear a beat in
    keep their seconds, the first note at 0."""
    pulse = find_pulse(notes, beats_per_bar, expected_bpm=bpm)
    if pulse is None:
        origin = min(note.start for note in notes)
        return [MelodyNote(n.start - origin, n.end - origin, n.pitch) for n in notes]
    beat = 60.0 / bpm
    return [MelodyNote(pulse.beats(n.start) * beat, pulse.beats(n.end) * beat, n.pitch)
            for n in notes]


def stretched(notes: Sequence[MelodyNote], length: float) -> list[MelodyNote]:
    """The take moved to start at 0 and scaled so that its last note ends at `length`."""
    origin = min(note.start for note in notes)
    span = max(note.end for note in notes) - origin
    scale = length / span if span > 0 else 1.0
    return [MelodyNote((n.start - origin) * scale, (n.end - origin) * scale, n.pitch)
            for n in notes]


def quantize(notes: Sequence[MelodyNote], step: float,
             length: float | None = None) -> list[MelodyNote]:
    """Onsets and ends snapped to multiples of `step` seconds, one line of notes: each note
    lasts at least one step and ends where the next begins at the latest; of notes snapped
    to one onset the longest stays. With `length`, nothing sounds past it."""
    last = round(length / step) if length is not None else None
    chosen: dict[int, tuple[float, int, int]] = {}  # onset step → (duration, end step, pitch)
    for note in notes:
        start = max(0, round(note.start / step))
        end = max(start + 1, round(note.end / step))
        if last is not None:
            if start >= last:
                continue
            end = min(end, last)
        duration = note.end - note.start
        if start not in chosen or duration > chosen[start][0]:
            chosen[start] = (duration, end, note.pitch)
    onsets = sorted(chosen)
    line = []
    for k, start in enumerate(onsets):
        _, end, pitch = chosen[start]
        if k + 1 < len(onsets):
            end = min(end, onsets[k + 1])
        line.append(MelodyNote(start * step, end * step, pitch))
    return line
