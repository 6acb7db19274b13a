"""The one gain that brings a take to a target loudness, for placement.

Producers expect sample-pack levels: a take placed at, say, -14 LUFS, with no clip peaking
over -1 dBTP. Every stem of a take gets the same gain, so the stems keep their balance and
their sum is still the take's mix, now at the target (or as close as the peaks allow).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bridge.loudness import PEAK_CEILING_DBTP, integrated_lufs, take_headroom_db

MIN_TARGET_LUFS, MAX_TARGET_LUFS = -40.0, -5.0  # the placement targets a producer may ask for


@dataclass(frozen=True)
class TakeLevel:
    """The gain a take gets and what it lands at."""

    gain_db: float
    loudness_lufs: float  # the mix's integrated loudness after the gain
    peak_limited: bool  # the gain was held back so no clip peaks over the ceiling


def take_level(stems: Mapping[str, np.ndarray], sample_rate: int, target_lufs: float,
               ceiling_dbtp: float = PEAK_CEILING_DBTP) -> TakeLevel:
    """The one gain for every stem (each (channels, samples), equal lengths) that brings
    their sum to ``target_lufs``, held back where the mix or any stem would peak over
    ``ceiling_dbtp``. A silent take gets 0 dB."""
    mix = np.sum(list(stems.values()), axis=0)
    loudness = integrated_lufs(mix, sample_rate)
    if not math.isfinite(loudness):
        return TakeLevel(0.0, loudness, False)
    gain = target_lufs - loudness
    headroom = take_headroom_db(list(stems.values()), ceiling_dbtp)
    limited = gain > headroom
    gain = min(gain, headroom)
    return TakeLevel(round(gain, 2), round(loudness + gain, 2), limited)
