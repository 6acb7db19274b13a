"""Pitch tracking with CREPE: torchcrepe's 'tiny' network, whose weights ship in its wheel.

Only the network is used from torchcrepe: framing, frame selection and decoding are here, so
frames that are too quiet to hold a note are never run (a hum is often half silence) and the
decoded pitch keeps CREPE's sub-bin resolution without its random dither.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import soxr
import torch
import torch.nn.functional as F

CREPE_RATE = 16000  # Hz: the network's input rate
WINDOW = 1024  # samples at CREPE_RATE: the network's input frame
BINS = 360  # 20-cent pitch bins
BIN_SEMITONES = 0.2
FIRST_BIN_PITCH = 23.4606  # MIDI pitch of bin 0 (32.70 Hz)
LOCAL = 4  # bins each side of the peak averaged into the pitch, as CREPE's authors do
BATCH = 256  # frames per forward pass
FIRST_PAD, PAD = (254, 254), (31, 32)  # the network's convolution paddings


@dataclass(frozen=True)
class PitchTrack:
    """A pitch contour on a regular frame grid; frame i is centred at ``i * hop`` seconds."""

    hop: float
    pitch: np.ndarray  # (frames,) fractional MIDI pitch; NaN where no frame was run
    periodicity: np.ndarray  # (frames,) the network's confidence in 0..1; 0 where not run


@cache
def crepe(model: str = "tiny") -> Callable[[torch.Tensor], torch.Tensor]:
    """CREPE of capacity `model` ('tiny' or 'full'), loaded once: (frames, 1024) normalized
    audio → (frames, 360) pitch-bin probabilities.

    torchcrepe's network is a stack of (k, 1) 2-D convolutions; the same weights run here
    as 1-D convolutions, which compute the same numbers twice as fast on a CPU (500 frames:
    0.29 s against 0.61 s on two cores).
    torchcrepe imports torchaudio only to read files, which is never asked of it here; the
    registry's torchaudio is a CUDA build that breaks the import, so an empty module
    stands in for it.
    """
    stand_in = "torchaudio" not in sys.modules
    if stand_in:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        import torchcrepe
    finally:
        # Only torchcrepe may see the stand-in: transformers asks importlib whether
        # torchaudio exists, and a module without a spec makes that question raise.
        if stand_in:
            del sys.modules["torchaudio"]

    torchcrepe.load.model("cpu", model)
    network = torchcrepe.infer.model
    stack = [(getattr(network, f"conv{i}"), getattr(network, f"conv{i}_BN")) for i in range(1, 7)]

    def forward(frames: torch.Tensor) -> torch.Tensor:
        x = frames[:, None, :]
        for i, (conv, norm) in enumerate(stack):
            x = F.pad(x, FIRST_PAD if i == 0 else PAD)
            x = F.relu(F.conv1d(x, conv.weight[..., 0], conv.bias, stride=conv.stride[0]))
            x = F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                             training=False, eps=norm.eps)
            x = F.max_pool1d(x, 2, 2)
        return torch.sigmoid(network.classifier(x.transpose(1, 2).reshape(len(frames), -1)))

    return forward


def frame_count(samples: int, sample_rate: int, hop: float) -> int:
    """Frames of `hop` seconds that cover `samples` samples (the first centred at 0)."""
    return 1 + int(samples / sample_rate / hop)


def track_pitch(audio: np.ndarray, sample_rate: int, hop: float = 0.02,
                active: np.ndarray | None = None, model: str = "tiny") -> PitchTrack:
    """Pitch of mono `audio` every `hop` seconds.

    `active` (bool, one per frame) limits the network to the frames worth running; the
    others come back NaN with periodicity 0.
    """
    audio16 = soxr.resample(np.asarray(audio, dtype=np.float32), sample_rate, CREPE_RATE)
    frames = frame_count(len(audio), sample_rate, hop)
    run = np.zeros(frames, bool)
    given = np.ones(frames, bool) if active is None else np.asarray(active, bool)[:frames]
    run[:len(given)] = given
    pitch = np.full(frames, np.nan)
    periodicity = np.zeros(frames)
    chosen = np.flatnonzero(run)
    if not len(chosen):
        return PitchTrack(hop, pitch, periodicity)
    padded = np.pad(audio16, (WINDOW // 2, WINDOW // 2))
    starts = np.minimum(np.round(chosen * hop * CREPE_RATE).astype(np.int64),
                        len(padded) - WINDOW)
    network = crepe(model)
    outputs = []
    with torch.inference_mode():
        for i in range(0, len(starts), BATCH):
            index = starts[i:i + BATCH, None] + np.arange(WINDOW)[None, :]
            batch = padded[index]
            batch = batch - batch.mean(axis=1, keepdims=True)
            batch /= np.maximum(batch.std(axis=1, keepdims=True), 1e-10)
            outputs.append(network(torch.from_numpy(batch)).numpy())
    probabilities = np.concatenate(outputs)
    pitch[chosen], periodicity[chosen] = decode(probabilities)
    return PitchTrack(hop, pitch, periodicity)


def decode(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 360) network outputs → fractional MIDI pitch and periodicity per frame:
    the probability-weighted mean bin within `LOCAL` bins of the most likely one."""
    peak = probabilities.argmax(axis=1)
    offsets = np.arange(-LOCAL, LOCAL + 1)
    window = np.clip(peak[:, None] + offsets[None, :], 0, BINS - 1)
    weights = np.take_along_axis(probabilities, window, axis=1)
    mean_bin = (weights * window).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    periodicity = probabilities[np.arange(len(peak)), peak]
    return FIRST_BIN_PITCH + BIN_SEMITONES * mean_bin, periodicity
