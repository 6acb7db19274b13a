"""Levels, take checks and the metronome, on arrays (no device needed); and the promise that the
audio, MIDI and effects modules load none of torch, engine, sounddevice or pedalboard at import."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plugin_host.click import ACCENT_GAIN, BEAT_GAIN, Metronome, beat_seconds
from plugin_host.levels import (
    FLOOR_DBFS,
    ClippedTakeError,
    LevelMeter,
    SilentTakeError,
    check_take,
    dbfs,
    loudest_window_dbfs,
)

RATE = 48000
REPO = Path(__file__).resolve().parents[2]


def test_dbfs_and_its_floor() -> None:
    assert dbfs(1.0) == 0.0
    assert dbfs(0.5) == pytest.approx(-6.02, abs=0.01)
    assert dbfs(0.0) == dbfs(-1.0) == dbfs(float("nan")) == FLOOR_DBFS


def test_the_meter_holds_the_peak_until_read() -> None:
    meter = LevelMeter()
    meter.feed(np.full(256, 0.5, dtype=np.float32))
    meter.feed(np.full(256, 0.1, dtype=np.float32))
    level = meter.read()
    assert level.peak_dbfs == pytest.approx(dbfs(0.5))
    assert level.rms_dbfs == pytest.approx(dbfs(0.1), abs=1e-4)  # the latest block
    assert not level.clipped
    meter.feed(np.ones(8, dtype=np.float32))
    assert meter.read().clipped
    after = meter.read()
    assert not after.clipped and after.peak_dbfs == FLOOR_DBFS


def test_take_checks() -> None:
    t = np.arange(2 * RATE) / RATE
    hum = 0.2 * np.sin(2 * np.pi * 220 * t)
    check_take(hum, RATE)  # fine: no error
    hiss = np.random.default_rng(0).normal(0, 10 ** (-60 / 20), len(t))
    with pytest.raises(SilentTakeError, match="silent"):
        check_take(hiss, RATE)
    # A short hum in a long silence is not silent: the loudest 50 ms count.
    burst = np.zeros_like(t)
    burst[RATE:RATE + RATE // 10] = hum[:RATE // 10]
    assert loudest_window_dbfs(burst, RATE) == pytest.approx(dbfs(0.2 / np.sqrt(2)), abs=0.1)
    check_take(burst, RATE)
    with pytest.raises(ClippedTakeError, match="clipped"):
        check_take(np.clip(8 * hum, -1, 1), RATE)
    one_peak = hum.copy()
    one_peak[100] = 1.0
    check_take(one_peak, RATE)  # one stray sample at full scale is not clipping
    with pytest.raises(SilentTakeError, match="empty"):
        check_take(np.zeros(0), RATE)


def test_the_metronome_clicks_on_each_beat_accenting_the_bar() -> None:
    assert beat_seconds(120, (4, 4)) == 0.5 and beat_seconds(120, (6, 8)) == 0.25
    metronome = Metronome(100, (3, 4), RATE, count_in=3, during_take=True)
    whole = metronome.render(0, 6 * RATE)
    # Rendered in odd blocks, the stream is the same sample for sample.
    sizes = np.random.default_rng(3).integers(1, 3000, 10_000)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    pieces = [metronome.render(int(a), int(b - a)) for a, b in itertools.pairwise(starts)]
    assert np.array_equal(np.concatenate(pieces)[:len(whole)], whole)
    sounding = np.flatnonzero(np.abs(whole) > 1e-6)
    onsets = sounding[np.concatenate([[True], np.diff(sounding) > RATE // 10])]
    # sin starts at 0, so each click's first non-zero sample is one after its start
    assert list(onsets - 1) == [round(k * 0.6 * RATE) for k in range(10)]
    assert metronome.downbeat_frame == round(3 * 0.6 * RATE)
    peaks = [np.abs(whole[at:at + 500]).max() for at in onsets]
    assert [peak > (ACCENT_GAIN + BEAT_GAIN) / 2 for peak in peaks] == [
        k % 3 == 0 for k in range(10)]


def test_the_count_in_alone_stops_at_the_downbeat() -> None:
    metronome = Metronome(120, (4, 4), RATE, count_in=2)
    audio = metronome.render(-1000, 3 * RATE)
    assert not audio[:1000].any()  # frames before 0 are silent
    assert not audio[1000 + metronome.downbeat_frame:].any()
    assert audio[1000:1000 + metronome.downbeat_frame].any()


def test_the_new_host_modules_import_nothing_heavy() -> None:
    probe = (
        "import json, sys\n"
        "import plugin_host.hum_capture, plugin_host.preview, plugin_host.audio_devices\n"
        "import plugin_host.midi_in, plugin_host.effects, plugin_host.effect_presets\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules} & {'torch', 'engine',"
        " 'sounddevice', 'pedalboard', 'torchaudio'})))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
