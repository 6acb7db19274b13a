"""A metronome rendered block by block: the count-in before a take, and optionally the click
during it.

Beat ``k`` starts at frame ``round(k * beat_seconds * sample_rate)`` of the click stream, so the
beats never drift however long the take runs. One beat is one unit of the meter's denominator
(a quarter note in 4/4, an eighth in 6/8); the first beat of each bar is accented.
"""

from __future__ import annotations

import math

import numpy as np

CLICK_SECONDS = 0.03
ACCENT_HZ = 1760.0
BEAT_HZ = 1320.0
ACCENT_GAIN = 0.5
BEAT_GAIN = 0.3
# Decay so the click has faded by its end (e^-6 ≈ -52 dB): no step when it is cut.
_DECAY = 6.0


def beat_seconds(bpm: float, time_signature: tuple[int, int]) -> float:
    """Seconds per beat of the meter; ``bpm`` counts quarter notes, as DAWs do."""
    if not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"bpm must be a positive number, got {bpm!r}")
    return 60.0 / bpm * 4.0 / time_signature[1]


class Metronome:
    """Clicks for ``count_in`` beats, then (if ``during_take``) on every beat after them."""

    def __init__(self, bpm: float, time_signature: tuple[int, int], sample_rate: int,
                 count_in: int, during_take: bool = False) -> None:
        if count_in < 0:
            raise ValueError(f"count-in must be zero or more beats, got {count_in!r}")
        self.sample_rate = sample_rate
        self.count_in = count_in
        self.during_take = during_take
        self._numerator = time_signature[0]
        self._beat_frames = beat_seconds(bpm, time_signature) * sample_rate
        length = round(CLICK_SECONDS * sample_rate)
        t = np.arange(length) / sample_rate
        envelope = np.exp(-_DECAY * t / CLICK_SECONDS)
        self._accent = (ACCENT_GAIN * envelope * np.sin(2 * np.pi * ACCENT_HZ * t)).astype(
            np.float32)
        self._beat = (BEAT_GAIN * envelope * np.sin(2 * np.pi * BEAT_HZ * t)).astype(
            np.float32)

    @property
    def downbeat_frame(self) -> int:
        """Frame of the click stream where the take starts (the beat after the count-in)."""
        return self.beat_frame(self.count_in)

    def beat_frame(self, beat: int) -> int:
        """Frame of the click stream where ``beat`` (counted from 0) starts."""
        return round(beat * self._beat_frames)

    def render(self, first_frame: int, frames: int) -> np.ndarray:
        """The mono click signal for frames ``first_frame`` .. ``first_frame + frames - 1``."""
        out = np.zeros(frames, dtype=np.float32)
        click_length = len(self._beat)
        last_beat = (math.inf if self.during_take else self.count_in - 1)
        # Every beat whose click overlaps the block: from the one that may still be ringing.
        beat = max(0, math.floor((first_frame - click_length) / self._beat_frames))
        while beat <= last_beat:
            start = self.beat_frame(beat)
            if start >= first_frame + frames:
                break
            click = self._accent if (beat - self.count_in) % self._numerator == 0 else self._beat
            lo, hi = max(start, first_frame), min(start + click_length, first_frame + frames)
            if hi > lo:
                out[lo - first_frame:hi - first_frame] += click[lo - start:hi - start]
            beat += 1
        return out
