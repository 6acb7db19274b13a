"""The mel filterbank (librosa's) equals the hand-written HTK-mel, area-normalised one the
shipped codec, MuLan and semantic features were trained with, at every size they use."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engine.codec.spectral import mel_filterbank


def trained_with(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                 fmax: float | None) -> np.ndarray:
    """The filterbank as it was written by hand before librosa's replaced it."""
    fmax = fmax or sample_rate / 2
    mels = np.linspace(2595.0 * np.log10(1.0 + fmin / 700.0),
                       2595.0 * np.log10(1.0 + fmax / 700.0), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, bins.size))
    for m in range(n_mels):
        lo, mid, hi = hz[m], hz[m + 1], hz[m + 2]
        rise = (bins - lo) / max(mid - lo, 1e-9)
        fall = (hi - bins) / max(hi - mid, 1e-9)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall)) * 2.0 / max(hi - lo, 1e-9)
    return fb.astype(np.float32)


@pytest.mark.parametrize(("n_fft", "n_mels", "fmin", "fmax"), [
    (1280, 64, 30.0, 15000.0),  # MuLan's log-mel
    (4096, 40, 30.0, 14000.0),  # semantic features
    (256, 32, 0.0, None), (1024, 96, 0.0, None), (2048, 128, 0.0, None),  # codec losses
    (256, 64, 0.0, None),  # so small that the lowest filters are empty
])
def test_filterbank_is_the_one_the_models_learned_with(n_fft: int, n_mels: int, fmin: float,
                                                       fmax: float | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and it says nothing about empty filters
        fb = mel_filterbank(32000, n_fft, n_mels, fmin=fmin, fmax=fmax)
    assert fb.dtype.is_floating_point and tuple(fb.shape) == (n_mels, n_fft // 2 + 1)
    expected = trained_with(32000, n_fft, n_mels, fmin, fmax)
    assert np.abs(fb.numpy() - expected).max() <= 1e-6
    assert (fb.numpy().sum(axis=1) > 0).sum() >= n_mels - 8  # real filters, not zeros
