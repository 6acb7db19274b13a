"""``stemloom eval sound``'s genre-matched reference: the frozen prompts' corpus genres, the
corpus's medians per genre, and generated stems' gaps to their own genre's median."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.corpus.genres import GENRES
from engine.corpus.shards import iter_examples
from engine.generator.prompts import PROMPTS
from engine.generator.sound_eval import (
    MIN_GENRE_STEMS,
    TOLERANCE,
    corpus_reference,
    genre_matched,
    matched_reference,
)


def test_every_evaluation_prompt_names_a_corpus_genre() -> None:
    assert all(item.genre in GENRES for item in PROMPTS)
    assert len({item.genre for item in PROMPTS}) == len(PROMPTS)  # one prompt per genre


def test_the_corpus_reference_keeps_each_genres_medians(small_corpus: Path) -> None:
    reference = corpus_reference(small_corpus, 10)
    metas = [json.loads(e["json"]) if isinstance(e["json"], (str, bytes)) else e["json"]
             for e in iter_examples(small_corpus, None, shuffle_buffer=1, decode=False)]
    # Mixes and stems counted under their own genre, only those with a harmonic share (a
    # clip too short to measure is not; the all-genre counts hold every stem).
    examples = {g: sum(m["genre"] == g for m in metas) for g in {m["genre"] for m in metas}}
    assert set(reference["genre_stems"]) == set(examples)
    for genre, counts in reference["genre_stems"].items():
        assert 0 < counts["mix"] <= examples[genre]
    for family, count in reference["stems"].items():
        assert 0 < sum(n.get(family, 0) for n in reference["genre_stems"].values()) <= count
    assert len(reference["genres"]) >= 2  # so the counts above were split between genres
    # A single example's genre medians are its own stems', the same as the all-genre ones.
    one = corpus_reference(small_corpus, 1)
    (genre, medians), = one["genres"].items()
    assert genre == metas[0]["genre"] and medians == one["families"]


def _corpus(bass_by_genre: dict[str, tuple[float, int]], overall: float) -> dict:
    """A corpus reference shaped as ``corpus_reference`` makes it, bass harmonic share only."""
    return {"families": {"bass": {"harmonic_share": overall}},
            "genres": {g: {"bass": {"harmonic_share": v}} for g, (v, _) in bass_by_genre.items()},
            "genre_stems": {g: {"bass": n} for g, (_, n) in bass_by_genre.items()}}


def test_a_stem_is_matched_to_its_genres_median_or_falls_back_when_too_few() -> None:
    corpus = _corpus({"funk": (0.25, MIN_GENRE_STEMS), "jazz": (0.95, MIN_GENRE_STEMS - 1)},
                     overall=0.9)
    assert matched_reference(corpus, "funk", "bass") == (0.25, False)
    assert matched_reference(corpus, "jazz", "bass") == (0.9, True)  # below the minimum
    assert matched_reference(corpus, "techno", "bass") == (0.9, True)  # not in the corpus
    assert matched_reference(corpus, "jazz", "bass", minimum=MIN_GENRE_STEMS - 1) == (
        0.95, False)


def test_the_gaps_are_generated_minus_the_matched_reference() -> None:
    corpus = _corpus({"funk": (0.2, 8), "house": (0.4, 8), "jazz": (0.95, 2)}, overall=0.9)
    values = {"bass": [("funk", 0.25), ("house", 0.1), ("jazz", 0.6), ("funk", float("nan"))],
              "lead": [("funk", 0.9)]}  # no lead in this corpus: not reported
    report = genre_matched(values, corpus)
    assert report["tolerance"] == TOLERANCE and report["min_corpus_stems"] == MIN_GENRE_STEMS
    assert list(report["families"]) == ["bass"]
    bass = report["families"]["bass"]
    gaps = np.array([0.25 - 0.2, 0.1 - 0.4, 0.6 - 0.9])  # jazz falls back to 0.9
    assert bass["corpus"] == 0.9 and bass["matched"] == 0.4  # median of 0.2, 0.4, 0.9
    assert bass["generated"] == 0.25 and bass["n"] == 3 and bass["fallback"] == 1
    assert bass["gap_median"] == pytest.approx(-0.3)
    assert bass["gap_mean"] == pytest.approx(gaps.mean(), abs=1e-4)
    assert bass["gap_se"] == pytest.approx(gaps.std(ddof=1) / np.sqrt(3), abs=1e-4)
    assert bass["within"] == 1  # only funk's +0.05
    alone = genre_matched({"bass": [("funk", 0.3)]}, corpus)["families"]["bass"]
    assert alone["gap_se"] is None and alone["gap_mean"] == pytest.approx(0.1)


def test_a_genre_with_no_measured_stems_falls_back() -> None:
    corpus = _corpus({"ambient": (float("nan"), MIN_GENRE_STEMS)}, overall=0.9)
    assert matched_reference(corpus, "ambient", "bass") == (0.9, True)
