"""Turn finished stage runs into a generator folder: fp16 weights of each stage and the
semantic tokenizer. ``python -m engine.generator.ship [--out DIR]`` (default: the shipped
folder); each stage's run is found through its config (configs/<stage>.toml)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from engine.generator.io import DEFAULT_DIR, TOKENIZER, export_stage
from engine.generator.model import STAGES, StageConfig, StageModel


def export_run(run: Path, out: Path) -> int:
    """Export the stage trained in ``run`` (its last.pt) into ``out``; returns its step."""
    checkpoint = torch.load(Path(run) / "last.pt", map_location="cpu", weights_only=False)
    model = StageModel(StageConfig(**checkpoint["config"]["model"]))
    model.load_state_dict(checkpoint["model"])
    minutes = checkpoint.get("extra", {}).get("minutes", 0.0)
    export_stage(model, out, checkpoint["step"], extra={"train_minutes": round(minutes, 1)})
    return int(checkpoint["step"])


def ship(runs: dict[str, Path], tokenizer: Path, out: Path = DEFAULT_DIR) -> dict[str, int]:
    """Export the run of each stage in ``runs`` and copy the tokenizer; the step of each."""
    out.mkdir(parents=True, exist_ok=True)
    steps = {stage: export_run(run, out) for stage, run in runs.items()}
    shutil.copyfile(tokenizer, out / TOKENIZER)
    return steps


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    from engine.generator.train import StageTrainConfig
    from engine.training.config import load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=Path, default=Path("configs"))
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="stages to export (default: all; the fine stage is optional)")
    args = parser.parse_args(argv)
    configs = {s: load_config(StageTrainConfig, args.configs / f"{s}.toml")
               for s in args.stages.split(",")}
    runs = {s: Path(c.train.out_dir) for s, c in configs.items()}
    tokenizer = Path(next(iter(configs.values())).data.cache) / "tokenizer.npz"
    print(ship(runs, tokenizer, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
