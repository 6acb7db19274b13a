"""``stemloom eval generate``'s measures, run on a tiny trained generator and real renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.generator.evaluate import evaluate, key_verdict, reference_ceiling, tempo_verdict
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


def test_every_prompt_is_scored_with_its_plan(tiny_generator: Path) -> None:
    report = evaluate(load_default(tiny_generator), PROMPTS[:2])
    assert report["summary"]["prompts"] == 2
    for row, prompt in zip(report["prompts"], PROMPTS[:2], strict=True):
        assert row["prompt"] == prompt.prompt and set(row["stems_ok"]) == set(prompt.stems)
        assert row["tempo_estimate"] > 0 and row["tempo"] in ("right", "double", "half", "wrong")
        assert row["plan_key_estimate"].endswith(("major", "minor"))
        assert row["plan_key_result"] in ("right", "relative", "wrong")
        assert row["seconds"] > 10
    assert 0 <= report["summary"]["plan_key_accuracy"] <= 1


def test_the_estimators_are_calibrated_on_real_renders(small_corpus: Path,
                                                       tiny_generator: Path) -> None:
    ceiling = reference_ceiling(small_corpus, count=2,
                                tokenizer=load_default(tiny_generator).tokenizer)
    assert ceiling["clips"] == 2
    assert {"tempo_accuracy", "key_accuracy", "plan_key_accuracy"} <= set(ceiling)
