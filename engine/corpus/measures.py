"""Level and spectrum measures of stereo audio: integrated loudness (BS.1770-4), crest
factor, L/R correlation and the long-term average spectrum in octave bands.

`loudness` is the project's one BS.1770-4 meter (``bridge.loudness``).
"""

from __future__ import annotations

import numpy as np

from bridge.loudness import integrated_lufs

OCTAVE_CENTRES = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)


def loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of (channels, frames) audio (-inf when silent;
    ``bridge.loudness``'s meter). Audio shorter than one 400 ms gating block is measured as
    if looped to that length."""
    block = int(0.4 * sample_rate)
    if audio.shape[1] <= block:
        audio = np.tile(audio, (1, block // max(1, audio.shape[1]) + 1))
    return integrated_lufs(audio, sample_rate)


def crest_db(audio: np.ndarray) -> float:
    """Peak over RMS in dB, over all channels (a sine gives 3.01)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * float(np.log10(float(np.abs(audio).max()) / rms)) if rms > 0 else 0.0


def lr_correlation(audio: np.ndarray) -> float:
    """Pearson correlation of left and right (1 mono, 0 unrelated, -1 out of phase)."""
    left, right = audio[0].astype(np.float64), audio[1].astype(np.float64)
    denominator = float(np.sqrt(np.sum(left * left) * np.sum(right * right)))
    return float(np.sum(left * right) / denominator) if denominator > 0 else 1.0


def octave_spectrum(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Long-term average spectrum in the octave bands of OCTAVE_CENTRES: each band's share
    of the total power, in dB (bands above Nyquist are -inf)."""
    mono = audio.mean(axis=0).astype(np.float64)
    size = 8192
    frames = max(1, (mono.size - size) // (size // 2) + 1)
    window = np.hanning(size)
    power = np.zeros(size // 2 + 1)
    for i in range(frames):
        chunk = mono[i * size // 2:i * size // 2 + size]
        power += np.abs(np.fft.rfft(np.pad(chunk, (0, size - chunk.size)) * window)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
    bands = np.array([power[(freqs >= c / np.sqrt(2.0)) & (freqs < c * np.sqrt(2.0))].sum()
                      for c in OCTAVE_CENTRES])
    total = bands.sum()
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(bands / total) if total > 0 else np.full(len(bands), -np.inf)
