"""Resumable checkpoints: model, optimizer, step, config and every RNG state, written
atomically (a crash mid-write leaves the previous checkpoint intact)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bridge.atomic import atomic_write


def rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's global generators."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int,
         config: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Write a checkpoint of the state after `step` optimizer steps."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "step": step, "config": config, "rng": rng_state(), "extra": extra or {}}
    atomic_write(path, lambda handle: torch.save(state, handle))


def load(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
         ) -> dict[str, Any]:
    """Load a checkpoint into `model` (and `optimizer`), restore the RNGs; returns it."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    set_rng_state(state["rng"])
    return state
