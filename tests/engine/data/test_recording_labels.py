"""The tempo/meter/key labeller on synthetic songs with known answers, and the verdicts the
calibration (`stemloom data label-eval`) scores it with."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.label_eval import (
    auc,
    downbeat_f,
    key_verdict,
    tempo_verdict,
    true_downbeats,
)
from engine.data.labels import label
from tests.engine.data.synth_music import KEY, downbeats, song

RATE = 32000


@pytest.mark.parametrize(("bpm", "per_bar"), [(84.0, 4), (132.0, 4), (96.0, 3)])
def test_known_song_is_labelled_within_tolerance(bpm: float, per_bar: int) -> None:
    labels = label(song(bpm, 15.0, RATE, per_bar), RATE)
    assert labels.bpm == pytest.approx(bpm, rel=0.02)
    assert labels.meter == f"{per_bar}/4"
    assert labels.key_name == KEY
    assert downbeat_f(labels.downbeats, downbeats(bpm, 15.0, per_bar)) >= 0.8
    beat_gaps = np.diff(labels.beats)
    assert np.median(beat_gaps) == pytest.approx(60.0 / bpm, rel=0.03)
    for confidence in (labels.bpm_confidence, labels.meter_confidence, labels.key_confidence):
        assert 0.5 <= confidence <= 1.0


def test_noise_gets_a_low_tempo_confidence() -> None:
    noise = np.random.default_rng(1).standard_normal((2, 15 * RATE)).astype(np.float32) * 0.1
    clear = label(song(110.0, 15.0, RATE), RATE)
    assert label(noise, RATE).bpm_confidence < 0.5 * clear.bpm_confidence


def test_labels_serialise_with_confidences() -> None:
    meta = label(song(100.0, 15.0, 44100), 44100).to_meta()
    assert meta["key_name"] == f"{meta['key_tonic']} {meta['mode']}"
    assert set(meta["label_confidence"]) == {"bpm", "meter", "key"}
    assert meta["downbeats"] and set(meta["downbeats"]) <= set(meta["beats"])


def test_tempo_verdicts() -> None:
    assert tempo_verdict(103.0, 100.0) == "right"
    assert tempo_verdict(105.0, 100.0) == "wrong"
    assert tempo_verdict(50.5, 100.0) == "octave"
    assert tempo_verdict(201.0, 100.0) == "octave"
    assert tempo_verdict(66.7, 100.0) == "wrong"


def test_key_verdicts_fold_church_modes() -> None:
    assert key_verdict("D minor", "D dorian") == "right"
    assert key_verdict("C major", "A minor") == "relative"
    assert key_verdict("E minor", "A minor") == "fifth"
    assert key_verdict("D minor", "A minor") == "fifth"
    assert key_verdict("A major", "A minor") == "parallel"
    assert key_verdict("F# major", "A minor") == "wrong"


def test_downbeat_f_and_true_downbeats() -> None:
    truth = true_downbeats({"bpm": 120, "meter": "3/4", "seconds": 6.0})
    assert truth == pytest.approx([0.0, 1.5, 3.0, 4.5])
    assert downbeat_f([0.03, 1.52, 3.0, 4.45], truth) == 1.0
    assert downbeat_f([0.75, 2.25], truth) == 0.0
    assert downbeat_f([0.0, 1.5], truth) == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    six_eight = true_downbeats({"bpm": 120, "meter": "6/8", "seconds": 4.0})
    assert six_eight == pytest.approx([0.0, 1.5, 3.0])


def test_auc_orders_confidences() -> None:
    assert auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert auc([0.5], [True]) is None
