"""The melody part of real multi-track MIDI files (written with mido) and its single line."""

from __future__ import annotations

import io

import mido

from engine.melody.from_midi import midi_melody

from .helpers import beats, midi_file

DRUMS = ("drums", [(9, b / 2, b / 2 + 0.25, 81) for b in range(16)])  # high hats, very high
PAD = ("pad", [(1, 0, 4, p) for p in (72, 76, 79)] + [(1, 4, 8, p) for p in (74, 77, 81)])
BASS = ("bass", [(2, b, b + 1, 36 + (b % 2) * 7) for b in range(8)])
TUNE = [(3, 0, 1, 67), (3, 1, 1.5, 69), (3, 1.5, 2, 71), (3, 2, 4, 72), (3, 4, 5, 74),
        (3, 5, 8, 71)]


def melody(data: bytes) -> list[tuple[float, float, int]]:
    return beats(midi_melody(mido.MidiFile(file=io.BytesIO(data))))


def expected(notes: list[tuple[int, float, float, int]]) -> list[tuple[float, float, int]]:
    return [(float(a), float(b), p) for _, a, b, p in notes]


def test_unnamed_tune_beats_drums_chords_and_bass() -> None:
    """Drums are never the tune (however high); a chordal pad loses to a single line even
    where the pad sits higher; the bass is too low."""
    data = midi_file([DRUMS, PAD, BASS, ("", TUNE)])
    assert melody(data) == expected(TUNE)


def test_a_track_named_as_the_tune_wins() -> None:
    """A part named "Lead vocal" is chosen even when another single line sits higher."""
    low_tune = [(4, a, b, p - 19) for _, a, b, p in TUNE]
    high_line = [(3, b, b + 1, 84 + (b % 3)) for b in range(8)]
    data = midi_file([("counter", high_line), ("Lead Vocal", low_tune), DRUMS])
    assert melody(data) == expected(low_tune)


def test_type_0_file_parts_are_told_apart_by_channel() -> None:
    """A type-0 file holds every part in one track; channels separate them."""
    data = midi_file([DRUMS, PAD, BASS, ("", TUNE)], midi_type=0)
    assert mido.MidiFile(file=io.BytesIO(data)).type == 0
    assert melody(data) == expected(TUNE)


def test_skyline_keeps_the_top_line_of_a_harmonized_tune() -> None:
    """A tune doubled a third below reduces to its top notes, and a strummed chord (its low
    note a hundredth of a beat early) to its top note alone."""
    harmonized = [*TUNE, *[(3, a, b, p - 4) for _, a, b, p in TUNE], (3, 8, 9, 60),
                  (3, 8.01, 9, 64)]
    data = midi_file([("keys", harmonized)])
    assert melody(data) == [*expected(TUNE), (8.0, 9.0, 64)]


def test_tempo_changes_map_ticks_to_seconds() -> None:
    """A tempo change in the tempo track (120 → 60 BPM at beat 4) slows what follows."""
    data = midi_file([("", [(0, 0, 1, 60), (0, 4, 5, 62), (0, 6, 7, 64)])])
    midi = mido.MidiFile(file=io.BytesIO(data))
    midi.tracks[0].append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=4 * 480))
    notes = midi_melody(midi)
    assert [(round(n.start, 6), round(n.end, 6), n.pitch) for n in notes] == [
        (0.0, 0.5, 60), (2.0, 3.0, 62), (4.0, 5.0, 64)]


def test_drums_only_and_empty_files_have_no_melody() -> None:
    """Nothing but drums, or no notes at all, is no melody."""
    assert melody(midi_file([DRUMS])) == []
    assert melody(midi_file([("empty", [])])) == []
