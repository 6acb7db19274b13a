"""The codec's spectral-convergence loss term against the evaluation's measure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.codec.losses import LossConfig, ReconstructionLoss
from engine.codec.metrics import spectral_convergence

RATE = 32000


def _pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(RATE // 2) / RATE
    clean = np.stack([np.sin(2 * np.pi * 110 * t), 0.5 * np.sin(2 * np.pi * 220 * t)])
    noisy = clean + 0.1 * rng.standard_normal(clean.shape)
    return clean.astype(np.float32), noisy.astype(np.float32)


def test_the_loss_term_is_the_measure() -> None:
    loss = ReconstructionLoss(LossConfig(sc=1.0), RATE)
    for seed in range(3):
        clean, noisy = _pair(seed)
        term = loss.spectral_convergence(torch.from_numpy(noisy), torch.from_numpy(clean))
        assert float(term) == pytest.approx(spectral_convergence(clean, noisy), rel=1e-4)


def test_the_term_counts_in_the_total_only_when_weighted() -> None:
    clean, noisy = _pair(0)
    y, x = torch.from_numpy(noisy)[None], torch.from_numpy(clean)[None]
    zero = torch.zeros(())
    plain_total, plain = ReconstructionLoss(LossConfig(), RATE)(y, x, zero)
    with_total, weighted = ReconstructionLoss(LossConfig(sc=2.0), RATE)(y, x, zero)
    assert "sc" not in plain and weighted["sc"] > 0.05
    assert float(with_total - plain_total) == pytest.approx(2.0 * weighted["sc"], rel=1e-4)
    same, _ = ReconstructionLoss(LossConfig(sc=1.0), RATE)(x, x, zero)
    assert float(same) == pytest.approx(0.0, abs=1e-6)


def test_a_silent_channel_does_not_swamp_the_term() -> None:
    """A hard-panned stem's empty channel: the ratio has no scale there (it was 1.8e7)."""
    loss = ReconstructionLoss(LossConfig(sc=1.0), RATE)
    clean, _ = _pair(0)
    clean[1] = 0.0
    rng = np.random.default_rng(1)
    near = clean + 1e-3 * rng.standard_normal(clean.shape).astype(np.float32)
    term = float(loss.spectral_convergence(torch.from_numpy(near), torch.from_numpy(clean)))
    sounding = spectral_convergence(clean[:1], near[:1])
    assert term == pytest.approx(sounding, rel=1e-4) and term < 0.05
