"""The measures the comparison and mastering rely on, calibrated on signals with known answers."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from engine.corpus.measures import (
    OCTAVE_CENTRES,
    crest_db,
    loudness,
    lr_correlation,
    octave_spectrum,
)

RATE = 32000


def _sine(freq: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_loudness_matches_pyloudnorm_and_the_standard() -> None:
    rng = np.random.default_rng(0)
    # Noise with gaps (the gates matter), a steady sine, and a short clip.
    gappy = rng.normal(0, 0.1, (2, RATE * 7)) * np.repeat(rng.random(70) > 0.5, RATE // 10)
    for audio in (gappy, np.stack([_sine(440, 3, 0.3)] * 2), rng.normal(0, 0.05, (2, RATE))):
        reference = pyloudnorm.Meter(RATE).integrated_loudness(audio.T.astype(np.float64))
        assert loudness(audio.astype(np.float32), RATE) == pytest.approx(reference, abs=1e-3)
    # BS.1770: a 997 Hz sine of peak 1 in both channels reads about 0 LUFS (+/- the
    # K-weighting's gain at 997 Hz, which pyloudnorm and this agree on above).
    assert loudness(np.stack([_sine(997, 4, 1.0)] * 2), RATE) == pytest.approx(0.0, abs=0.1)
    assert loudness(np.stack([_sine(997, 4, 0.5)] * 2), RATE) == pytest.approx(-6.0, abs=0.1)
    assert loudness(np.zeros((2, RATE)), RATE) == float("-inf")


def test_crest_width_and_spectrum_on_known_signals() -> None:
    rng = np.random.default_rng(1)
    sine = _sine(1000, 2, 0.5)
    assert crest_db(np.stack([sine, sine])) == pytest.approx(3.01, abs=0.02)
    assert lr_correlation(np.stack([sine, sine])) == pytest.approx(1.0)
    assert lr_correlation(np.stack([sine, -sine])) == pytest.approx(-1.0)
    assert abs(lr_correlation(rng.normal(size=(2, RATE * 2)))) < 0.05
    bands = dict(zip(OCTAVE_CENTRES, octave_spectrum(np.stack([sine, sine]), RATE),
                     strict=True))
    assert bands[1000.0] > -0.1  # (almost) all the power is in the 1 kHz octave
    assert all(level < -20 for centre, level in bands.items() if centre != 1000.0)
    noise = octave_spectrum(rng.normal(size=(2, RATE * 4)), RATE)
    # White noise: each octave holds twice the power of the one below (+3 dB a band).
    steps = np.diff(noise[2:8])
    assert np.all(np.abs(steps - 3.01) < 0.3)
