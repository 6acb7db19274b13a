"""Pair note-ons with their note-offs: the one place MIDI messages become timed notes."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

import mido


@dataclass(frozen=True)
class TickNote:
    """One note in ticks from the stream's start; ``end`` is exclusive."""

    start: int
    end: int
    channel: int
    pitch: int
    velocity: int


def pair_notes(messages: Iterable[mido.Message]) -> tuple[list[TickNote], int]:
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
