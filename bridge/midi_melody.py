"""The melody of a MIDI file: the one picker both sides use, so the studio shows the part and
the line the engine will follow.

Note-ons are paired with their note-offs here (the one place MIDI messages become timed notes),
the part that carries the tune is chosen, and it is reduced to one line. A part is one channel
of one track (a type-0 file keeps every instrument in one track, told apart only by channel).
Drums (channel 10) are never the tune. A part whose name says it is the tune (lead, melody,
vocal, ...) wins; otherwise the highest, most single-voiced part that moves. Within the part the
skyline rule makes one line: the highest note wins.

Free of torch and of mido itself: messages are anything with mido's attributes (``type``,
``time`` in delta ticks, and ``channel``, ``note``, ``velocity`` on notes, ``name`` on a
track name), so the bridge needs no MIDI library and both sides pass mido's own messages.
Times here are ticks.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

DRUM_CHANNEL = 9  # channel 10, counted from 0
MELODY_NAME = re.compile(r"lead|melod|vocal|voice|sing|tune|theme|solo|hum|topline", re.I)
POLYPHONY_PENALTY = 24.0  # semitones off the mean pitch of a fully chordal part
VARIETY_BONUS = 2.0  # semitones per distinct pitch (up to VARIETY_CAP): a tune moves
VARIETY_CAP = 6
CHORD_SPREAD = 1 / 16  # beats: onsets closer than this are one chord (a strum, a sloppy take)


@dataclass(frozen=True)
class TickNote:
    """One note in ticks from the stream's start; ``end`` is exclusive."""

    start: int
    end: int
    channel: int
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Part:
    """The notes of one channel of one track, sorted by (start, end, pitch)."""

    track: int
    channel: int
    name: str
    notes: tuple[TickNote, ...]

    @property
    def label(self) -> str:
        """The part's name, or where it is when it has none."""
        return self.name.strip() or f"track {self.track + 1}, channel {self.channel + 1}"


def pair_notes(messages: Iterable[Any]) -> tuple[list[TickNote], int]:
    """Notes of a delta-timed message stream, and the stream's length in ticks.

    Overlapping notes of one key on one channel pair first in, first out; a note-on at
    velocity 0 is a note-off; a note still sounding at the end ends there.
    """
    sounding: defaultdict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
    notes: list[TickNote] = []
    now = 0
    for message in messages:
        now += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        voice = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            sounding[voice].append((now, message.velocity))
        elif sounding[voice]:
            start, velocity = sounding[voice].popleft()
            notes.append(TickNote(start, now, message.channel, message.note, velocity))
    for (channel, pitch), starts in sounding.items():
        notes.extend(TickNote(start, now, channel, pitch, velocity) for start, velocity in starts)
    return notes, now


def read_parts(tracks: Sequence[Iterable[Any]]) -> list[Part]:
    """Every (track, channel) with notes, each track's notes paired on their own (a note
    still sounding at the end of its track ends there)."""
    parts: list[Part] = []
    for index, track in enumerate(tracks):
        messages = list(track)
        name = next((m.name for m in messages if m.type == "track_name"), "")
        by_channel: defaultdict[int, list[TickNote]] = defaultdict(list)
        for note in pair_notes(messages)[0]:
            by_channel[note.channel].append(note)
        parts.extend(Part(index, channel, name, tuple(sorted(found, key=_order)))
                     for channel, found in sorted(by_channel.items()))
    return parts


def chord_spread(ticks_per_beat: int) -> int:
    """``CHORD_SPREAD`` in ticks (at least one)."""
    return max(1, round(ticks_per_beat * CHORD_SPREAD))


def choose_part(parts: Sequence[Part], spread: int) -> Part | None:
    """The part that carries the tune, or None when no part other than drums has notes: the
    most melodic of the parts named as the tune if there are any, else of all of them. Notes
    that end where they start are not heard: a part of only those has no notes."""
    candidates = [part for part in parts if part.channel != DRUM_CHANNEL
                  and any(note.end > note.start for note in part.notes)]
    named = [part for part in candidates if MELODY_NAME.search(part.name)]
    if not candidates:
        return None
    return max(named or candidates, key=lambda part: melodic_score(part, spread))


def melody_line(tracks: Sequence[Iterable[Any]], ticks_per_beat: int
                ) -> tuple[Part, list[TickNote]] | None:
    """The chosen part of a file's tracks and its skyline, or None when it has no melody."""
    spread = chord_spread(ticks_per_beat)
    part = choose_part(read_parts(tracks), spread)
    return None if part is None else (part, skyline(part.notes, spread))


def skyline(notes: Sequence[TickNote], spread: int) -> list[TickNote]:
    """One line out of notes: at each onset the highest note starting there, unless a higher
    kept note still sounds; each kept note ends where the next starts. Onsets each within
    `spread` ticks of the previous one form one chord."""
    ordered = sorted(notes, key=lambda n: (n.start, -n.pitch))
    line: list[TickNote] = []
    i = 0
    while i < len(ordered):
        j = i + 1
        while j < len(ordered) and ordered[j].start - ordered[j - 1].start <= spread:
            j += 1
        top = max(ordered[i:j], key=lambda n: n.pitch)
        i = j
        if line and line[-1].end > top.start + spread and line[-1].pitch > top.pitch:
            continue  # under a higher note still sounding: an inner voice
        if line and line[-1].end > top.start:
            line[-1] = _until(line[-1], top.start)
        line.append(top)
    return [note for note in line if note.end > note.start]


def melodic_score(part: Part, spread: int) -> float:
    """How much `part` looks like a tune: mean pitch of its skyline, less a penalty for
    chords, plus a bonus for moving between pitches."""
    line = skyline(part.notes, spread)
    mean_pitch = sum(n.pitch for n in line) / len(line)
    variety = min(len({n.pitch for n in line}), VARIETY_CAP)
    return mean_pitch - POLYPHONY_PENALTY * polyphony(part.notes, spread) + VARIETY_BONUS * variety


def polyphony(notes: Sequence[TickNote], spread: int) -> float:
    """Share of notes that overlap another note by more than `spread` ticks."""
    overlapping = [False] * len(notes)
    reach, holder = -1, -1  # the furthest end so far and the note that has it
    for i, note in enumerate(sorted(notes, key=_order)):
        if reach - note.start > spread:
            overlapping[i] = overlapping[holder] = True
        if note.end > reach:
            reach, holder = note.end, i
    return sum(overlapping) / len(notes)


def _order(note: TickNote) -> tuple[int, int, int]:
    return note.start, note.end, note.pitch


def _until(note: TickNote, end: int) -> TickNote:
    return TickNote(note.start, end, note.channel, note.pitch, note.velocity)
