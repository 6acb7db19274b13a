"""The v2 recipe's specs: more of what the model is weakest at (slow, swung, half-time,
compound-meter and drumless material), drawn on top of the v1 composer's specs.

Each example gets a focus drawn with FOCUS_SHARES; the focus picks a genre subset and bends
tempo, meter or swing within what that genre allows; drums are then dropped with
DRUMLESS_SHARE (the v1 genres already leave some songs drumless). v1 specs are untouched:
`sample_spec` is called as v1 calls it, on its own stream.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.corpus.composer import MAX_SECONDS, Spec, sample_spec, stream
from engine.corpus.genres import GENRES
from engine.corpus.song import METER_BEATS

RECIPE_STREAM = 5  # after composer's SPEC..CAPTION streams
BANK_STREAM = 6
PRODUCTION_STREAM = 7
SLOW_BPM = 90  # at or below: 'slow'
FOCUS_SHARES = {"any": 0.35, "slow": 0.2, "swung": 0.15, "half-time": 0.1, "compound": 0.2}
DRUMLESS_SHARE = 0.2  # extra, on top of the genres' own drumless songs


def _genres_for(focus: str) -> list[str]:
    if focus == "slow":
        return [g.name for g in GENRES.values() if g.tempo[0] <= SLOW_BPM - 6]
    if focus == "swung":
        return [g.name for g in GENRES.values() if g.feel == "swing"]
    if focus == "half-time":
        return [g.name for g in GENRES.values() if g.feel == "half-time"]
    if focus == "compound":
        return [g.name for g in GENRES.values() if "6/8" in g.meters]
    return sorted(GENRES)


def _fit_bars(spec: Spec) -> Spec:
    bars = spec.bars
    while bars > 1 and bars * METER_BEATS[spec.meter] * 60.0 / spec.bpm > MAX_SECONDS:
        bars //= 2
    return dataclasses.replace(spec, bars=bars)


def sample_spec_v2(seed: int) -> tuple[Spec, str]:
    """The v2 spec of example `seed` and its focus ('any', 'slow', 'swung', ...)."""
    rng = stream(seed, RECIPE_STREAM)
    names = list(FOCUS_SHARES)
    shares = np.array([FOCUS_SHARES[n] for n in names])
    focus = names[int(rng.choice(len(names), p=shares / shares.sum()))]
    genres = _genres_for(focus)
    genre = GENRES[genres[int(rng.integers(len(genres)))]]
    spec = sample_spec(seed, genre.name)
    if focus == "slow":
        low = genre.tempo[0]
        spec = dataclasses.replace(spec, bpm=int(rng.integers(low, max(low, SLOW_BPM) + 1)))
    elif focus == "swung":  # the upper half of the genre's swing range
        mid = 0.5 * (genre.swing[0] + genre.swing[1])
        spec = dataclasses.replace(spec, swing=round(float(rng.uniform(mid, genre.swing[1])), 3))
    elif focus == "compound":
        spec = dataclasses.replace(spec, meter="6/8")
    if rng.random() < DRUMLESS_SHARE and len(spec.stems) > 2:
        spec = dataclasses.replace(spec, stems=tuple(s for s in spec.stems
                                                     if s.family != "drums"))
    return _fit_bars(spec), focus
