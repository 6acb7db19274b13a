"""The training foundation on the codec stage: config loading, exact resume, DDP on gloo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.codec.train import CodecTrainConfig
from engine.training.config import load_config
from engine.training.log import read_log
from engine.training.loop import learning_rate, run
from stemloom.commands.train import parse_override
from tests.engine.codec.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[3]


def _losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_log(out / "log.jsonl") if "loss" in r}


def test_config_from_toml_with_overrides(tmp_path: Path, tiny_corpus: Path) -> None:
    path = tiny_config(tmp_path, tiny_corpus)
    cfg = load_config(CodecTrainConfig, path, {"train.steps": 9, "model.n_q": 3})
    assert cfg.train.steps == 9 and cfg.model.n_q == 3 and cfg.model.bins == 32
    assert cfg.train.betas == (0.8, 0.99)
    path.write_text(path.read_text() + "\n[loss]\nmell = 2.0\n")
    with pytest.raises(ValueError, match="mell"):
        load_config(CodecTrainConfig, path)
    assert parse_override("train.lr=3e-4") == ("train.lr", 3e-4)
    assert parse_override('data.split="test"') == ("data.split", "test")


def test_shipped_config_loads() -> None:
    cfg = load_config(CodecTrainConfig, ROOT / "configs" / "codec.toml")
    assert cfg.model.n_q >= 8 and cfg.model.hop == 640 and cfg.model.sample_rate == 32000
    assert learning_rate(cfg.train, 0) < learning_rate(cfg.train, cfg.train.warmup)
    assert learning_rate(cfg.train, cfg.train.steps) == pytest.approx(cfg.train.min_lr)


def test_resume_reproduces_the_uninterrupted_run(tmp_path: Path, tiny_corpus: Path) -> None:
    whole = tiny_config(tmp_path, tiny_corpus, "whole", steps=6)
    run("codec", whole)
    legs = tiny_config(tmp_path, tiny_corpus, "legs", steps=6)
    run("codec", legs, stop_at=3)
    state = torch.load(tmp_path / "legs" / "last.pt", weights_only=False)
    assert state["step"] == 3 and {"model", "optimizer", "rng"} <= set(state)
    run("codec", legs)  # resumes from legs/last.pt
    a, b = _losses(tmp_path / "whole"), _losses(tmp_path / "legs")
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5, 6]
    for step in (4, 5, 6):
        assert b[step] == pytest.approx(a[step], rel=1e-5), step


def test_ddp_two_processes_on_gloo(tmp_path: Path, tiny_corpus: Path) -> None:
    config = tiny_config(tmp_path, tiny_corpus, "ddp", steps=3)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "stemloom", "train", "codec",
         "--config", str(config)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    log = read_log(tmp_path / "ddp" / "log.jsonl")
    assert log[0]["world_size"] == 2
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3]
    assert torch.load(tmp_path / "ddp" / "last.pt", weights_only=False)["step"] == 3


def test_continue_from_exported_weights(tmp_path: Path, tiny_corpus: Path) -> None:
    """What a later session does with the shipped codec: export, then --init a new run."""
    from engine.codec.cli import export_checkpoint
    from engine.codec.io import load_state

    first = tiny_config(tmp_path, tiny_corpus, "first", steps=3)
    run("codec", first)
    assert export_checkpoint(tmp_path / "first" / "last.pt", tmp_path / "export") == 0
    raw = torch.load(tmp_path / "export" / "codec.pt", weights_only=True)
    assert raw["step"] == 3 and raw["state"]["decoder.head.weight"].dtype == torch.float16
    assert not any(k.endswith(".ema_sum") for k in raw["state"])  # rebuilt on load
    state, step = load_state(tmp_path / "export")
    assert step == 3 and state["decoder.head.weight"].dtype == torch.float32
    second = tiny_config(tmp_path, tiny_corpus, "second", steps=5)
    run("codec", second, init_from=tmp_path / "export")
    steps = [r["step"] for r in read_log(tmp_path / "second" / "log.jsonl") if "loss" in r]
    assert steps == [4, 5]
