"""Audio levels in dBFS: a meter the audio thread feeds and the UI polls, and take checks.

A take is refused before it reaches the engine when it is silent (nothing was recorded: wrong
device, muted input) or clipped (the input gain is too high): a pitch tracker turns either into
a melody that is not the one the producer hummed.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

FLOOR_DBFS = -120.0
# The loudest 50 ms of a take must reach this; a hum close to a laptop mic sits far above it,
# while room noise through a working but unused input sits below it.
SILENT_BELOW_DBFS = -45.0
SILENCE_WINDOW_S = 0.05
# A sample this close to full scale has hit the converter's limit.
FULL_SCALE = 0.999
# More than this share of samples at full scale is clipping, not one stray peak.
CLIPPED_SHARE = 0.001


class TakeError(ValueError):
    """A recorded take that must not be sent to the engine."""


class SilentTakeError(TakeError):
    """The take holds no usable signal."""


class ClippedTakeError(TakeError):
    """The take hit full scale too often to be trusted."""


@dataclass(frozen=True)
class Level:
    """A meter reading: RMS of the latest block, and the peak since the previous reading."""

    rms_dbfs: float
    peak_dbfs: float
    clipped: bool


def dbfs(amplitude: float) -> float:
    """An amplitude (1.0 = full scale) in dBFS, never below :data:`FLOOR_DBFS`."""
    if not amplitude > 0:  # zero, negative or NaN
        return FLOOR_DBFS
    return max(FLOOR_DBFS, 20.0 * math.log10(amplitude))


class LevelMeter:
    """Level of the signal passing through; safe to feed from an audio callback.

    The audio thread calls :meth:`feed` with every block; the UI calls :meth:`read` whenever
    it repaints. The peak is held between readings so a short transient is never missed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rms = 0.0
        self._peak = 0.0
        self._clipped = False

    def feed(self, block: np.ndarray) -> None:
        """Take in one block of samples (any shape; all channels count)."""
        if block.size == 0:
            return
        magnitude = np.abs(block)
        peak = float(magnitude.max())
        rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))
        with self._lock:
            self._rms = rms
            self._peak = max(self._peak, peak)
            self._clipped = self._clipped or peak >= FULL_SCALE

    def read(self) -> Level:
        """The current level; resets the held peak and clip flag."""
        with self._lock:
            level = Level(dbfs(self._rms), dbfs(self._peak), self._clipped)
            self._peak = 0.0
            self._clipped = False
        return level


def check_take(audio: np.ndarray, sample_rate: int) -> None:
    """Raise SilentTakeError or ClippedTakeError, with a message for the producer, if the take
    is unusable; return quietly otherwise."""
    samples = np.asarray(audio, dtype=np.float64)
    if samples.size == 0:
        raise SilentTakeError("the take is empty: nothing was recorded")
    loudest = loudest_window_dbfs(samples, sample_rate)
    if loudest < SILENT_BELOW_DBFS:
        raise SilentTakeError(
            f"the take is silent (loudest passage {loudest:.1f} dBFS, needs at least "
            f"{SILENT_BELOW_DBFS:.0f} dBFS): check the input device, that it is not muted, "
            "and its gain")
    share = float(np.mean(np.abs(samples) >= FULL_SCALE))
    if share > CLIPPED_SHARE:
        raise ClippedTakeError(
            f"the take is clipped ({share:.1%} of samples at full scale): lower the input "
            "gain or move away from the microphone, then record again")


def loudest_window_dbfs(audio: np.ndarray, sample_rate: int,
                        window_s: float = SILENCE_WINDOW_S) -> float:
    """RMS in dBFS of the loudest ``window_s`` stretch (all channels), in half-overlapping
    windows; the whole signal if it is shorter."""
    samples = np.asarray(audio, dtype=np.float64)
    power = np.square(samples).reshape(samples.shape[0], -1).mean(axis=1)
    size = max(1, min(len(power), round(window_s * sample_rate)))
    sums = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, len(power) - size + 1, max(1, size // 2))
    means = (sums[starts + size] - sums[starts]) / size
    return dbfs(math.sqrt(max(0.0, float(means.max()))))
