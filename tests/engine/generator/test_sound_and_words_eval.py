"""``stemloom eval sound`` and ``stemloom eval words --render`` on real renders: the corpus
reference, and a tiny trained generator's stems as decoded and as finished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.generator.finish import load_reference
from engine.generator.pipeline import load_default
from engine.generator.sound_eval import corpus_reference, generated_sound, write_reference
from engine.generator.words_render import render_from_words, sample


def test_the_corpus_reference_is_measured_per_family_and_stored(small_corpus: Path,
                                                                tmp_path: Path) -> None:
    reference = corpus_reference(small_corpus, 3)
    families = reference["families"]
    assert "mix" in families and len(families) >= 3
    for family, medians in families.items():
        assert 0 <= medians["harmonic_share"] <= 1 and 0 <= medians["high_band"] <= 1
        assert -1 <= medians["lr_correlation"] <= 1 and medians["loudness_lufs"] < 0
        assert reference["stems"][family] >= 1
    # The composer renders its bass in the centre.
    assert families.get("bass", {"lr_correlation": 1.0})["lr_correlation"] > 0.95
    write_reference(reference, tmp_path, small_corpus)
    assert load_reference(tmp_path) == json.loads(
        (tmp_path / "stem_sound.json").read_text())["families"]


def test_finishing_moves_generated_stems_toward_the_reference(small_corpus: Path,
                                                              tiny_generator: Path) -> None:
    corpus = corpus_reference(small_corpus, 3)
    reference = corpus["families"]
    report = generated_sound(load_default(tiny_generator), reference, seeds=1, limit=1,
                             corpus=corpus)
    assert report["renders"] == 1 and report["fits"]["decoded"]["of"] == 1
    for family, finished in report["finished"].items():
        if family == "mix" or family not in reference:
            continue
        decoded = report["decoded"][family]
        assert finished["lr_correlation"] >= decoded["lr_correlation"] - 1e-6
        assert finished["harmonic_share"] == decoded["harmonic_share"]  # tones untouched
        # Each stem is levelled to its family, then its take mastered: one gain on top.
        target = reference[family]["loudness_lufs"]
        assert abs(report["levelled_lufs"][family] - target) <= abs(
            decoded["loudness_lufs"] - target) + 0.5
    target = report["mix_target_lufs"]
    assert target == reference["mix"]["loudness_lufs"] and report["take_gain_db"]["n"] == 1
    assert abs(report["finished"]["mix"]["loudness_lufs"] - target) <= abs(
        report["decoded"]["mix"]["loudness_lufs"] - target) + 0.5
    assert report["max_true_peak_dbtp"] <= -1.0 + 1e-3
    # Three corpus examples are too few of any genre: each stem falls back to all genres.
    matched = report["genre_matched"]["families"]
    assert matched and set(matched) <= set(report["finished"])
    for family, row in matched.items():
        assert row["fallback"] == row["n"] == 1  # one render, one stem per family
        assert row["matched"] == row["corpus"] == reference[family]["harmonic_share"]
        assert row["gap_median"] == pytest.approx(
            report["finished"][family]["harmonic_share"] - row["corpus"], abs=1e-3)


def test_prompts_are_rendered_from_their_words_alone(tiny_generator: Path) -> None:
    rows = [{"id": "t-1", "register": "terse", "prompt": "dub at 72 bpm, in Dm, just bass",
             "bpm": 72, "key": "D minor", "time_signature": None, "bars": None,
             "stems": ["bass"], "excluded": [], "genre_bpm": None, "error": None},
            {"id": "t-2", "register": "terse", "prompt": "no bpm here", "bpm": None,
             "key": None, "time_signature": None, "bars": None, "stems": None, "excluded": [],
             "genre_bpm": None, "error": None}]
    chosen = sample(rows, 5)
    assert [row["id"] for row in chosen] == ["t-1"]  # only prompts that state a tempo
    report = render_from_words(load_default(tiny_generator), chosen)
    row = report["prompts"][0]
    assert (row["request_bpm"], row["request_key"], row["stems_made"]) == (72, "D minor",
                                                                          ["bass"])
    assert report["summary"]["request_tempo_as_asked"] == "1/1"
    assert isinstance(row["on_grid"], bool) and 0 <= row["scale_share"] <= 1
