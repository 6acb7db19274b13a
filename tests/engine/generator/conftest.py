"""A tiny generator trained for real (two steps per stage) on the small corpus: the whole
path — token cache, semantic tokenizer, the three training tasks, export — runs once."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = {"model.d_model": 32, "model.n_layers": 1, "model.n_heads": 2, "model.max_len": 128,
        "model.semantic_vocab": 16, "train.steps": 2, "train.batch_size": 2,
        "train.warmup": 1, "train.ckpt_every": 1, "data.crop_seconds": 2.0}


@pytest.fixture(scope="session")
def generator_cache(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path) -> Path:
    """The token cache of the small corpus's train split (tokenizer with 16 codes)."""
    from engine.generator import cache

    out = tmp_path_factory.mktemp("generator_cache")
    cache.build(small_corpus, out, ("train",), k=16, seed=0, window_seconds=6.0)
    return out


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory: pytest.TempPathFactory, generator_cache: Path) -> Path:
    """A generator folder with all three stages trained two steps each, and the tokenizer.
    (max_len 128 is shorter than a request: generation slides its window.)"""
    from engine.generator.ship import ship
    from engine.training.loop import run

    runs = tmp_path_factory.mktemp("tiny_generator_runs")
    for stage in ("semantic", "coarse", "fine"):
        run(stage, f"configs/{stage}.toml", {**TINY, "train.out_dir": str(runs / stage),
                                             "data.cache": str(generator_cache)})
    folder = tmp_path_factory.mktemp("tiny_generator")
    ship({s: runs / s for s in ("semantic", "coarse", "fine")},
         generator_cache / "tokenizer.npz", folder)
    return folder
