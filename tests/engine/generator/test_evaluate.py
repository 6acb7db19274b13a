"""``stemloom eval generate``'s measures, run on a tiny trained generator and real renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.generator.evaluate import (
    PRIOR_OFFSET,
    SAMPLE_RATE,
    estimate_audio_key,
    estimate_tempo,
    evaluate,
    key_verdict,
    onset_envelope,
    reference_ceiling,
    seam_ratio,
    tempo_verdict,
)
from engine.generator.finish import family_of
from engine.generator.pipeline import load_default
from engine.generator.prompts import PROMPTS


@pytest.mark.parametrize(("estimate", "target", "verdict"), [
    (121.5, 120, "right"), (239.0, 120, "double"), (60.5, 120, "half"), (126.0, 120, "wrong"),
])
def test_tempo_verdicts(estimate: float, target: float, verdict: str) -> None:
    assert tempo_verdict(estimate, target) == verdict


def test_key_verdicts() -> None:
    assert key_verdict("A minor", "A minor") == "right"
    assert key_verdict("C major", "A minor") == "relative"
    assert key_verdict("Eb major", "C minor") == "relative"
    assert key_verdict("E minor", "A minor") == "wrong"


def _eighth_note_hits(bpm: float, seconds: float = 16.0) -> np.ndarray:
    """Noise hits on every eighth note, the beats louder: a groove blind trackers read at
    double time when it is slow."""
    rng = np.random.default_rng(0)
    mono = np.zeros(int(seconds * SAMPLE_RATE))
    hit = int(0.05 * SAMPLE_RATE)
    decay = np.exp(-np.arange(hit) / 400)
    for k in range(int(seconds * bpm / 30) - 1):
        start = int(k * 30 / bpm * SAMPLE_RATE)
        mono[start : start + hit] += rng.normal(0, 0.5 if k % 2 == 0 else 0.2, hit) * decay
    return mono


def test_the_tracker_reads_the_tempo_asked_for_only_when_the_audio_beats_at_it() -> None:
    onsets = onset_envelope(_eighth_note_hits(84))
    assert tempo_verdict(estimate_tempo(onsets), 84) == "double"
    assert tempo_verdict(estimate_tempo(onsets, 84), 84) == "right"
    for wrong in (84 * PRIOR_OFFSET, 84 / PRIOR_OFFSET):
        assert tempo_verdict(estimate_tempo(onsets, wrong), wrong) == "wrong"
        assert tempo_verdict(estimate_tempo(onsets, wrong), 84) == "right"


def _chords(*chords: tuple[int, ...], seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.concatenate([sum(0.1 * np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t)
                               for m in notes) for notes in chords])


def test_the_key_of_audio_is_heard_through_drums() -> None:
    a_minor = np.tile(_chords((57, 60, 64), (62, 65, 69), (64, 68, 71), (57, 60, 64)), 4)
    assert estimate_audio_key(a_minor) == "A minor"
    assert estimate_audio_key(a_minor + _eighth_note_hits(120, len(a_minor) / SAMPLE_RATE)
                              ) == "A minor"
    c_major = np.tile(_chords((60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67)), 4)
    assert estimate_audio_key(c_major) == "C major"


def _four_bar_loop() -> np.ndarray:
    """Four 1-s bars of a tone with a noise hit on every beat: one period of a perfect loop."""
    rng = np.random.default_rng(0)
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    mono = 0.2 * np.sin(2 * np.pi * 220 * t)
    hit = int(0.1 * SAMPLE_RATE)
    for beat in range(16):
        start = beat * SAMPLE_RATE // 4
        mono[start : start + hit] += rng.normal(0, 0.3, hit) * np.exp(-np.arange(hit) / 2000)
    return mono


def test_a_perfect_loop_has_no_seam_and_a_broken_one_has() -> None:
    mono = _four_bar_loop()
    assert seam_ratio(np.stack([mono, mono]), 4) < 1.1
    broken = mono.copy()
    broken[-SAMPLE_RATE // 2 :] = np.random.default_rng(1).normal(0, 0.6, SAMPLE_RATE // 2)
    assert seam_ratio(np.stack([broken, broken]), 4) > 3
    silent_start = mono.copy()
    silent_start[: SAMPLE_RATE // 2] = 0
    assert seam_ratio(np.stack([silent_start, silent_start]), 4) > 1.5


def test_every_prompt_is_scored_with_its_plan(tiny_generator: Path) -> None:
    report = evaluate(load_default(tiny_generator), PROMPTS[:2])
    assert report["summary"]["prompts"] == 2
    for row, prompt in zip(report["prompts"], PROMPTS[:2], strict=True):
        assert row["prompt"] == prompt.prompt and set(row["stems_ok"]) == set(prompt.stems)
        assert row["tempo_estimate"] > 0 and row["tempo"] in ("right", "double", "half", "wrong")
        assert row["blind_tempo"] in ("right", "double", "half", "wrong")
        assert row["plan_key_estimate"].endswith(("major", "minor"))
        assert row["plan_key_result"] in ("right", "relative", "wrong")
        assert row["seconds"] > 10
    assert 0 <= report["summary"]["plan_key_accuracy"] <= 1
    # Every stem family asked for (and the mix) is measured for its sound.
    families = {stem.split(".")[0] for p in PROMPTS[:2] for stem in p.stems} | {"mix"}
    generated = report["sound"]["generated"]
    assert set(generated) == {family_of(f) for f in families}
    for measures in generated.values():
        assert 0 <= measures["harmonic_share"] <= 1 and -1 <= measures["lr_correlation"] <= 1


def test_the_estimators_are_calibrated_on_real_renders(small_corpus: Path,
                                                       tiny_generator: Path) -> None:
    ceiling = reference_ceiling(small_corpus, count=2,
                                tokenizer=load_default(tiny_generator).tokenizer)
    assert ceiling["clips"] == 2
    assert {"tempo_accuracy", "blind_tempo_accuracy", "tempo_accepted_from_a_wrong_prior",
            "key_accuracy", "plan_key_accuracy"} <= set(ceiling)
    # Two real renders at their own tempo: the led tracker reads it, and not a wrong one.
    assert ceiling["tempo_accuracy"] == 1.0
    assert ceiling["tempo_accepted_from_a_wrong_prior"] == 0.0


def test_following_a_tune_is_measured_between_chance_and_the_corpus_ceilings(
        tiny_generator: Path, small_corpus: Path) -> None:
    from engine.generator.melody_eval import evaluate_conditioning

    result = evaluate_conditioning(load_default(tiny_generator), small_corpus, limit=1)
    assert result["examples"] == 1
    scores = {k: v for k, v in result.items() if k != "examples"}
    assert set(scores) == {"corpus_lead", "corpus_mix", "hum_lead", "hum_mix", "midi_lead",
                           "midi_mix", "no_melody_lead", "no_melody_mix"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert scores["corpus_lead"] > 0.8  # the rendered lead plays exactly the tune
    assert scores["corpus_mix"] <= scores["corpus_lead"]  # chords and bass sound under it
