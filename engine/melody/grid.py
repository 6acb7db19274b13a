"""A melody on the musical grid: a hum sung at its own tempo is stretched over the requested
bars, and every note snaps to sixteenths."""

from __future__ import annotations

from collections.abc import Sequence

from engine.melody.tokens import MelodyNote

STEPS_PER_BEAT = 4  # sixteenth notes; a beat is a quarter note, as the engine's BPM counts


def fit_to_grid(notes: Sequence[MelodyNote], bpm: float, bars: int, beats_per_bar: float,
                free_tempo: bool = True) -> list[MelodyNote]:
    """`notes` as a melody of exactly `bars` bars at `bpm`, quantized to sixteenths.

    With `free_tempo` the take was sung without a click: it is moved to start on the first
    beat and stretched (or squeezed) so that its last note ends with the last bar. Without
    it the take was sung to the clip's tempo and keeps its timing; notes past the end are cut.
    """
    if not notes:
        return []
    length = bars * beats_per_bar * 60.0 / bpm
    if free_tempo:
        origin = min(note.start for note in notes)
        span = max(note.end for note in notes) - origin
        scale = length / span if span > 0 else 1.0
        notes = [MelodyNote((n.start - origin) * scale, (n.end - origin) * scale, n.pitch)
                 for n in notes]
    return quantize(notes, 60.0 / bpm / STEPS_PER_BEAT, length)


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
