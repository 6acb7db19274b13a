"""The transcription as a MIDI clip: a type-1 file with the tempo, quantized, that reads back
as the same melody."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import pytest

from engine.melody.from_midi import midi_melody
from engine.melody.load import load_melody
from engine.melody.to_midi import melody_to_midi
from engine.melody.tokens import MelodyNote as Note


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    """Written at 90 BPM and read back (by the engine's own loader): the notes snapped to
    sixteenths (1/6 s) and nothing else changed."""
    sixteenth = 60 / 90 / 4
    notes = [Note(0.0, 4 * sixteenth, 62), Note(4 * sixteenth + 0.02, 6 * sixteenth, 64),
             Note(6 * sixteenth, 12 * sixteenth - 0.03, 66),
             Note(16 * sixteenth, 20 * sixteenth, 61)]
    path = tmp_path / "melody.mid"
    path.write_bytes(melody_to_midi(notes, 90))
    back = load_melody(path)
    assert [n.pitch for n in back] == [62, 64, 66, 61]
    # (a MIDI tempo is whole microseconds per beat: 90 BPM is 666 667 µs, not 666 666.67)
    assert [(round(n.start / sixteenth, 4), round(n.end / sixteenth, 4)) for n in back] == [
        (0, 4), (4, 6), (6, 12), (16, 20)]


def test_file_layout_tempo_and_track() -> None:
    """Type 1: a tempo track with the BPM, a named melody track on channel 1."""
    midi = mido.MidiFile(file=io.BytesIO(melody_to_midi([Note(0.5, 1.0, 69)], 128, "Hum")))
    assert midi.type == 1 and len(midi.tracks) == 2
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert [round(mido.tempo2bpm(t), 3) for t in tempos] == [128.0]
    names = [m.name for m in midi.tracks[1] if m.type == "track_name"]
    notes = [m for m in midi.tracks[1] if m.type == "note_on"]
    assert names == ["Hum"] and [(m.channel, m.note) for m in notes] == [(0, 69)]
    sixteenth = 60 / 128 / 4  # 0.5 s is 4.27 sixteenths, 1.0 s is 8.53
    assert [(n.start, n.end, n.pitch) for n in midi_melody(midi)] == [
        (pytest.approx(4 * sixteenth), pytest.approx(9 * sixteenth), 69)]


def test_an_empty_melody_is_a_valid_empty_clip() -> None:
    """No notes still makes a file a DAW opens: the tempo and an empty track."""
    midi = mido.MidiFile(file=io.BytesIO(melody_to_midi([], 100)))
    assert len(midi.tracks) == 2 and midi_melody(midi) == []
