"""Configs are nested dataclasses filled from a TOML file: one table per dataclass field."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class TrainConfig:
    """What the generic loop needs: schedule, optimizer, checkpoints, logging."""

    out_dir: str = "runs/codec"
    seed: int = 0
    steps: int = 1000
    batch_size: int = 4  # per process
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.8, 0.99)
    grad_clip: float = 1.0
    threads: int = 2  # torch threads per process
    log_every: int = 10
    ckpt_every: int = 100
    max_minutes: float = 0.0  # end this leg (with a checkpoint) after this long; 0: never
    # Total wall-time budget over all legs; when > 0 the LR schedule follows whichever of
    # steps and time runs out first, so a run on a busy machine still anneals on schedule.
    budget_minutes: float = 0.0


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass `cls` from a dict, recursing into nested dataclass fields; unknown
    keys are an error (a typo in a config must not pass silently)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value)
        elif typing.get_origin(hint) is tuple:
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def load_config(cls: type[T], path: Path | str, overrides: dict[str, Any] | None = None) -> T:
    """Read TOML `path` into dataclass `cls`; `overrides` ({"train.steps": 5}) win."""
    data = tomllib.loads(Path(path).read_text())
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return from_dict(cls, data)


def to_dict(config: Any) -> dict[str, Any]:
    """The plain-dict form of a config (for checkpoints and logs)."""
    return dataclasses.asdict(config)
