"""Finishing stems to the corpus's stereo image and level, mastering takes to its mix
loudness, and the measures it is judged by."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bridge.loudness import PEAK_CEILING_DBTP, true_peak_dbtp
from engine.generator.finish import (
    MAX_LIMIT_DB,
    MAX_SIDE_GAIN,
    PreviewFinisher,
    family_of,
    finish_stems,
    image_to,
    kept_takes,
    load_reference,
    plan_entries,
)
from engine.generator.sound import (
    harmonic_share,
    high_band_share,
    loudness_lufs,
    lr_correlation,
    mono_sum_loss_db,
)

RATE = 32000
MIX_TARGET = -16.0
STEMS_ONLY = {"bass": {"lr_correlation": 1.0, "loudness_lufs": -26.0},
              "drums": {"lr_correlation": 1.0, "loudness_lufs": -28.0}}
REFERENCE = {**STEMS_ONLY, "mix": {"lr_correlation": 1.0, "loudness_lufs": MIX_TARGET}}


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
    finished = finish_stems(stems, RATE, reference).stems
    assert lr_correlation(finished["bass"]) > 0.999
    assert loudness_lufs(finished["bass"], RATE) == pytest.approx(-20.0, abs=0.3)
    assert loudness_lufs(finished["drums"], RATE) == pytest.approx(-18.0, abs=0.3)
    assert finished["guitar"] is stems["guitar"]  # no reference for the family: as it was
    # Too loud for the ceiling together: the take's stems share one limiter and gain.
    loud = {"bass": {"lr_correlation": 0.0, "loudness_lufs": 0.0},
            "drums": {"lr_correlation": 0.0, "loudness_lufs": 0.0}}
    capped = finish_stems({"bass": _wandering(level=0.2), "drums": _wandering(level=0.2, seed=4)},
                          RATE, loud).stems
    for audio in (capped["bass"], capped["drums"], capped["bass"] + capped["drums"]):
        assert true_peak_dbtp(audio) <= PEAK_CEILING_DBTP + 1e-3


HIT = np.minimum(np.arange(400) / 16, 1) * np.exp(-np.arange(400) / 100)  # a 0.5 ms attack


def _beat(seconds: float = 4.0, seed: int = 0) -> dict[str, np.ndarray]:
    """A quiet take whose drums are sharp clicks: its peaks sit far above its loudness."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    drums = 0.01 * rng.standard_normal(t.size)
    for start in range(0, t.size, RATE // 2):  # a hit on every beat at 120 bpm
        drums[start : start + 400] += 0.3 * HIT
    bass = 0.05 * np.sin(2 * np.pi * 55 * t + rng.uniform(0, 6))
    return {"drums": np.stack([drums, drums]).astype(np.float32),
            "bass": np.stack([bass, bass]).astype(np.float32)}


def _shared_gain(after: dict[str, np.ndarray], before: dict[str, np.ndarray]) -> np.ndarray:
    """The per-sample gain from ``before`` to ``after``, asserted equal for every stem."""
    ratios = [after[name][0] / before[name][0] for name in before]
    for ratio in ratios[1:]:
        np.testing.assert_allclose(ratio, ratios[0], rtol=1e-4)
    return ratios[0]


def test_mastering_brings_the_take_to_the_mix_loudness_with_one_shared_gain() -> None:
    take = _beat()
    alone = finish_stems(take, RATE, STEMS_ONLY).stems  # levelled, not mastered
    done = finish_stems(take, RATE, REFERENCE)
    mix = sum(done.stems.values())
    assert loudness_lufs(sum(alone.values()), RATE) < MIX_TARGET - 3  # too quiet as levelled
    assert loudness_lufs(mix, RATE) == pytest.approx(MIX_TARGET, abs=0.2)
    for audio in (mix, *done.stems.values()):
        assert true_peak_dbtp(audio) <= PEAK_CEILING_DBTP + 1e-3
    # One gain curve for every stem: the stems keep their balance and sum to the mix.
    gain = _shared_gain(done.stems, alone)
    assert done.takes[1].curve is not None  # the clicks needed the limiter...
    depth = 20 * np.log10(gain.max() / gain.min())
    assert 0.5 < depth <= MAX_LIMIT_DB + 0.5  # ...and it took no more than its reach


def test_a_lone_click_is_limited_deeper_but_the_limiter_reach_is_bounded() -> None:
    take = _beat()
    take["drums"][:, 100:110] *= 40  # one click, as the codec's first frames may hold
    done = finish_stems(take, RATE, REFERENCE)
    mix = sum(done.stems.values())
    assert loudness_lufs(mix, RATE) == pytest.approx(MIX_TARGET, abs=0.6)  # not held back
    assert true_peak_dbtp(mix) <= PEAK_CEILING_DBTP + 1e-3
    sharp = _beat()
    sharp["drums"] = sharp["drums"] * 0.1
    sharp["drums"][:, :: RATE // 2] = 0.5  # every beat a one-sample spike: all too sharp
    done = finish_stems(sharp, RATE, REFERENCE)
    gain = _shared_gain(done.stems, finish_stems(sharp, RATE, STEMS_ONLY).stems)
    assert 20 * np.log10(gain.max() / gain.min()) <= MAX_LIMIT_DB + 0.6
    assert loudness_lufs(sum(done.stems.values()), RATE) < MIX_TARGET - 1  # short of it
    assert true_peak_dbtp(sum(done.stems.values())) <= PEAK_CEILING_DBTP + 1e-3


def test_a_gain_alone_needs_no_limiter() -> None:
    calm = finish_stems({"bass": _beat()["bass"]}, RATE, REFERENCE)
    assert calm.takes[1].curve is None
    assert loudness_lufs(calm.stems["bass"], RATE) == pytest.approx(MIX_TARGET, abs=0.2)


def test_takes_are_mastered_apart_and_silence_is_left_silent() -> None:
    first, second = _beat(seed=1), _beat(seed=2)
    stems = {"drums.1": first["drums"], "bass.1": first["bass"],
             "drums.2": second["drums"] * 0.1, "bass.2": second["bass"] * 0.1,
             "bass.3": np.zeros((2, 4 * RATE), np.float32)}
    done = finish_stems(stems, RATE, REFERENCE)
    for take in (1, 2):
        mix = done.stems[f"drums.{take}"] + done.stems[f"bass.{take}"]
        assert loudness_lufs(mix, RATE) == pytest.approx(MIX_TARGET, abs=0.3)
    assert done.takes[3].gain_db == 0.0 and not np.any(done.stems["bass.3"])


def test_a_stem_made_again_on_a_kept_plan_keeps_its_take_level(tmp_path) -> None:
    take = _beat(seed=3)
    first = finish_stems(take, RATE, REFERENCE)
    # The plan travels as the server stores it: an .npz without pickles.
    np.savez(tmp_path / "plan.npz", **plan_entries(first.takes))
    with np.load(tmp_path / "plan.npz", allow_pickle=False) as stored:
        kept = kept_takes({name: stored[name] for name in stored.files})
    again = {"bass": _beat(seed=4)["bass"]}  # another bass, as a new seed would make it
    regenerated = finish_stems(again, RATE, REFERENCE, kept).stems["bass"]
    before = loudness_lufs(first.stems["bass"], RATE)
    assert loudness_lufs(regenerated, RATE) == pytest.approx(before, abs=0.3)
    # Mastered on its own it would jump to the whole mix's loudness.
    alone = finish_stems(again, RATE, REFERENCE).stems["bass"]
    assert loudness_lufs(alone, RATE) > before + 1.5
    # The same stem made again lands exactly where it was (the curve kept at 1 kHz).
    same = finish_stems({"bass": take["bass"]}, RATE, REFERENCE, kept).stems["bass"]
    np.testing.assert_allclose(same, first.stems["bass"], atol=2e-3 * np.abs(same).max())
    assert kept_takes(None) is None
    assert kept_takes({"semantic": np.zeros((1, 4))}) == {}  # a plan from before: no gain
    older = finish_stems(again, RATE, REFERENCE, {}).stems["bass"]
    family = STEMS_ONLY["bass"]["loudness_lufs"]
    assert loudness_lufs(older, RATE) == pytest.approx(family, abs=0.3)  # its family level


def test_a_take_the_kept_plan_lacks_is_mastered_as_a_new_take() -> None:
    first = finish_stems(_beat(seed=3), RATE, REFERENCE)
    kept = kept_takes(plan_entries(first.takes))  # a plan of one take
    # Made again with two takes: take 1 is the plan's, take 2 is new.
    second = _beat(seed=5)
    done = finish_stems({"bass.1": _beat(seed=4)["bass"], "drums.2": second["drums"],
                         "bass.2": second["bass"]}, RATE, REFERENCE, kept)
    assert done.takes[1].gain_db == kept[1].gain_db
    # Take 2 lands as it would in a job of its own, at the mix loudness, and it keeps its
    # own mastering for the next plan.
    alone = finish_stems(second, RATE, REFERENCE)
    for stem in ("drums", "bass"):
        np.testing.assert_array_equal(done.stems[f"{stem}.2"], alone.stems[stem])
    mix = done.stems["drums.2"] + done.stems["bass.2"]
    assert loudness_lufs(mix, RATE) == pytest.approx(MIX_TARGET, abs=0.3)
    assert done.takes[2].gain_db == alone.takes[1].gain_db
    # Its preview follows the mix's loudness like a new take's; take 1's is the kept gain.
    assert PreviewFinisher(["drums.2", "bass.2"], RATE, REFERENCE, kept).kept_gain is None
    assert PreviewFinisher(["bass.1"], RATE, REFERENCE, kept).kept_gain == kept[1].gain_db


def test_stem_names_map_to_corpus_families(tmp_path) -> None:
    assert [family_of(n) for n in ("pads", "pads.2", "bass.1", "mix")] == ["pad", "pad", "bass",
                                                                          "mix"]
    assert load_reference(tmp_path) is None
    (tmp_path / "stem_sound.json").write_text(json.dumps({"families": {"bass": {
        "lr_correlation": 1.0, "loudness_lufs": -20.0}}}))
    assert load_reference(tmp_path)["bass"]["loudness_lufs"] == -20.0
