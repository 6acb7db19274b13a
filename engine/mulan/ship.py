"""Turn a finished MuLan run into the shipped default: fp16 weights, token codebooks, the
evaluation and a model card. ``python -m engine.mulan.ship --config configs/mulan.toml``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from bridge.atomic import atomic_write
from engine.mulan.api import CODEBOOKS, DEFAULT_DIR, WEIGHTS, MulanConditioner
from engine.mulan.evaluate import evaluate
from engine.mulan.model import Mulan
from engine.mulan.tokens import ResidualQuantizer
from engine.mulan.train import MulanTrainConfig, config_dict, load_or_build_cache
from engine.training.config import load_config
from engine.training.export import export_weights


def ship(config_path: Path, out: Path = DEFAULT_DIR) -> dict:
    """Export the run's last checkpoint into ``out`` and evaluate what was exported."""
    config = load_config(MulanTrainConfig, config_path)
    run = Path(config.train.out_dir)
    checkpoint = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    model = Mulan(config.model)
    model.load_state_dict(checkpoint["model"])
    export_weights(model.state_dict(), config_dict(config.model), out / WEIGHTS,
                   checkpoint["step"])
    conditioner = MulanConditioner.load(out)  # what ships: fp16 weights, widened on load
    train = load_or_build_cache(config.data, ("train",))
    embeddings = np.stack([conditioner.embed_mel(train.item_mel(i))
                           for i in range(len(train.items))])
    quantizer = ResidualQuantizer.fit(embeddings, config.tokens.levels, config.tokens.codes,
                                      seed=config.train.seed)
    atomic_write(out / CODEBOOKS,
                 lambda handle: np.savez_compressed(handle, codebooks=quantizer.codebooks))
    reconstruction = quantizer.decode(quantizer.encode(embeddings))
    metrics = {
        "step": int(checkpoint["step"]),
        **evaluate(config_path, out),
        "token_cosine": float(np.mean((reconstruction * embeddings).sum(1)
                                      / np.linalg.norm(reconstruction, axis=1))),
        "train_items": len(train.items),
        "wall_minutes": _wall_minutes(run / "log.jsonl"),
        "size_mb": round(sum(f.stat().st_size for f in out.iterdir()) / 1e6, 2),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def _wall_minutes(log: Path) -> float:
    """Training minutes summed over the run's legs (from its stop events)."""
    minutes = 0.0
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "stop":
            minutes += record.get("minutes", 0.0)
    return round(minutes, 1)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("configs/mulan.toml"))
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    started = time.time()
    metrics = ship(args.config, args.out)
    metrics["ship_seconds"] = round(time.time() - started, 1)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
