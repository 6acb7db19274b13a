"""Pick the melody out of a multi-part MIDI file: choose the most melodic part, then reduce it
to one line by the skyline rule (the highest sounding note wins).

A part is one channel of one track (a type-0 file keeps every instrument in one track, told
apart only by channel). Drums (channel 10) are never a melody. Times here are ticks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

DRUM_CHANNEL = 9  # channel 10, counted from 0
# Part names that say "this is the tune"; producers name tracks.
_MELODY_NAME = re.compile(r"lead|melod|vocal|voice|tune|theme|solo|hum|topline", re.IGNORECASE)
_NAME_BONUS = 12.0
# Score: mean pitch (in semitones), less this much for a fully polyphonic part...
_POLYPHONY_PENALTY = 24.0
# ...plus this much per distinct pitch, up to a few: a tune moves, a drone or a pad does not.
_VARIETY_BONUS = 2.0
_VARIETY_CAP = 6


@dataclass(frozen=True)
class Span:
    """One note of a part, in ticks; ``end`` is exclusive."""

    start: int
    end: int
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Part:
    """The notes of one channel of one track."""

    track: int
    channel: int
    name: str
    spans: tuple[Span, ...]

    @property
    def is_drums(self) -> bool:
        """Whether the part is on the General MIDI drum channel."""
        return self.channel == DRUM_CHANNEL


def choose_part(parts: Sequence[Part], tolerance: int) -> Part | None:
    """The most melodic non-drum part, or None if there is none with notes.

    High, moving, one-note-at-a-time parts score best; a name such as "Lead" or "Melody" helps.
    ``tolerance`` (ticks) is how far apart two onsets may be and still count as one chord.
    """
    candidates = [part for part in parts if part.spans and not part.is_drums]
    if not candidates:
        return None
    return max(candidates, key=lambda part: _melodic_score(part, tolerance))


def skyline(spans: Sequence[Span], tolerance: int) -> list[Span]:
    """Reduce notes to one line: at each onset keep the highest note starting there, unless a
    higher note is still sounding; each kept note is cut where the next one starts.

    Onsets each within ``tolerance`` ticks of the one before are one chord (a strum or a
    sloppy recording), so its lowest note never survives as a blip before the top one.
    """
    ordered = sorted(spans, key=lambda span: (span.start, -span.pitch))
    line: list[Span] = []
    held: list[Span] = []  # kept notes and dropped notes still sounding, to shadow lower ones
    i = 0
    while i < len(ordered):
        group_end = i + 1
        while (group_end < len(ordered)
               and ordered[group_end].start - ordered[group_end - 1].start <= tolerance):
            group_end += 1
        group = ordered[i:group_end]
        onset = group[0].start
        top = max(group, key=lambda span: span.pitch)
        held = [span for span in held if span.end > onset + tolerance]
        if all(span.pitch < top.pitch for span in held):
            if line and line[-1].end > onset:
                last = line[-1]
                line[-1] = Span(last.start, onset, last.pitch, last.velocity)
            line.append(Span(onset, top.end, top.pitch, top.velocity))
        held.extend(group)
        i = group_end
    return [span for span in line if span.end > span.start]


def _melodic_score(part: Part, tolerance: int) -> float:
    line = skyline(part.spans, tolerance)
    mean_pitch = sum(span.pitch for span in line) / len(line)
    variety = min(len({span.pitch for span in line}), _VARIETY_CAP)
    bonus = _NAME_BONUS if _MELODY_NAME.search(part.name) else 0.0
    return (mean_pitch - _POLYPHONY_PENALTY * _polyphony(part.spans, tolerance)
            + _VARIETY_BONUS * variety + bonus)


def _polyphony(spans: Sequence[Span], tolerance: int) -> float:
    """Share of notes that overlap another note of the part by more than ``tolerance``."""
    ordered = sorted(spans, key=lambda span: span.start)
    overlapping = [False] * len(ordered)
    latest_end, latest = -math.inf, -1  # the note reaching furthest so far
    for i, span in enumerate(ordered):
        if latest_end - span.start > tolerance:
            overlapping[i] = overlapping[latest] = True
        if span.end > latest_end:
            latest_end, latest = span.end, i
    return sum(overlapping) / len(ordered)
