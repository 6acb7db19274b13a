"""The v2 production chain: seeded settings, the mix stays the sum of the stems, mastering
reaches its loudness and never passes its ceiling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.corpus.measures import loudness
from engine.corpus.production import (
    CEILING,
    FAMILIES,
    GENRE_STYLE,
    STEM_CEILING,
    STYLES,
    draw_production,
    limiter_gain,
    master,
    process_stem,
)
from engine.corpus.render import balance

RATE = 32000
PLACEMENTS = [("drums", 0.0, 0.9, -3.0), ("bass", 0.0, 0.2, -4.0), ("pad", 0.1, 1.0, -10.0),
              ("lead", -0.1, 0.5, -5.0)]


def _dry_stems(seed: int, seconds: float = 4.0) -> np.ndarray:
    """Stand-ins for rendered stems: decaying noise hits, a low sine, a chord, a lead line."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    hits = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        i = int(start * RATE)
        hits[i:i + 4000] += rng.normal(0, 1, min(4000, t.size - i)) * np.exp(-np.arange(
            min(4000, t.size - i)) / 600)
    bass = 0.4 * np.sin(2 * np.pi * 55 * t)
    pad = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (220, 277, 330))
    lead = 0.2 * np.sin(2 * np.pi * (440 + 100 * (t % 1 > 0.5)) * t) * (t % 0.5 < 0.4)
    return np.stack([np.stack([x, x]) for x in (hits, bass, pad, lead)]).astype(np.float32)


def test_settings_are_seeded_and_within_their_ranges() -> None:
    first = draw_production("rock", PLACEMENTS, np.random.default_rng(5), hall_available=False)
    again = draw_production("rock", PLACEMENTS, np.random.default_rng(5), hall_available=False)
    other = draw_production("rock", PLACEMENTS, np.random.default_rng(6), hall_available=False)
    assert first == again and first != other
    style = STYLES[GENRE_STYLE["rock"]]
    assert style.lufs[0] <= first.bus.target_lufs <= style.lufs[1]
    assert not first.room.hall_ir  # no IR present: always a simulated room
    for chain, (family, pan, width, level) in zip(first.stems, PLACEMENTS, strict=True):
        assert chain.family == family and (chain.pan, chain.width, chain.level_db) == (
            pan, width, level)
        low, high = FAMILIES[family].highpass
        assert low <= chain.highpass_hz <= high
    meta = first.to_meta()
    assert json.loads(json.dumps(meta)) == meta
    assert len(meta["stems"]) == len(PLACEMENTS)


def test_limiter_gain_keeps_every_frame_under_the_ceiling() -> None:
    rng = np.random.default_rng(2)
    mix = rng.normal(0, 0.2, (2, RATE * 2)).astype(np.float32)
    mix[:, 20000] = 3.0  # a spike far over the ceiling
    gain = limiter_gain(mix, CEILING, RATE)
    assert gain.shape == (RATE * 2,) and np.all(gain <= 1.0) and np.all(gain > 0)
    assert np.abs(mix * gain).max() <= CEILING * (1 + 1e-6)
    assert gain[20000] == pytest.approx(CEILING / 3.0, rel=1e-4)
    assert gain[40000:].min() >= gain[20000]  # the reduction stays around the spike


@pytest.mark.parametrize("genre", ["lo-fi hip hop", "techno", "jazz"])
def test_mastered_stems_sum_to_the_mix_at_the_target_loudness(genre: str) -> None:
    production = draw_production(genre, PLACEMENTS, np.random.default_rng(11),
                                 hall_available=False)
    wet = np.stack([process_stem(audio, chain, production.room, RATE)
                    for audio, chain in zip(_dry_stems(3), production.stems, strict=True)])
    mastered, report = master(wet, production.bus, RATE)
    stems, mix = balance(mastered, 16, normalize=False)
    # The mix is exactly the sum of the stored (16-bit grid) stems.
    assert np.array_equal(stems.astype(np.float64).sum(axis=0), mix.astype(np.float64))
    # Mastering reached its target and the ceiling, and the PCM grid did not move them.
    assert loudness(mix, RATE) == pytest.approx(production.bus.target_lufs, abs=0.5)
    assert report["lufs"] == pytest.approx(production.bus.target_lufs, abs=0.5)
    assert np.abs(mix).max() <= CEILING + 4 / 32768  # rounding of up to four stems
    assert report["peak_db"] <= 20 * np.log10(CEILING) + 0.01
    assert np.abs(stems).max() <= STEM_CEILING + 1 / 32768
    assert all(np.abs(s).max() > 1e-3 for s in stems)


def test_no_stem_passes_full_scale_when_stems_cancel_in_the_mix() -> None:
    production = draw_production("house", PLACEMENTS[:2], np.random.default_rng(1),
                                 hall_available=False)
    loud = _dry_stems(4)[1] * 4.0
    stems = np.stack([loud, -0.9 * loud])  # the mix is a tenth of either stem
    mastered, report = master(stems, production.bus, RATE)
    assert np.abs(mastered).max() <= STEM_CEILING * (1 + 1e-6)
    assert np.abs(mastered.sum(axis=0)).max() <= CEILING * (1 + 1e-6)
    assert report["lufs"] < production.bus.target_lufs  # the stems' ceiling won here
