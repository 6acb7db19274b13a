"""Training clips drawn from several corpora at once, each with its share of the batch.

The codec learns from synthetic stems, real recordings and tracker stems together; each
corpus keeps its own ClipSampler (its own mix/stem draw) and a clip's corpus is drawn first.
Like ClipSampler, a step's batch is a pure function of (seed, rank, step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.codec.data import ClipSampler


class MixedSampler:
    """Clips from several ClipSamplers, the sampler of each clip drawn by `weights`."""

    def __init__(self, samplers: Sequence[ClipSampler], weights: Sequence[float],
                 seed: int, rank: int = 0) -> None:
        """`weights` (one per sampler, any positive scale) set each corpus's share."""
        if len(samplers) != len(weights) or not samplers:
            raise ValueError("give one weight per corpus, and at least one corpus")
        total = float(sum(weights))
        if total <= 0 or min(weights) < 0:
            raise ValueError(f"corpus weights must be non-negative with a positive sum: {weights}")
        self.samplers = list(samplers)
        self.shares = np.asarray(weights, np.float64) / total
        self.seed, self.rank = seed, rank

    def batch(self, step: int, size: int) -> np.ndarray:
        """The (size, 2, segment) batch of `step` for this rank."""
        rng = np.random.default_rng([self.seed, self.rank, step])
        picks = rng.choice(len(self.samplers), size=size, p=self.shares)
        return np.stack([self.samplers[i].clip(rng) for i in picks])
