"""``stemloom eval codec``: the three measures on audio with known answers, Opus in hard CBR,
the held-out real-music picks, and the whole report on a tiny codec."""

from __future__ import annotations

import io as _io
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.codec import io
from engine.codec.eval_sets import (
    EvalSetError,
    heldout_clips,
    package_queues,
    real_clips,
    recording_clips,
    row_packages,
)
from engine.codec.evaluate import evaluate, format_table
from engine.codec.metrics import log_mel_distance, si_sdr, spectral_convergence
from engine.codec.model import Codec, CodecConfig
from engine.codec.opus import opus_roundtrip
from engine.corpus.shards import ShardWriter, write_manifest
from engine.data.reserved import ReservedSourceError
from tests.engine.codec.conftest import SR, TINY_MODEL, song


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    return song(np.random.default_rng(11), 2.0)["mix"]


def test_identical_audio_scores_perfect(music: np.ndarray) -> None:
    assert log_mel_distance(music, music, SR) == 0.0
    assert spectral_convergence(music, music) == 0.0
    assert si_sdr(music, music) > 100


def test_a_6db_gain_moves_log_mel_by_log10_2_and_leaves_si_sdr(music: np.ndarray) -> None:
    # Broadband noise keeps every mel band far above the 1e-5 floor. One of the 80 bands is
    # empty at n_fft 512 (at the floor on both sides), so the mean over the three
    # resolutions is (79/80 + 1 + 1) / 3 of log10(2) = 0.2998.
    noise = 0.1 * np.random.default_rng(0).standard_normal((2, SR)).astype(np.float32)
    assert log_mel_distance(noise, 2 * noise, SR) == pytest.approx(
        math.log10(2) * (79 / 80 + 2) / 3, abs=1e-5)
    # Music with near-silent cells (the decays of its hits) moves less: the floor clips them.
    assert 0.2 < log_mel_distance(music, 2 * music, SR) < math.log10(2)
    assert spectral_convergence(music, 2 * music) == pytest.approx(1.0, abs=1e-5)
    assert spectral_convergence(music, music / 2) == pytest.approx(0.5, abs=1e-5)
    assert si_sdr(music, 2 * music) > 100


def test_white_noise_at_the_same_level_scores_far(music: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(music.shape).astype(np.float32)
    noise *= np.sqrt(np.mean(music**2) / np.mean(noise**2))
    # Far beyond what the issue reports for any coder (log-mel <= 0.87, SC <= 0.76,
    # SI-SDR >= -2.3 dB), and beyond a 6 dB gain change.
    assert log_mel_distance(music, noise, SR) > 1.0
    assert spectral_convergence(music, noise) > 1.0
    assert si_sdr(music, noise) < -20


def test_metrics_refuse_mismatched_shapes(music: np.ndarray) -> None:
    with pytest.raises(ValueError, match="one shape"):
        log_mel_distance(music, music[:, :-1], SR)


def test_opus_is_hard_cbr_and_better_with_more_bits(music: np.ndarray) -> None:
    low, low_rate = opus_roundtrip(music, SR, 6000)
    high, high_rate = opus_roundtrip(music, SR, 24000)
    assert low.shape == high.shape == music.shape
    # CBR: the packets written carry the asked bitrate (the last packet is a full one
    # covering a partial frame, so a 2 s clip reads a little over).
    assert 6000 <= low_rate < 6000 * 1.04 and 24000 <= high_rate < 24000 * 1.04
    assert log_mel_distance(music, high, SR) < log_mel_distance(music, low, SR)
    assert si_sdr(music, high) > si_sdr(music, low)


def _flac(audio: np.ndarray) -> bytes:
    buffer = _io.BytesIO()
    sf.write(buffer, audio.T, SR, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def write_recordings(root: Path, packages: dict[str, tuple[str, int, int]],
                     seconds: float = 1.0) -> Path:
    """A prepared-recordings corpus: per package (split, files, windows per file), one shard
    of windows whose mix is a tone; window 1 of a package named "quiet-*" is near silent."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(4)
    t = np.arange(round(seconds * SR)) / SR
    for package, (split, files, windows) in packages.items():
        writer = ShardWriter(root / f"real__{package}__{split}-000000.tar")
        for f in range(files):
            for w in range(windows):
                level = 1e-4 if w == 1 and package.startswith("quiet") else 0.2
                tone = level * np.sin(2 * np.pi * rng.uniform(100, 800) * t)
                mix = np.stack([tone, tone]).astype(np.float32)
                meta = {"split": split, "seconds": seconds, "package": package,
                        "file": f"{package}/song{f}.ogg", "source": "real"}
                writer.add(f"r_{package}_{f:04d}_{w:04d}", meta, {"mix.flac": _flac(mix)})
        writer.close()
    write_manifest(root)
    return root


def test_recording_clips_come_from_the_test_split_spread_over_packages(tmp_path: Path) -> None:
    root = write_recordings(tmp_path / "real", {"pkg-a": ("test", 3, 3),
                                                "quiet-b": ("test", 1, 4),
                                                "pkg-train": ("train", 2, 2)})
    clips, taken = recording_clips(root, 0.5, 6)
    names = [name for name, _ in clips]
    assert names == [name for name, _ in recording_clips(root, 0.5, 6)[0]]  # deterministic
    assert taken["packages"] == {"pkg-a": 3, "quiet-b": 3} and taken["windows_in_split"] == 13
    # The three files of pkg-a each give one window before any gives a second.
    assert len({name.split("_")[2] for name in names if name.startswith("pkg-a")}) == 3
    assert "quiet-b/r_quiet-b_0000_0001" not in names  # the near-silent window is skipped
    assert all(audio.shape == (2, SR // 2) for _, audio in clips)


def test_package_queues_cover_files_in_turn() -> None:
    rows = [{"key": f"{p}{f}{w}", "package": p, "file": f"{p}{f}"} for p in "ba"
            for f in range(3) for w in range(2)]
    queues = package_queues(rows)
    assert list(queues) == ["a", "b"]
    for package, keys in queues.items():
        assert sorted(keys) == sorted(r["key"] for r in rows if r["package"] == package)
        assert len({k[1] for k in keys[:3]}) == 3  # every file once before any twice


def test_reserved_packages_and_missing_sets_are_refused(tmp_path: Path) -> None:
    reserved = write_recordings(tmp_path / "r", {"hedgewars-data": ("test", 1, 1)})
    with pytest.raises(ReservedSourceError):
        real_clips(reserved, 0.5, 4)
    no_test = write_recordings(tmp_path / "t", {"pkg": ("train", 1, 1)})
    with pytest.raises(EvalSetError, match="no test split"):
        real_clips(no_test, 0.5, 4)
    folder = tmp_path / "music" / "wesnoth-1.18-music"
    folder.mkdir(parents=True)
    sf.write(folder / "x.wav", np.zeros((SR, 2), np.float32), SR)
    with pytest.raises(ReservedSourceError):
        real_clips(tmp_path / "music", 0.5, 4)
    held_out = write_recordings(tmp_path / "h", {"supertux-data": ("validation", 1, 1)})
    with pytest.raises(ReservedSourceError):
        heldout_clips(held_out, 0.5, 2)
    nested = {"stems": [{"bank": "x", "package": "openttd-openmsx"}], "package": "ok"}
    assert row_packages(nested) == {"openttd-openmsx", "ok"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalSetError, match="no audio files"):
        real_clips(tmp_path / "empty", 0.5, 4)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return io.export(Codec(CodecConfig(**TINY_MODEL)), tmp_path_factory.mktemp("w"), 0).parent


def test_report_has_every_row_and_gains_fix_the_level(tiny_weights: Path, tiny_corpus: Path,
                                                      tmp_path: Path) -> None:
    real = write_recordings(tmp_path / "real", {"pkg-a": ("test", 2, 3)})
    report = evaluate(tiny_weights, tiny_corpus, levels=(1, 3), opus_kbps=(6, 24), count=2,
                      seconds=0.5, real=real, speed_seconds=0.5)
    for name in ("real_recordings", "heldout_corpus"):
        result = report["sets"][name]
        assert result["clips"] == 2
        assert list(result["rows"]) == ["codec_1q", "codec_1q_gains", "codec_3q",
                                        "codec_3q_gains", "opus_6k", "opus_24k"]
        rows = result["rows"]
        assert rows["codec_3q"]["bitrate_bps"] == 1500  # 50 Hz x 3 levels x 5 bits x 2
        assert rows["codec_3q_gains"]["bitrate_bps"] == 1532  # + one byte / channel / 0.5 s
        assert 6000 <= rows["opus_6k"]["bitrate_bps"] < 6300
        for row in rows.values():
            assert all(math.isfinite(row[m]["mean"]) and row[m]["sd"] >= 0
                       for m in ("log_mel", "spectral_convergence", "si_sdr_db"))
        # The untrained codec decodes at some arbitrary level; the gains bring it back.
        assert abs(rows["codec_1q_gains"]["level_error_db"]["median"]) < 1.0
    assert report["sets"]["real_recordings"]["packages"] == {"pkg-a": 2}
    speed = report["decode_speed"]
    assert speed["offline_x_realtime"] > 0 and speed["streaming_x_realtime"] > 0
    table = format_table(report)
    assert "| codec, 3 levels + level gains | 1.53 |" in table
    assert "| Opus 24 kb/s (CBR) |" in table and "decode speed" in table
