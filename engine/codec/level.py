"""The level a decode should have, carried beside the codes.

The decoder loses level: on real music a median 4.4 dB at 8 levels and 8.5 dB at 2 (up to
15 dB), and more on loud low end, because its log-magnitude head settles below partials it
cannot place exactly. Retraining cannot promise a decoder that never does, so the encoding
side measures it: per channel and per half second, the gain that brings the decode back to
the input's RMS, in quarter-decibel steps, one byte each (32 b/s for stereo, 0.4 % of the
8 kb/s the codes take). Decoding applies the gains as a smooth curve through the blocks'
centres, so the gain never steps audibly.

Generated codes have no input to measure against: the generator's stems are levelled by
``engine.generator.finish`` instead.
"""

from __future__ import annotations

import numpy as np

BLOCK_FRAMES = 25  # codec frames per gain (0.5 s at 50 Hz)
STEP_DB = 0.25
SILENT_RMS = 10 ** (-70 / 20)  # an input block this quiet keeps the decode as it is


def block_samples(hop: int) -> int:
    """Samples per gain block for a codec of ``hop`` samples per frame."""
    return BLOCK_FRAMES * hop


def measure_gains(original: np.ndarray, decoded: np.ndarray, hop: int) -> np.ndarray:
    """int8 (channels, blocks) gains in STEP_DB steps that bring each half-second block of
    ``decoded`` to the RMS of the same block of ``original`` (both (channels, samples))."""
    size = block_samples(hop)
    samples = original.shape[1]
    blocks = max(1, -(-samples // size))
    gains = np.zeros((original.shape[0], blocks), dtype=np.int8)
    for block in range(blocks):
        span = slice(block * size, min(samples, (block + 1) * size))
        wanted = _rms(original[:, span])
        got = _rms(decoded[:, span])
        for channel in range(original.shape[0]):
            if wanted[channel] < SILENT_RMS or got[channel] <= 0:
                continue
            db = 20 * np.log10(wanted[channel] / got[channel])
            gains[channel, block] = int(np.clip(round(db / STEP_DB), -127, 127))
    return gains


def apply_gains(decoded: np.ndarray, gains: np.ndarray, hop: int) -> np.ndarray:
    """``decoded`` (channels, samples) with ``gains`` (from ``measure_gains``) applied as a
    curve linear in decibels between block centres (held flat before the first and after
    the last)."""
    size = block_samples(hop)
    centres = (np.arange(gains.shape[1]) + 0.5) * size
    positions = np.arange(decoded.shape[1]) + 0.5
    out = np.empty_like(decoded)
    for channel in range(decoded.shape[0]):
        curve_db = np.interp(positions, centres, gains[channel].astype(np.float64) * STEP_DB)
        out[channel] = decoded[channel] * (10 ** (curve_db / 20)).astype(decoded.dtype)
    return out


def level_error_db(original: np.ndarray, decoded: np.ndarray) -> float:
    """How much louder (+) or quieter (-) ``decoded`` is than ``original``, in dB of RMS
    over the whole clip and both channels."""
    return float(20 * np.log10(max(_rms(decoded.reshape(1, -1))[0], 1e-12)
                               / max(_rms(original.reshape(1, -1))[0], 1e-12)))


def _rms(audio: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=-1))
