"""Which key a chroma profile is in: Krumhansl-Kessler key profiles, best correlation wins."""

from __future__ import annotations

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_key(chroma: np.ndarray) -> str:
    """"A minor"-style key of a 12-bin chroma profile (C first), summed over time."""
    chroma = np.asarray(chroma, dtype=np.float64)
    best, name = -np.inf, "C major"
    for tonic in range(12):
        for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            score = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
            if score > best:
                best, name = score, f"{NOTE_NAMES[tonic]} {mode}"
    return name
