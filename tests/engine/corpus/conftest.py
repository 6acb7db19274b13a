"""Helpers for the corpus tests: short example seeds (the small corpus is in tests/engine)."""

from __future__ import annotations

import pytest

from engine.corpus.composer import sample_spec


def _short_seeds(count: int, max_seconds: float = 8.0, need_lead: bool = False) -> list[int]:
    seeds = []
    seed = 0
    while len(seeds) < count:
        spec = sample_spec(seed)
        has_lead = any(s.family == "lead" for s in spec.stems)
        if spec.seconds <= max_seconds and (has_lead or not need_lead):
            seeds.append(seed)
        seed += 1
    return seeds


@pytest.fixture(scope="session")
def short_seeds():
    """short_seeds(count, max_seconds=8, need_lead=False): the first example seeds whose audio
    is short (specs are cheap to draw, nothing is rendered)."""
    return _short_seeds
