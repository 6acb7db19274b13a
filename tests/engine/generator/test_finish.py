"""Finishing stems to the corpus's stereo image and level, and the measures it is judged by."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.generator.finish import (
    MAX_SIDE_GAIN,
    PEAK_CEILING_DB,
    family_of,
    finish_stems,
    image_to,
    load_reference,
)
from engine.generator.sound import (
    harmonic_share,
    high_band_share,
    loudness_lufs,
    lr_correlation,
    mono_sum_loss_db,
)

RATE = 32000


def _wandering(seconds: float = 2.0, spread: float = 0.9, level: float = 0.05,
               seed: int = 0) -> np.ndarray:
    """A centred tone whose channels carry unrelated noise: L/R correlation well under 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    core = np.sin(2 * np.pi * 110 * t)
    return (level * np.stack([core + spread * rng.standard_normal(t.size),
                              core + spread * rng.standard_normal(t.size)])).astype(np.float32)


def test_measures_read_known_signals() -> None:
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 220 * t).astype(np.float32)
    noise = np.random.default_rng(1).standard_normal(RATE).astype(np.float32)
    assert harmonic_share(tone, RATE) > 0.9 > 0.6 > harmonic_share(noise, RATE)
    assert high_band_share(tone, RATE) < 0.01 and high_band_share(noise, RATE) > 0.8
    assert lr_correlation(np.stack([tone, tone])) == pytest.approx(1.0)
    assert mono_sum_loss_db(np.stack([tone, tone])) == pytest.approx(0.0, abs=1e-6)
    assert mono_sum_loss_db(np.stack([noise, np.roll(noise, 999)])) == pytest.approx(-3, abs=0.2)
    # BS.1770's own check: a full-scale 997 Hz sine in one channel reads -3.01 LUFS.
    sine = np.sin(2 * np.pi * 997 * t)
    assert loudness_lufs(np.stack([sine, 0 * sine]), RATE) == pytest.approx(-3.01, abs=0.1)


def test_the_image_reaches_the_target_narrowed_or_widened_within_bounds() -> None:
    wide = _wandering()
    before = lr_correlation(wide)
    narrowed = image_to(wide, 0.97)
    assert before < 0.7 and lr_correlation(narrowed) == pytest.approx(0.97, abs=1e-3)
    # The mid signal is untouched: imaging changes only the side.
    np.testing.assert_allclose(narrowed.sum(0), wide.sum(0), atol=1e-5)
    widened = image_to(narrowed, 0.93)
    assert lr_correlation(widened) == pytest.approx(0.93, abs=1e-3)
    np.testing.assert_allclose(widened.sum(0), wide.sum(0), atol=1e-5)
    # Widening stops at MAX_SIDE_GAIN: the side grows by at most that much.
    limit = image_to(narrowed, -0.5)
    side = (narrowed[0] - narrowed[1]) / 2
    assert np.abs((limit[0] - limit[1]) / 2).max() == pytest.approx(
        MAX_SIDE_GAIN * np.abs(side).max(), rel=1e-4)
    assert image_to(wide, before) is wide  # there already
    mono = np.stack([wide[0], wide[0]])
    assert image_to(mono, 0.3) is mono  # no side to widen


def test_finishing_levels_each_family_and_keeps_the_mix_the_sum() -> None:
    reference = {"bass": {"lr_correlation": 1.0, "loudness_lufs": -20.0},
                 "drums": {"lr_correlation": 0.9, "loudness_lufs": -18.0}}
    stems = {"bass": _wandering(level=0.02), "drums": _wandering(level=0.01, seed=2),
             "guitar": _wandering(seed=3)}
    finished = finish_stems(stems, RATE, reference)
    assert lr_correlation(finished["bass"]) > 0.999
    assert loudness_lufs(finished["bass"], RATE) == pytest.approx(-20.0, abs=0.3)
    assert loudness_lufs(finished["drums"], RATE) == pytest.approx(-18.0, abs=0.3)
    assert finished["guitar"] is stems["guitar"]  # no reference for the family: as it was
    # Too loud for the ceiling together: the variation's stems share one cut.
    loud = {"bass": {"lr_correlation": 0.0, "loudness_lufs": 0.0},
            "drums": {"lr_correlation": 0.0, "loudness_lufs": 0.0}}
    capped = finish_stems({"bass": _wandering(level=0.2), "drums": _wandering(level=0.2, seed=4)},
                          RATE, loud)
    peak = np.abs(capped["bass"] + capped["drums"]).max()
    assert peak == pytest.approx(10 ** (PEAK_CEILING_DB / 20), rel=1e-4)


def test_stem_names_map_to_corpus_families(tmp_path) -> None:
    assert [family_of(n) for n in ("pads", "pads.2", "bass.1", "mix")] == ["pad", "pad", "bass",
                                                                          "mix"]
    assert load_reference(tmp_path) is None
    (tmp_path / "stem_sound.json").write_text(json.dumps({"families": {"bass": {
        "lr_correlation": 1.0, "loudness_lufs": -20.0}}}))
    assert load_reference(tmp_path)["bass"]["loudness_lufs"] == -20.0
