"""Read the notes of a Standard MIDI File in beats, for adapters that write notes, not files."""

from __future__ import annotations

import os
from dataclasses import dataclass

import mido

from bridge.midi_melody import pair_notes


@dataclass(frozen=True)
class MidiNote:
    """One note; ``start`` and ``duration`` in quarter-note beats from the clip start."""

    start: float
    duration: float
    key: int
    velocity: int
    channel: int


@dataclass(frozen=True)
class MidiClip:
    """The notes of a MIDI file, sorted by start, and the file's length in beats."""

    notes: tuple[MidiNote, ...]
    length_beats: float


def read_midi_notes(path: str | os.PathLike[str]) -> MidiClip:
    """Read every note of every track of a MIDI file, timed in beats (the file's tempo is moot).

    Overlapping notes of one key are paired first-in, first-out; a note left sounding at the
    end of the file ends there. Raises ValueError for SMPTE-timed or unreadable files.
    """
    try:
        midi = mido.MidiFile(os.fspath(path))
    except (OSError, EOFError, KeyError, ValueError, IndexError) as error:
        raise ValueError(f"cannot read MIDI file {os.fspath(path)!r}: {error}") from error
    ticks_per_beat = midi.ticks_per_beat
    if ticks_per_beat <= 0:
        raise ValueError("SMPTE-timed MIDI files are not supported")
    spans, length = pair_notes(mido.merge_tracks(midi.tracks))
    notes = tuple(
        MidiNote(n.start / ticks_per_beat, (n.end - n.start) / ticks_per_beat, n.pitch,
                 n.velocity, n.channel)
        for n in sorted(spans, key=lambda n: (n.start, n.end, n.pitch, n.velocity, n.channel))
    )
    return MidiClip(notes=notes, length_beats=length / ticks_per_beat)
