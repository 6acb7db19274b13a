"""Exported inference weights: a state dict (fp16 where asked), its config and training step,
in one file written atomically. Shipped models and ``--init`` runs both read this format."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from bridge.atomic import atomic_write_bytes


def export_weights(state: dict[str, torch.Tensor], config: dict[str, Any], path: Path,
                   step: int, *, half: bool = True, extra: dict | None = None) -> Path:
    """Write ``state`` (floats as fp16 when ``half``) with ``config`` and ``step`` to ``path``."""
    tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().clone()
               for k, v in state.items()}
    buffer = io.BytesIO()
    torch.save({"config": config, "state": tensors, "step": step, "extra": extra or {}}, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buffer.getvalue())


def load_weights(path: Path) -> dict[str, Any]:
    """Read an exported file: {'config', 'state' (fp32 floats), 'step', 'extra'}."""
    if not path.is_file():
        raise FileNotFoundError(f"no exported weights at {path}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    blob["state"] = {k: v.float() if v.is_floating_point() else v
                     for k, v in blob["state"].items()}
    return blob
