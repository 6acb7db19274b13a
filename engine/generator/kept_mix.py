"""A stem made again fitted under the peak ceiling against the take's stems it joins.

A stem made again on a kept plan lands beside stems the producer kept (and may already have
placed in a session): those are never rewritten, and the engine does not see their audio.
So the plan carries, per stem of each take, a small peak envelope: the lowest and highest
sample of every PEAK_BLOCK samples (both channels), rounded outward. The kept stems' sum
lies, block by block, within the sum of their envelopes; the new stems get one extra gain
curve (<= 1, ramped like the take's limiter, at most FIT_MAX_DB deep) that keeps that bound
plus them under the take limiter's sample ceiling (``finish.LIMITER_CEILING_DB``). Where
the new stems leave room, the curve is 1: they keep their take's level. Where the kept
stems alone reach the ceiling, the new ones duck under them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bridge.takes import base_of, take_of
from engine.corpus.production import smoothed_gain
from engine.request import KeptPlan

PEAKS_PREFIX = "stem_peaks."  # plan entry per stem: "stem_peaks.<stem>.<take>", (2, blocks)
PEAK_BLOCK = 8  # samples per envelope value: 4 kHz at 32 kHz (~16 kB a second a stem)...
# ...or more for a clip so long that a stem's envelope would pass MAX_PEAK_BLOCKS values
# (512 kB: a plan of 8 stems x 4 takes stays well under what a server reads back).
MAX_PEAK_BLOCKS = 2**17
# The deepest cut the fit makes at a peak: a stem made again may duck under a kept peak,
# never vanish under it (where the kept stems alone reach the ceiling, nothing here helps).
FIT_MAX_DB = 24.0


def stem_key(name: str) -> tuple[str, int]:
    """(stem, take) of an output name: ("bass", 2) for "bass.2", ("bass", 1) for "bass"."""
    return base_of(name), take_of(name)


def block_of(samples: int) -> int:
    """Samples per envelope value for a clip of ``samples`` samples."""
    return max(PEAK_BLOCK, -(-samples // MAX_PEAK_BLOCKS))


def peak_envelope(audio: np.ndarray) -> np.ndarray:
    """(2, blocks) float16: the lowest and highest sample of (2, samples) audio in each
    ``block_of(samples)`` samples, rounded outward so the envelope always holds the audio."""
    samples, block = audio.shape[1], block_of(audio.shape[1])
    padded = np.pad(audio, ((0, 0), (0, -samples % block)))
    blocks = padded.reshape(audio.shape[0], -1, block)
    low, high = blocks.min(axis=(0, 2)), blocks.max(axis=(0, 2))
    return np.stack([_outward(low, -np.inf), _outward(high, np.inf)])


def _outward(values: np.ndarray, toward: float) -> np.ndarray:
    """``values`` as float16, each moved one step ``toward`` where rounding went inward."""
    rounded = values.astype(np.float16)
    inward = (rounded < values) if toward > 0 else (rounded > values)
    return np.where(inward, np.nextafter(rounded, np.float16(toward)), rounded)


def kept_peaks(plan: KeptPlan | None) -> dict[tuple[str, int], np.ndarray]:
    """The peak envelopes a kept plan holds, by (stem, take); {} without any."""
    if plan is None:
        return {}
    found = {}
    for key, value in plan.items():
        if key.startswith(PEAKS_PREFIX):
            stem, _, take = key[len(PEAKS_PREFIX):].rpartition(".")
            if stem and take.isdigit() and np.ndim(value) == 2 and len(value) == 2:
                found[(stem, int(take))] = np.asarray(value, dtype=np.float32)
    return found


def peak_entries(peaks: Mapping[tuple[str, int], np.ndarray]) -> KeptPlan:
    """A plan's entries for peak envelopes by (stem, take) (``kept_peaks`` reads them)."""
    return {f"{PEAKS_PREFIX}{stem}.{take}": envelope.astype(np.float16)
            for (stem, take), envelope in peaks.items()}


def fit_curve(new: list[np.ndarray], kept: list[np.ndarray], ceiling: float,
              sample_rate: int) -> np.ndarray | None:
    """The gain curve (per sample, <= 1) for the (2, samples) ``new`` stems of a take that
    keeps the bound of their sum with the ``kept`` stems' envelopes (``peak_envelope`` of
    clips as long as these) within +-``ceiling``, at most FIT_MAX_DB deep; None where they
    fit as they are."""
    if not new or not kept:
        return None
    samples = new[0].shape[1]
    ours = peak_envelope(np.sum(new, axis=0)).astype(np.float64)
    blocks = ours.shape[1]
    theirs = np.zeros((2, blocks))
    for envelope in kept:
        if envelope.shape[1] != blocks and block_of(samples) != PEAK_BLOCK:
            continue  # a long clip of another length: its blocks are not ours
        length = min(blocks, envelope.shape[1])  # a shorter or longer clip's common part
        theirs[:, :length] += envelope[:, :length]
    # Per block the gain g on the new stems may be at most what keeps the bounds inside:
    # theirs_high + g * ours_high <= ceiling and theirs_low + g * ours_low >= -ceiling.
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(ours[1] > 0, (ceiling - theirs[1]) / ours[1], np.inf)
        down = np.where(ours[0] < 0, (ceiling + theirs[0]) / -ours[0], np.inf)
    floor = 10 ** (-FIT_MAX_DB / 20)
    need = np.clip(np.minimum(up, down), floor, 1.0)
    if need.min() >= 1.0:
        return None
    per_sample = np.repeat(need, block_of(samples))[:samples]
    curve: np.ndarray = smoothed_gain(per_sample, sample_rate)
    return curve
