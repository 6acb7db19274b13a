"""Loudness-normalised placement: the host's BS.1770 meter and the one gain per take."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from bridge.loudness import integrated_lufs, true_peak_dbtp
from bridge.messages import Done
from plugin_host.daw import get_adapter
from plugin_host.loudness import take_level
from plugin_host.placement import levels_for, place_job


def _signals(rate: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rate)
    t = np.arange(int(rate * 4.3)) / rate
    return {
        "tones": np.stack([np.sin(2 * np.pi * 997 * t), 0.5 * np.sin(2 * np.pi * 60 * t)]) * 0.3,
        "gated noise": rng.standard_normal((2, t.size)) * 0.05 * np.where(t < 2, 1, 0.02),
        "bright decay": np.stack([np.sin(2 * np.pi * 5000 * t) * np.exp(-t),
                                  rng.standard_normal(t.size) * 0.01]),
        "sub bass": np.stack([np.sin(2 * np.pi * 35 * t)] * 2) * 0.5,
    }


@pytest.mark.parametrize("rate", [32000, 44100, 48000, 96000])
def test_the_meter_reads_what_pyloudnorm_reads(rate: int) -> None:
    for name, audio in _signals(rate).items():
        ours = integrated_lufs(audio, rate)
        reference = pyloudnorm.Meter(rate).integrated_loudness(audio.T)
        assert ours == pytest.approx(reference, abs=0.05), name


@pytest.mark.parametrize("rate", [32000, 48000])
def test_the_host_bundles_fft_filter_equals_the_engines_biquads(rate: int) -> None:
    """The host bundle has no scipy: its FFT path must weight exactly as the biquads do."""
    pytest.importorskip("scipy")  # the engine's path; without it both sides are the FFT's
    from bridge.loudness import _k_weighted, _k_weighted_by_fft

    for name, audio in _signals(rate).items():
        np.testing.assert_allclose(_k_weighted_by_fft(audio, rate), _k_weighted(audio, rate),
                                   atol=1e-9, err_msg=name)


def test_silence_and_too_short_have_no_loudness() -> None:
    assert integrated_lufs(np.zeros((2, 48000)), 48000) == -math.inf
    assert integrated_lufs(np.full((2, 1000), 0.5), 48000) == -math.inf  # < one 400 ms block


def test_true_peak_sees_the_peak_between_samples() -> None:
    rate = 48000
    t = np.arange(rate) / rate
    # A quarter-rate sine sampled 45 degrees off its crests: every sample reads 0.707.
    audio = np.stack([np.sin(2 * np.pi * rate / 4 * t + np.pi / 4)] * 2)
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-3.01, abs=0.01)
    # Read through a 12-tap-per-phase interpolator: never under the peak, at most 0.2 dB over.
    assert 0.0 <= true_peak_dbtp(audio) < 0.2


def test_a_quiet_take_is_raised_to_the_target_with_its_balance_kept() -> None:
    rate = 48000
    rng = np.random.default_rng(4)
    stems = {"bass": rng.standard_normal((2, rate * 3)) * 0.01,
             "keys": rng.standard_normal((2, rate * 3)) * 0.003}
    level = take_level(stems, rate, -20.0)
    assert not level.peak_limited and level.gain_db > 10
    scale = 10 ** (level.gain_db / 20)
    mix = sum(a * scale for a in stems.values())
    assert pyloudnorm.Meter(rate).integrated_loudness(mix.T) == pytest.approx(-20.0, abs=0.05)


def test_the_gain_is_held_back_where_a_clip_would_peak_over_the_ceiling() -> None:
    rate = 48000
    rng = np.random.default_rng(5)
    drums = rng.standard_normal((2, rate * 3)) * 0.005
    drums[:, ::rate // 2] = 0.5  # hard transients far above the body of the stem
    level = take_level({"drums": drums}, rate, -8.0)
    assert level.peak_limited and level.loudness_lufs < -8.0
    assert true_peak_dbtp(drums * 10 ** (level.gain_db / 20)) <= -1.0 + 1e-6
    assert take_level({"drums": np.zeros((2, rate))}, rate, -14.0).gain_db == 0.0


def test_place_job_at_a_loudness_writes_every_stem_with_one_gain(tmp_path: Path) -> None:
    engine = tmp_path / "engine"
    engine.mkdir()
    rng = np.random.default_rng(6)
    originals = {"drums": rng.uniform(-0.05, 0.05, (96000, 2)).astype(np.float32),
                 "keys": rng.uniform(-0.02, 0.02, (96000, 2)).astype(np.float32)}
    for name, audio in originals.items():
        sf.write(engine / f"{name}.wav", audio, 48000, subtype="FLOAT")
    done = Done(request_id="job-1", bpm=120.0, bars=4, time_signature="4/4", key="C major",
                sample_rate=48000, format="float32", seed=3, loop=False, model="m",
                metadata="", stems={n: str(engine / f"{n}.wav") for n in originals},
                melody_midi="")
    placed = place_job(done, "groove", get_adapter("folder", path=tmp_path / "s"),
                       clips_root=tmp_path / "clips", loudness=-16.0)
    assert list(placed.levels) == [1] and not placed.levels[1].peak_limited
    written = {n: sf.read(next((tmp_path / "clips" / "job-1").glob(f"*{n}*.wav")),
                          dtype="float32")[0] for n in originals}
    ratios = [float(np.median(written[n] / originals[n])) for n in originals]
    assert ratios[0] == pytest.approx(ratios[1], rel=1e-5)  # one gain: the balance is kept
    mix = sum(written.values())
    assert pyloudnorm.Meter(48000).integrated_loudness(mix) == pytest.approx(-16.0, abs=0.05)
    # The engine's own files are left as they were.
    assert np.array_equal(sf.read(done.stems["keys"], dtype="float32")[0], originals["keys"])


def test_each_take_of_a_job_gets_its_own_gain(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    stems = {}
    for name, scale in (("bass.1", 0.01), ("keys.1", 0.01), ("bass.2", 0.05), ("keys.2", 0.05)):
        path = tmp_path / f"{name}.wav"
        sf.write(path, rng.uniform(-scale, scale, (96000, 2)).astype(np.float32), 48000,
                 subtype="FLOAT")
        stems[name] = str(path)
    done = Done(request_id="job-2", bpm=120.0, bars=4, time_signature="4/4", key="C major",
                sample_rate=48000, format="float32", seed=3, loop=False, model="m",
                metadata="", stems=stems, melody_midi="")
    levels = levels_for(done, -20.0)
    assert set(levels) == {1, 2}
    assert levels[1].gain_db - levels[2].gain_db == pytest.approx(20 * np.log10(5), abs=0.1)
    assert all(level.loudness_lufs == pytest.approx(-20.0, abs=0.05) for level in levels.values())


def test_a_block_shorter_than_the_standard_reads_a_short_chunk_as_pyloudnorm_does() -> None:
    rng = np.random.default_rng(8)
    for samples in (3000, 9600, 20000):
        audio = rng.standard_normal((2, samples)) * 0.1
        block = min(0.4, samples / 32000)
        reference = pyloudnorm.Meter(32000, block_size=block).integrated_loudness(audio.T)
        assert integrated_lufs(audio, 32000, block_s=block) == pytest.approx(reference, abs=0.01)
