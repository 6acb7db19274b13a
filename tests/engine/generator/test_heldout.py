"""``stemloom eval heldout`` on a tiny trained generator and its real token cache."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.generator.heldout import heldout, main, render_agreement
from engine.generator.pipeline import load_default


def test_losses_and_condition_worth_of_every_stage(tiny_generator: Path,
                                                   generator_cache: Path) -> None:
    result = heldout(load_default(tiny_generator), generator_cache / "train", batches=2,
                     batch_size=2, crop_seconds=2.0)
    for name in ("semantic_loss", "coarse_loss", "coarse_loss_without_plan",
                 "coarse_loss_without_key", "fine_loss"):
        assert math.isfinite(result[name]) and result[name] > 0
    # Taking a condition away changes what the coarse stage predicts.
    assert result["coarse_loss_without_plan"] != result["coarse_loss"]
    assert result["semantic_uniform_loss"] == pytest.approx(math.log(16), abs=1e-4)


def test_real_plans_are_rendered_and_judged(tiny_generator: Path, generator_cache: Path
                                            ) -> None:
    result = render_agreement(load_default(tiny_generator), generator_cache / "train", count=2)
    assert result["render_windows"] == 2
    assert 0.0 <= result["render_key_agreement"] <= 1.0
    assert 0.0 <= result["render_tempo_accuracy"] <= 1.0
    assert 0.0 <= result["decode_tempo_accuracy"] <= 1.0


def test_a_folder_that_is_not_a_cache_split_is_refused(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([f"--cache={tmp_path}"])
    assert stopped.value.code == 2
    assert "not a token-cache split" in capsys.readouterr().err
