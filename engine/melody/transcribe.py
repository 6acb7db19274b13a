"""A hum (or a whistle, a sung 'la', a solo instrument) to notes.

Level every 10 ms; the pitch tracker runs every 20 ms and only where the take is loud
enough to be sung (half the frames of a 10 s hum, at ~6x real time for CREPE tiny on two
cores, is what keeps extraction well inside two seconds); the contour is brought back to the
10 ms grid, where notes are segmented so onsets keep the finer grid's precision.
"""

from __future__ import annotations

import numpy as np

from engine.melody.loudness import frame_db, loud_enough
from engine.melody.pitch import track_pitch
from engine.melody.segment import segment_notes
from engine.melody.tokens import MelodyNote

HOP = 0.01  # seconds: the segmentation grid
PITCH_STRIDE = 2  # the pitch tracker runs on every second frame of it


def transcribe(audio: np.ndarray, sample_rate: int) -> list[MelodyNote]:
    """Notes of a mono take (float samples at `sample_rate`), in seconds from its start."""
    db = frame_db(audio, sample_rate, HOP)
    loud = loud_enough(db)
    near_loud = np.convolve(loud, np.ones(2 * PITCH_STRIDE - 1), "same") > 0
    track = track_pitch(audio, sample_rate, HOP * PITCH_STRIDE, near_loud[::PITCH_STRIDE])
    pitch = upsample(track.pitch, PITCH_STRIDE, len(db))
    periodicity = upsample(track.periodicity, PITCH_STRIDE, len(db))
    return segment_notes(db, loud, pitch, periodicity, HOP)


def upsample(coarse: np.ndarray, stride: int, frames: int) -> np.ndarray:
    """`coarse` (one value every `stride` frames) on the fine grid of `frames` frames: linear
    between known neighbours, the known one where only one is, NaN where neither is."""
    fine = np.arange(frames) / stride
    lo = np.minimum(np.floor(fine).astype(np.int64), len(coarse) - 1)
    hi = np.minimum(lo + 1, len(coarse) - 1)
    weight = fine - lo
    a, b = coarse[lo], coarse[hi]
    out = a * (1 - weight) + b * weight
    out = np.where(np.isnan(a), b, out)
    return np.where(np.isnan(b) & ~np.isnan(a), a, out)
