"""A melody from a MIDI file: choose the part that carries the tune, reduce it to one line.

A part is one channel of one track (a type-0 file keeps every instrument in one track, told
apart only by channel). Drums (channel 10) are never the tune. A part whose name says it is
the tune (lead, melody, vocal, ...) wins; otherwise the highest, most single-voiced part
that moves. Within the part the skyline rule makes one line: the highest note wins.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

import mido

from engine.melody.tokens import MelodyNote

DRUM_CHANNEL = 9  # channel 10, counted from 0
MELODY_NAME = re.compile(r"lead|melod|vocal|voice|sing|tune|theme|solo|hum|topline", re.I)
POLYPHONY_PENALTY = 24.0  # semitones off the mean pitch of a fully chordal part
VARIETY_BONUS = 2.0  # semitones per distinct pitch (up to VARIETY_CAP): a tune moves
VARIETY_CAP = 6
CHORD_SPREAD = 1 / 16  # beats: onsets closer than this are one chord (a strum, a sloppy take)
DEFAULT_TEMPO = 500000  # µs per beat (120 BPM) until a file says otherwise


@dataclass(frozen=True)
class Part:
    """The notes of one channel of one track, in ticks: (start, end, pitch) each."""

    track: int
    channel: int
    name: str
    notes: tuple[tuple[int, int, int], ...]


def midi_melody(midi: mido.MidiFile, bpm: float | None = None) -> list[MelodyNote]:
    """The melody of `midi` in seconds (empty when no part other than drums has notes): under
    the file's tempo map, or with `bpm` beat for beat at that tempo (a clip played in a
    session at another tempo keeps its rhythm)."""
    parts = [part for part in read_parts(midi) if part.notes and part.channel != DRUM_CHANNEL]
    if not parts:
        return []
    spread = max(1, round(midi.ticks_per_beat * CHORD_SPREAD))
    named = [part for part in parts if MELODY_NAME.search(part.name)]
    part = max(named or parts, key=lambda p: melodic_score(p, spread))
    seconds = tick_clock(midi, bpm)
    return [MelodyNote(seconds(a), seconds(b), p) for a, b, p in skyline(part.notes, spread)]


def read_parts(midi: mido.MidiFile) -> list[Part]:
    """Every (track, channel) of `midi` with its notes paired (note-on to note-off, first in
    first out per key; a note still sounding at the end of its track ends there)."""
    parts = []
    for index, track in enumerate(midi.tracks):
        name = next((m.name for m in track if m.type == "track_name"), "")
        sounding: defaultdict[tuple[int, int], deque[int]] = defaultdict(deque)
        notes: defaultdict[int, list[tuple[int, int, int]]] = defaultdict(list)
        now = 0
        for message in track:
            now += message.time
            if message.type not in ("note_on", "note_off"):
                continue
            key = (message.channel, message.note)
            if message.type == "note_on" and message.velocity > 0:
                sounding[key].append(now)
            elif sounding[key]:
                notes[message.channel].append((sounding[key].popleft(), now, message.note))
        for (channel, pitch), starts in sounding.items():
            notes[channel].extend((start, now, pitch) for start in starts)
        parts.extend(Part(index, channel, name, tuple(sorted(found)))
                     for channel, found in sorted(notes.items()))
    return parts


def skyline(notes: tuple[tuple[int, int, int], ...], spread: int) -> list[tuple[int, int, int]]:
    """One line out of (start, end, pitch) notes: at each onset the highest note starting
    there, unless a higher kept note still sounds; each kept note ends where the next starts.
    Onsets each within `spread` ticks of the previous one form one chord."""
    ordered = sorted(notes, key=lambda n: (n[0], -n[2]))
    line: list[tuple[int, int, int]] = []
    i = 0
    while i < len(ordered):
        j = i + 1
        while j < len(ordered) and ordered[j][0] - ordered[j - 1][0] <= spread:
            j += 1
        start, end, pitch = max(ordered[i:j], key=lambda n: n[2])
        if line and line[-1][1] > start + spread and line[-1][2] > pitch:
            i = j
            continue  # under a higher note still sounding: an inner voice
        if line and line[-1][1] > start:
            line[-1] = (line[-1][0], start, line[-1][2])
        line.append((start, end, pitch))
        i = j
    return [note for note in line if note[1] > note[0]]


def melodic_score(part: Part, spread: int) -> float:
    """How much `part` looks like a tune: mean pitch of its skyline, less a penalty for
    chords, plus a bonus for moving between pitches."""
    line = skyline(part.notes, spread)
    mean_pitch = sum(p for _, _, p in line) / len(line)
    variety = min(len({p for _, _, p in line}), VARIETY_CAP)
    return mean_pitch - POLYPHONY_PENALTY * polyphony(part.notes, spread) + VARIETY_BONUS * variety


def polyphony(notes: tuple[tuple[int, int, int], ...], spread: int) -> float:
    """Share of notes that overlap another note by more than `spread` ticks."""
    overlapping = [False] * len(notes)
    reach, holder = -1, -1  # the furthest end so far and the note that has it
    for i, (start, end, _) in enumerate(sorted(notes)):
        if reach - start > spread:
            overlapping[i] = overlapping[holder] = True
        if end > reach:
            reach, holder = end, i
    return sum(overlapping) / len(notes)


def tick_clock(midi: mido.MidiFile, bpm: float | None = None) -> Callable[[int], float]:
    """A function from absolute ticks to seconds under the file's tempo map (the tempo
    changes of every track, as a type-1 file may put them anywhere), or at a constant `bpm`."""
    if bpm is not None:
        return lambda tick: tick / midi.ticks_per_beat * 60.0 / bpm
    changes: dict[int, int] = {0: DEFAULT_TEMPO}
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type == "set_tempo":
                changes[now] = message.tempo
    ticks = sorted(changes)
    tempos = [changes[t] for t in ticks]
    elapsed = [0.0]
    for k in range(1, len(ticks)):
        elapsed.append(elapsed[-1] + mido.tick2second(ticks[k] - ticks[k - 1], midi.ticks_per_beat,
                                                      tempos[k - 1]))

    def seconds(tick: int) -> float:
        k = bisect_right(ticks, tick) - 1
        return elapsed[k] + mido.tick2second(tick - ticks[k], midi.ticks_per_beat, tempos[k])

    return seconds
