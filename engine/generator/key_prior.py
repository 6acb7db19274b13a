"""Steering the semantic plan toward a requested key.

Every semantic token is a k-means centroid whose first twelve features are a chroma, so how
well a token sounds in a key can be read off the codebook: the correlation of its chroma
with the key's Krumhansl-Kessler profile. Added to the guided logits at every step, that
score (times a strength in nats) makes tokens that fit the key likelier without forbidding
the others — a passing note or a drum-only frame (flat chroma, score near 0) stays possible.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.generator.conditions import NULL_KEY
from engine.generator.semantic import SemanticTokenizer
from engine.melody.key import PROFILES

STRENGTH = 2.0  # nats for a token whose chroma fits the key perfectly (correlation 1)


def key_fit(tokenizer: SemanticTokenizer, key: int) -> np.ndarray:
    """(vocab,) correlation in [-1, 1] of each token's chroma with key index ``key``'s profile
    (tonic * 2 + minor, as ``conditions.key_index``)."""
    profile = np.roll(np.asarray(PROFILES["minor" if key % 2 else "major"]), key // 2)
    chroma = tokenizer.token_chroma()
    centred = chroma - chroma.mean(axis=1, keepdims=True)
    target = profile - profile.mean()
    norms = np.linalg.norm(centred, axis=1) * np.linalg.norm(target)
    return np.where(norms > 1e-9, centred @ target / np.maximum(norms, 1e-9), 0.0)


def key_prior(tokenizer: SemanticTokenizer, key: int, strength: float = STRENGTH
              ) -> torch.Tensor | None:
    """(vocab,) log-prior toward key index ``key``; None when no key was asked for."""
    if key == NULL_KEY or strength == 0:
        return None
    return torch.from_numpy(strength * key_fit(tokenizer, key)).float()
