"""Reading notes from real MIDI files, timed in beats."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from plugin_host.daw.midi_notes import MidiNote, read_midi_notes


def _save(tmp_path: Path, tracks: list[list[mido.Message]], ticks_per_beat: int) -> Path:
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    path = tmp_path / "notes.mid"
    midi.save(path)
    return path


def test_tracks_merge_overlaps_pair_in_order_and_hanging_notes_end(tmp_path: Path) -> None:
    on, off = "note_on", "note_off"
    path = _save(tmp_path, [
        [mido.Message(on, note=60, velocity=90, time=0),
         mido.Message(on, note=60, velocity=50, time=48),   # same key again, overlapping
         mido.Message(off, note=60, time=48),                # ends the first one
         mido.Message(off, note=60, time=96)],               # ends the second one
        [mido.Message(on, note=72, velocity=127, channel=9, time=96),
         mido.MetaMessage("end_of_track", time=288)],        # never released
    ], ticks_per_beat=96)
    clip = read_midi_notes(path)
    assert clip.notes == (
        MidiNote(0.0, 1.0, 60, 90, 0),
        MidiNote(0.5, 1.5, 60, 50, 0),
        MidiNote(1.0, 3.0, 72, 127, 9),
    )
    assert clip.length_beats == 4.0


def test_not_midi_raises_value_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.mid"
    path.write_bytes(b"MThd but then garbage")
    with pytest.raises(ValueError):
        read_midi_notes(path)
