"""Move a melody into a requested key: the transposition whose pitch classes fit it best."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bridge.keys import NOTE_NAMES, parse_key
from engine.melody.tokens import MelodyNote

# Krumhansl & Kessler's probe-tone ratings: how well each pitch class above the tonic fits.
PROFILES = {
    "major": (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
    "minor": (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
}


def key_shift(notes: Sequence[MelodyNote], key_name: str) -> int:
    """Semitones (-6..5) that best fit `notes` into the key: the shift whose duration-weighted
    pitch-class histogram correlates best with the key's profile (the smaller move on a tie)."""
    key = parse_key(key_name)
    tonic, mode = key.tonic, key.mode
    histogram = _pitch_classes(notes)
    if not histogram.any():
        return 0
    profile = np.roll(np.array(PROFILES[mode]), tonic)
    scores = {shift: np.corrcoef(np.roll(histogram, shift), profile)[0, 1]
              for shift in sorted(range(-6, 6), key=abs)}
    return max(scores, key=lambda shift: np.nan_to_num(scores[shift], nan=-1.0))


def melody_key(notes: Sequence[MelodyNote]) -> str:
    """The key a melody's duration-weighted pitch classes fit best ("" for no notes): what
    the accompaniment of a tune given without a key is planned in."""
    histogram = _pitch_classes(notes)
    return estimate_key(histogram) if histogram.any() else ""


def _pitch_classes(notes: Sequence[MelodyNote]) -> np.ndarray:
    """(12,) seconds each pitch class sounds in ``notes`` (C first)."""
    histogram = np.zeros(12)
    for note in notes:
        histogram[note.pitch % 12] += note.end - note.start
    return histogram


def transpose_to_key(notes: Sequence[MelodyNote], key_name: str) -> list[MelodyNote]:
    """`notes` moved by `key_shift` semitones into the key named `key_name`."""
    shift = key_shift(notes, key_name)
    return [MelodyNote(note.start, note.end, note.pitch + shift) for note in notes]



def estimate_key(chroma: np.ndarray) -> str:
    """"A minor"-style key of a 12-bin chroma profile (C first, summed over time): the key
    whose profile correlates best with it."""
    chroma = np.asarray(chroma, dtype=np.float64)
    scores = {f"{NOTE_NAMES[tonic]} {mode}": np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
              for mode, profile in PROFILES.items() for tonic in range(12)}
    return max(scores, key=lambda name: np.nan_to_num(scores[name], nan=-1.0))
