"""The realism distance: Fréchet and kernel distances with known answers, loudness matching,
the clip sets (split by file, mixes derived from stems, generated renders read back from
the cache) and a tiny end-to-end run on corpora the test writes."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.loudness import integrated_lufs
from engine.corpus.shards import ShardWriter, write_manifest
from engine.generator import realism, realism_report
from engine.generator import realism_sets as sets

SR = 32000


def _gaussian(n: int, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, scale, (n, 8))


def test_frechet_of_known_gaussians_matches_the_closed_form() -> None:
    mean_a, mean_b = np.zeros(3), np.array([1.0, 0.0, 2.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = 1 + 4 + sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)  # 5 + 1 + 0 + 4
    got = realism.frechet_from_moments(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    assert got == pytest.approx(expected, abs=1e-9) and expected == pytest.approx(10.0)
    # A rotated pair keeps the distance (it only sees the geometry).
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    rotated = realism.frechet_from_moments(q @ mean_a, q @ np.diag(var_a) @ q.T, q @ mean_b,
                                           q @ np.diag(var_b) @ q.T)
    assert rotated == pytest.approx(expected, abs=1e-8)


def test_distances_are_near_zero_for_one_distribution_and_grow_with_a_shifted_mean() -> None:
    reference = _gaussian(400)
    fds, kds = [], []
    for shift in (0.0, 0.25, 0.5, 1.0, 2.0):
        other = _gaussian(400, shift, seed=7)
        fds.append(realism.frechet_distance(reference, other))
        kds.append(realism.kernel_distance(reference, other))
    assert fds[0] < 0.2 and abs(kds[0]) < 0.02
    assert all(a < b for a, b in itertools.pairwise(fds))
    assert all(a < b for a, b in itertools.pairwise(kds))
    # A shift of 2 in all 8 dimensions: |d mean|^2 = 32, seen along the pooled main axes.
    assert fds[-1] == pytest.approx(32, rel=0.15)


def test_distance_reports_n_and_spread_and_ranks_a_wider_set_farther() -> None:
    reference = _gaussian(48)
    same = realism.distance(reference, _gaussian(48, seed=3), resamples=20)
    wider = realism.distance(reference, _gaussian(48, scale=2.0, seed=3), resamples=20)
    assert same["n"] == [48, 48] and same["resamples"] == 20 and same["components"] == 8
    assert same["subset"] == 36
    assert same["fd_sd"] > 0 and same["kd_sd"] > 0
    assert wider["fd"] > 3 * same["fd"] and wider["kd"] > 3 * max(same["kd"], 0.01)


def test_standardise_does_not_blow_up_a_dimension_the_reference_holds_constant() -> None:
    reference = _gaussian(48)
    reference[:, 0] = 1e-6 * reference[:, 0]  # e.g. a band above a lossy encoder's cut-off
    other = _gaussian(48, seed=4)
    other[:, 0] = 0.01
    ref, oth = realism.standardise(reference, other)
    spreads = ref[:, 1:].std(0)  # z-scores elsewhere (spreads under the median: a bit less)
    assert spreads.max() == pytest.approx(1.0) and spreads.min() > 0.7
    assert abs(oth[:, 0]).max() < 0.1  # 0.01 over the median spread (~1), not over 1e-6


def test_match_loudness_reaches_the_target_and_refuses_silence() -> None:
    t = np.arange(SR * 2) / SR
    quiet = np.stack([0.01 * np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
    assert integrated_lufs(quiet, SR) < -35
    matched = realism.match_loudness(quiet, SR, -16.0)
    assert integrated_lufs(matched, SR) == pytest.approx(-16.0, abs=0.01)
    with pytest.raises(ValueError, match="silent"):
        realism.match_loudness(np.zeros((2, SR), np.float32), SR)


def test_halves_by_file_never_share_a_file() -> None:
    rows = [{"key": f"{p}{f}{w}", "package": p, "file": f"{p}/{f}"} for p in "ab"
            for f in range(5) for w in range(3)]
    first, second = sets.halves_by_file(rows)
    assert {r["file"] for r in first}.isdisjoint({r["file"] for r in second})
    assert sorted(r["key"] for r in first + second) == sorted(r["key"] for r in rows)
    assert {r["package"] for r in first} == {r["package"] for r in second} == {"a", "b"}


def _flac(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio.T, SR, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def _tone(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A harmonic tone with a random pitch and a little vibrato, stereo."""
    t = np.arange(round(seconds * SR)) / SR
    f0 = rng.uniform(110, 440)
    wave = sum(np.sin(2 * np.pi * k * f0 * t + 0.3 * np.sin(5 * t)) / k for k in range(1, 6))
    return np.stack([0.1 * wave] * 2).astype(np.float32)


def _corpus(root: Path, groups: dict[str, tuple[str, int, str]], seconds: float = 2.0) -> Path:
    """Per package: (split, files, kind), two windows per file; kind "tone" stores a mix,
    "noise" stores two stems and no mix (as v2 builds do)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(5)
    for package, (split, files, kind) in groups.items():
        writer = ShardWriter(root / f"real__{package}__{split}-000000.tar")
        for f in range(files):
            for w in range(2):
                meta = {"split": split, "seconds": seconds, "package": package,
                        "file": f"{package}/song{f}.ogg"}
                if kind == "tone":
                    members = {"mix.flac": _flac(_tone(rng, seconds))}
                else:
                    noise = (0.05 * rng.standard_normal((2, round(seconds * SR))))
                    members = {"drums.flac": _flac(noise.astype(np.float32)),
                               "bass.flac": _flac(_tone(rng, seconds))}
                writer.add(f"r_{package}_{f:04d}_{w:04d}", meta, members)
        writer.close()
    write_manifest(root)
    return root


def test_corpus_clips_derive_a_missing_mix_from_the_stems(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "v2", {"synth": ("train", 2, "noise")})
    rows = sets.split_rows(root, None)
    clips = sets.corpus_clips(root, rows, 3, 1.0)
    assert len(clips) == 3 and all(audio.shape == (2, SR) for _, audio in clips)
    key = clips[0][0]
    stems = sets.read_mixes(root, rows, [key])[key]
    assert np.allclose(clips[0][1], stems[:, SR // 2 : SR // 2 + SR], atol=1e-6)


def test_reserved_packages_are_refused(tmp_path: Path) -> None:
    from engine.data.reserved import ReservedSourceError

    root = _corpus(tmp_path / "real", {"hedgewars-data": ("test", 1, "tone")})
    with pytest.raises(ReservedSourceError):
        sets.split_rows(root, "test")


def test_generated_renders_are_read_back_from_the_cache(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for seed in (1, 2):
        sf.write(tmp_path / f"00-seed{seed}.wav", _tone(rng, 3.0).T, 44100, subtype="FLOAT")
    # A model folder that does not exist: any attempt to generate would fail.
    clips = sets.generated_clips(tmp_path, (1, 2), 2.0, model=tmp_path / "no-model", limit=1)
    assert [name for name, _ in clips] == ["00-seed1.wav", "00-seed2.wav"]
    assert all(audio.shape == (2, 2 * SR) for _, audio in clips)
    # Only what is cached: seed 3 was never rendered, and nothing is generated for it.
    cached = sets.generated_clips(tmp_path, (1, 3), 2.0, model=tmp_path / "no-model",
                                  render_missing=False)
    assert [name for name, _ in cached] == ["00-seed1.wav"]
    with pytest.raises(sets.EvalSetError, match="no generated renders"):
        sets.generated_clips(tmp_path / "empty", (1,), 2.0, render_missing=False)


def test_a_table_compares_every_row_at_one_subset_size() -> None:
    reference = {"e": _gaussian(48)}
    table = realism.distance_table(reference, {"big": {"e": _gaussian(48, seed=1)},
                                               "small": {"e": _gaussian(16, seed=2)}}, 4)
    assert {row["subset"] for row in table["e"].values()} == {12}
    assert {row["components"] for row in table["e"].values()} == {5}
    assert table["e"]["small"]["n"] == [48, 16]


def test_degradations_add_noise_at_the_asked_level_and_cut_the_highs() -> None:
    rng = np.random.default_rng(3)
    tone = _tone(rng, 2.0)
    noisy = sets.add_noise(tone, 10)
    snr = 10 * np.log10(np.mean(tone**2) / np.mean((noisy - tone) ** 2))
    assert snr == pytest.approx(10, abs=0.2)
    white = (0.1 * rng.standard_normal((2, 2 * SR))).astype(np.float32)
    low = sets.low_pass(white, 4000)
    above = np.fft.rfftfreq(white.shape[1], 1 / SR) > 6000
    power, power_low = ((np.abs(np.fft.rfft(x[0])) ** 2)[above].sum() for x in (white, low))
    assert power_low < 1e-4 * power
    assert low.shape == white.shape and low.dtype == np.float32


def test_end_to_end_ranks_real_pairs_nearest_on_a_tiny_corpus(tmp_path: Path) -> None:
    real = _corpus(tmp_path / "real", {"held-a": ("test", 4, "tone"),
                                       "held-b": ("test", 4, "tone"),
                                       "other": ("train", 4, "tone")})
    synth = _corpus(tmp_path / "synth", {"synth": ("train", 4, "noise")})
    report = realism_report.evaluate(real, {"noisy renders": synth,
                                            "absent": tmp_path / "none"}, None, (1,),
                                     count=6, seconds=1.5, resamples=5)
    assert report["skipped"] == {"absent": f"no corpus at {tmp_path / 'none'}"}
    assert set(report["table"]) == {"mulan", "stats"}
    stats = report["table"]["stats"]
    assert set(stats) == {*report["calibration_rows"], *report["comparison_rows"]}
    assert report["clips_per_set"]["reference"] == 6
    for metric in ("fd", "kd"):
        assert stats["noisy renders"][metric] > stats[realism_report.SAME_SPLIT][metric]
    noise = [label for label in report["calibration_rows"] if "noise" in label]
    assert stats[noise[-1]]["fd"] > stats[realism_report.SAME_SPLIT]["fd"]
    assert "fd_noise_monotonic" in report["checks"]["stats"]
    assert "real train" in realism_report.format_table(report)


def test_cli_refuses_a_missing_corpus_with_a_message(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    from stemloom.cli import main

    assert main(["eval", "realism", "--real", str(tmp_path / "nothing"),
                 "--v1", str(tmp_path), "--v2", str(tmp_path)]) == 2
    assert "no corpus here" in capsys.readouterr().err
