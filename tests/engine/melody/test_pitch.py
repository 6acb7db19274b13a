"""CREPE pitch tracking: torchcrepe's network as the engine runs it, on tones of known pitch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.melody.pitch import crepe, track_pitch

RATE = 44100


def test_the_engine_runs_the_same_network_as_torchcrepe() -> None:
    """The 1-D convolution path gives torchcrepe's own outputs on the same frames."""
    forward = crepe("tiny")  # imports torchcrepe (past its torchaudio import)
    import torchcrepe

    frames = torch.randn(64, 1024)
    with torch.inference_mode():
        assert torch.allclose(forward(frames), torchcrepe.infer.model(frames), atol=1e-5)


@pytest.mark.parametrize("pitch", [45.3, 57.0, 64.5, 76.0])
def test_tones_of_known_pitch(pitch: float) -> None:
    """A harmonic tone is tracked within 0.1 semitone, confidently, at any sample rate."""
    t = np.arange(RATE) / RATE
    f0 = 440 * 2 ** ((pitch - 69) / 12)
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * 0.2
    track = track_pitch(tone, RATE, hop=0.02)
    assert len(track.pitch) == 51
    assert abs(np.median(track.pitch[5:-5]) - pitch) < 0.1
    assert np.median(track.periodicity[5:-5]) > 0.7


def test_only_active_frames_are_run() -> None:
    """Frames left out by the mask are NaN with periodicity 0; the others are tracked."""
    t = np.arange(RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    active = np.zeros(51, bool)
    active[10:20] = True
    track = track_pitch(tone, RATE, hop=0.02, active=active)
    assert np.isnan(track.pitch[~active]).all() and (track.periodicity[~active] == 0).all()
    assert np.allclose(track.pitch[active], 57.0, atol=0.1)
