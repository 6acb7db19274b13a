"""Turn raw generator output into clips: exact length, seamless loops, output sample rate."""

from __future__ import annotations

import numpy as np
import soxr

from bridge.timing import clip_samples, loop_tail_samples


def fit_clip(
    audio: np.ndarray,
    source_rate: int,
    *,
    bpm: float,
    bars: int,
    time_signature: str,
    loop: bool,
    target_rate: int,
) -> np.ndarray:
    """Resample (2, n) audio to ``target_rate`` and cut it to exactly the bar length.

    In loop mode the audio past the end is faded into the start, so the clip's end runs
    into its beginning without a click. Audio shorter than asked for is padded with silence
    (a generator should not do that, but a clip must never be the wrong length).
    """
    if audio.ndim != 2 or audio.shape[0] != 2:
        raise ValueError(f"expected stereo (2, samples), got {audio.shape}")
    if source_rate != target_rate:
        audio = soxr.resample(audio.T, source_rate, target_rate, quality="HQ").T
    length = clip_samples(bpm, bars, time_signature, target_rate)
    tail = loop_tail_samples(bpm, target_rate) if loop else 0
    needed = length + tail
    if audio.shape[1] < needed:
        audio = np.pad(audio, ((0, 0), (0, needed - audio.shape[1])))
    clip = np.array(audio[:, :length], dtype=np.float32)
    if loop and tail:
        clip = _fold_tail(clip, audio[:, length:needed])
    return clip


def _fold_tail(clip: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Crossfade the tail over the head: the start fades in from what follows the end."""
    n = tail.shape[1]
    fade_in = np.sin(np.linspace(0.0, np.pi / 2, n, dtype=np.float32)) ** 2
    clip[:, :n] = clip[:, :n] * fade_in + tail * (1.0 - fade_in)
    return clip
