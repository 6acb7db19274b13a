"""Log-mel frames for the audio tower: mono 32 kHz, 50 frames per second (the codec's rate)."""

from __future__ import annotations

import numpy as np
import soxr
import torch

from engine.codec.config import ACOUSTIC_RATE, HOP, SAMPLE_RATE
from engine.codec.spectral import hann, mel_filterbank, stft

N_FFT = 1280
N_MELS = 64
FRAME_RATE = ACOUSTIC_RATE  # one log-mel frame per codec frame


class LogMel:
    """(N, samples) mono audio at 32 kHz -> (N, 64, samples // HOP) log-mel."""

    def __init__(self) -> None:
        self._window = hann(N_FFT)
        self._filters = mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS, fmin=30.0, fmax=15000.0)

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """Log-mel of a batch of mono signals."""
        power = stft(audio, N_FFT, HOP, self._window).abs().square()
        return torch.log(self._filters @ power + 1e-5)


def to_mono_32k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(channels, samples) or (samples,) float audio -> mono float32 at 32 kHz."""
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    if sample_rate != SAMPLE_RATE:
        mono = soxr.resample(mono, sample_rate, SAMPLE_RATE)
    return np.ascontiguousarray(mono, dtype=np.float32)
