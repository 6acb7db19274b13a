"""How loud a take is, frame by frame, and which frames are loud enough to hold a note."""

from __future__ import annotations

import numpy as np

WINDOW = 0.02  # seconds of audio per loudness frame
FLOOR_PERCENTILE = 5  # the quietest frames of a take are its room noise...
PEAK_PERCENTILE = 98  # ...and these its sung level
ABOVE_FLOOR_DB = 8.0  # a note stands this far above the room...
BELOW_PEAK_DB = (20.0, 40.0)  # ...and within these of the sung level (closest, furthest)


def frame_db(audio: np.ndarray, sample_rate: int, hop: float) -> np.ndarray:
    """Level in dB (full scale) of `WINDOW`-second frames centred every `hop` seconds."""
    step = hop * sample_rate
    width = max(1, round(WINDOW * sample_rate))
    frames = 1 + int(len(audio) / step)
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(audio, np.float64) ** 2)])
    centres = np.round(np.arange(frames) * step).astype(np.int64)
    lo = np.clip(centres - width // 2, 0, len(audio))
    hi = np.clip(centres + width - width // 2, 0, len(audio))
    mean = (energy[hi] - energy[lo]) / width
    return 10 * np.log10(mean + 1e-12)


def loud_enough(db: np.ndarray) -> np.ndarray:
    """Frames loud enough to be sung (bool): above the take's own noise floor, and not too far
    under its sung level, so the threshold follows the microphone's gain."""
    floor = np.percentile(db, FLOOR_PERCENTILE)
    peak = np.percentile(db, PEAK_PERCENTILE)
    closest, furthest = BELOW_PEAK_DB
    threshold = min(max(floor + ABOVE_FLOOR_DB, peak - furthest), peak - closest)
    return db > threshold
