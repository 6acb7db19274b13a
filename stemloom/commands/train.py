"""``stemloom train STAGE --config FILE``: the one training entry point (also under torchrun)."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

STAGES = ("codec", "mulan", "semantic", "coarse", "fine")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    parser = commands.add_parser(
        "train", help="train a model stage (resumes from OUT_DIR/last.pt)",
        description="Train a stage from a TOML config. Runs as one process, or under "
        "'torchrun --nproc_per_node N -m stemloom train ...' with DDP (gloo on CPU, NCCL on "
        "GPU). A run resumes from its out_dir's last.pt automatically.")
    parser.add_argument("stage", choices=STAGES, help="which model to train")
    parser.add_argument("--config", type=Path, required=True, help="TOML config file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. train.steps=100 (repeatable)")
    parser.add_argument("--stop-at", type=int, help="end this leg after this step "
                        "(the schedule still spans train.steps)")
    parser.add_argument("--init", type=Path, help="start a new run from exported weights "
                        "(e.g. engine/weights/default/codec), continuing their step count")
    parser.set_defaults(func=_train)


def parse_override(text: str) -> tuple[str, object]:
    """'train.steps=5' -> ('train.steps', 5), values read as TOML (bare words as strings)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _train(args: argparse.Namespace) -> int:
    import json

    from engine.training.loop import run

    if not args.config.is_file():
        print(f"stemloom train: no config file {args.config}")
        return 2
    overrides = dict(parse_override(x) for x in args.set)
    record = run(args.stage, args.config, overrides, stop_at=args.stop_at, init_from=args.init)
    print(json.dumps(record))
    return 0
