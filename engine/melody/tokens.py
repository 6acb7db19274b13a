"""Melody tokens: one pitch class (or a rest) per generator frame.

Every melody source (a hummed take, a MIDI clip, the corpus's lead line) ends as a list of
``MelodyNote`` in seconds; ``melody_tokens`` turns it into the frame-rate sequence the
generator conditions on. Pitch classes, not pitches, as MusicGen's chromagram: the octave a
producer hums in says nothing about the register the lead should play in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

REST = 0  # a frame with no melody note
NO_MELODY = 13  # the whole condition is absent (dropped in training, or not given)
VOCAB = 14  # rest, 12 pitch classes (C = 1), no-melody


@dataclass(frozen=True)
class MelodyNote:
    """One note of a melody: start and end in seconds, MIDI pitch."""

    start: float
    end: float
    pitch: int


def melody_tokens(notes: Sequence[MelodyNote], frames: int, frame_rate: float) -> np.ndarray:
    """(frames,) int64: 1 + pitch class of the note sounding at each frame's centre, else REST.
    Where notes overlap, the highest sounds (the skyline a listener hears as the tune)."""
    tokens = np.full(frames, REST, dtype=np.int64)
    best = np.full(frames, -1, dtype=np.int64)
    for note in notes:
        first = max(0, int(np.ceil(note.start * frame_rate - 0.5)))
        last = min(frames, int(np.ceil(note.end * frame_rate - 0.5)))
        span = slice(first, last)
        higher = best[span] < note.pitch
        tokens[span][higher] = 1 + note.pitch % 12
        best[span][higher] = note.pitch
    return tokens
