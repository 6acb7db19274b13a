"""Read the notes of a Standard MIDI File in beats, for adapters that write notes, not files."""

from __future__ import annotations

import os
from collections import defaultdict, deque
from dataclasses import dataclass

import mido


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
    sounding: defaultdict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
    spans: list[tuple[int, int, int, int, int]] = []
    now = 0
    for message in mido.merge_tracks(midi.tracks):
        now += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        voice = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            sounding[voice].append((now, message.velocity))
        elif sounding[voice]:  # note_off, or note_on with velocity 0
            start, velocity = sounding[voice].popleft()
            spans.append((start, now, message.note, velocity, message.channel))
    for (channel, key), starts in sounding.items():
        spans.extend((start, now, key, velocity, channel) for start, velocity in starts)
    notes = tuple(
        MidiNote(start / ticks_per_beat, (end - start) / ticks_per_beat, key, velocity, channel)
        for start, end, key, velocity, channel in sorted(spans)
    )
    return MidiClip(notes=notes, length_beats=now / ticks_per_beat)
