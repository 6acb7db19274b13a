"""A stem made again on a kept plan stays, summed with the take's kept stems, under the peak
ceiling: the plan keeps each stem's peak envelope, and only the new stem is shaped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bridge.loudness import PEAK_CEILING_DBTP, true_peak_dbtp
from engine.generator.finish import (
    TAKE_CURVES,
    TAKE_GAINS,
    finish_stems,
    kept_takes,
    plan_entries,
)
from engine.generator.kept_mix import (
    FIT_MAX_DB,
    MAX_PEAK_BLOCKS,
    PEAK_BLOCK,
    block_of,
    fit_curve,
    kept_peaks,
    peak_entries,
    peak_envelope,
)
from engine.generator.sound import loudness_lufs

RATE = 32000
REFERENCE = {"bass": {"lr_correlation": 1.0, "loudness_lufs": -24.0},
             "drums": {"lr_correlation": 1.0, "loudness_lufs": -26.0},
             "mix": {"lr_correlation": 1.0, "loudness_lufs": -14.0}}
HIT = np.minimum(np.arange(400) / 16, 1) * np.exp(-np.arange(400) / 100)


def _drums(seconds: float = 4.0) -> np.ndarray:
    """Sharp hits on every beat at 120 bpm over a little noise."""
    drums = 0.01 * np.random.default_rng(0).standard_normal(int(seconds * RATE))
    for start in range(0, drums.size, RATE // 2):
        drums[start : start + 400] += 0.3 * HIT
    return np.stack([drums, drums]).astype(np.float32)


def _bass(sign: float, seconds: float = 4.0) -> np.ndarray:
    """A 60 Hz bass whose crest falls on every hit (``sign`` +1) or whose trough does (-1)."""
    bass = sign * 0.1 * np.cos(2 * np.pi * 60 * np.arange(int(seconds * RATE)) / RATE)
    return np.stack([bass, bass]).astype(np.float32)


def _stored(plan: dict[str, np.ndarray], folder: Path) -> dict[str, np.ndarray]:
    """The plan as the server keeps it between jobs: an .npz read back without pickles."""
    np.savez(folder / "plan.npz", **plan)
    with np.load(folder / "plan.npz", allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def test_the_envelope_holds_every_sample() -> None:
    audio = np.random.default_rng(1).standard_normal((2, 1001)).astype(np.float32) * 0.3
    envelope = peak_envelope(audio)
    assert envelope.dtype == np.float16 and envelope.shape == (2, -(-1001 // PEAK_BLOCK))
    padded = np.pad(audio, ((0, 0), (0, -1001 % PEAK_BLOCK)))
    blocks = padded.reshape(2, -1, PEAK_BLOCK)
    assert np.all(envelope[0] <= blocks.min(axis=(0, 2)))  # rounded outward, never inward
    assert np.all(envelope[1] >= blocks.max(axis=(0, 2)))
    assert np.all(envelope[1] - blocks.max(axis=(0, 2)) < 2e-3)
    # A very long clip gets coarser blocks, so a plan stays small.
    assert block_of(MAX_PEAK_BLOCKS * PEAK_BLOCK) == PEAK_BLOCK
    long = np.zeros((2, MAX_PEAK_BLOCKS * PEAK_BLOCK * 3 + 1), np.float32)
    assert peak_envelope(long).shape[1] <= MAX_PEAK_BLOCKS


def test_a_stem_made_again_stays_under_the_ceiling_beside_the_kept_stems(tmp_path) -> None:
    # The take's bass cancels its hits, so the mastering lets the drums rise to the ceiling;
    # the bass made again reinforces them instead.
    first = finish_stems({"drums": _drums(), "bass": _bass(-1)}, RATE, REFERENCE)
    plan = _stored({**plan_entries(first.takes), **peak_entries(first.peaks)}, tmp_path)
    assert set(kept_peaks(plan)) == {("drums", 1), ("bass", 1)}
    kept = first.stems["drums"]  # never passed to the engine again, never rewritten
    new = {"bass": _bass(+1)}
    unfitted = finish_stems(new, RATE, REFERENCE, kept_takes(plan)).stems["bass"]
    assert true_peak_dbtp(kept + unfitted) > PEAK_CEILING_DBTP + 1.0  # the problem
    again = finish_stems(new, RATE, REFERENCE, kept_takes(plan), kept_peaks(plan))
    bass = again.stems["bass"]
    assert true_peak_dbtp(kept + bass) <= PEAK_CEILING_DBTP + 1e-3
    # Only the peaks were taken off: the bass still lands at its take's level.
    assert loudness_lufs(bass, RATE) == pytest.approx(loudness_lufs(unfitted, RATE), abs=0.5)
    ratio = bass[0] / unfitted[0]
    assert ratio.max() <= 1 + 1e-5 and ratio.min() >= 10 ** (-FIT_MAX_DB / 20) - 1e-5
    # The next plan describes the take as it now is: the kept drums and the new bass.
    np.testing.assert_array_equal(again.peaks[("drums", 1)], first.peaks[("drums", 1)])
    np.testing.assert_array_equal(again.peaks[("bass", 1)], peak_envelope(bass))


def test_a_plan_of_a_stem_made_again_fits_the_next_one(tmp_path) -> None:
    first = finish_stems({"drums": _drums(), "bass": _bass(-1)}, RATE, REFERENCE)
    plan = _stored({**plan_entries(first.takes), **peak_entries(first.peaks)}, tmp_path)
    bass = finish_stems({"bass": _bass(+1)}, RATE, REFERENCE, kept_takes(plan),
                        kept_peaks(plan))
    chained = _stored({**plan_entries(bass.takes), **peak_entries(bass.peaks)}, tmp_path)
    # The drums made again now sit beside the new bass, not the one it replaced.
    drums = finish_stems({"drums": _drums()}, RATE, REFERENCE, kept_takes(chained),
                         kept_peaks(chained)).stems["drums"]
    assert true_peak_dbtp(drums + bass.stems["bass"]) <= PEAK_CEILING_DBTP + 1e-3


def test_a_stem_with_room_is_left_as_it_is() -> None:
    quiet = [_bass(+1) * 0.1]
    assert fit_curve(quiet, [peak_envelope(_drums() * 0.1)], 0.84, RATE) is None
    assert fit_curve(quiet, [], 0.84, RATE) is None  # nothing kept beside it
    # A plan made before plans kept envelopes: the stem gets its take's mastering alone.
    first = finish_stems({"drums": _drums(), "bass": _bass(-1)}, RATE, REFERENCE)
    old = plan_entries(first.takes)
    assert kept_peaks(old) == {}
    np.testing.assert_array_equal(
        finish_stems({"bass": _bass(+1)}, RATE, REFERENCE, kept_takes(old),
                     kept_peaks(old)).stems["bass"],
        finish_stems({"bass": _bass(+1)}, RATE, REFERENCE, kept_takes(old)).stems["bass"])


def test_a_stem_made_again_and_again_keeps_its_take_limiter(tmp_path) -> None:
    # The take's limiter works on every hit; each regeneration's plan keeps its curve.
    first = finish_stems({"drums": _drums(), "bass": _bass(-1)}, RATE, REFERENCE)
    assert first.takes[1].curve is not None
    plan = _stored({**plan_entries(first.takes), **peak_entries(first.peaks)}, tmp_path)
    kept = first.stems["drums"]
    made = []
    for _ in range(3):  # the same bass made again on the plan of the last regeneration
        again = finish_stems({"bass": _bass(+1)}, RATE, REFERENCE, kept_takes(plan),
                             kept_peaks(plan))
        next_plan = _stored({**plan_entries(again.takes), **peak_entries(again.peaks)},
                            tmp_path)
        for entry in (TAKE_GAINS, TAKE_CURVES):  # the take's mastering, as it was
            np.testing.assert_array_equal(next_plan[entry], plan[entry])
        plan = next_plan
        made.append(again.stems["bass"])
    # The second and third land as the first did: limited at the hits, at the same level.
    for bass in made[1:]:
        np.testing.assert_allclose(bass, made[0], atol=1e-6)
        assert loudness_lufs(bass, RATE) == pytest.approx(loudness_lufs(made[0], RATE),
                                                          abs=0.01)
        assert true_peak_dbtp(kept + bass) <= PEAK_CEILING_DBTP + 1e-3
