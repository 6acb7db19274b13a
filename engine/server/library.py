"""The clip library: where the engine writes, and the only place it writes.

Each job gets ``<root>/<job id>/`` holding one audio file per stem and ``job.json``. Every
file appears whole or not at all (written to a hidden temp file beside it, then renamed),
and every path is checked to lie inside the library whatever a request says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bridge import limits
from bridge.atomic import atomic_write

METADATA_NAME = "job.json"


class OutsideLibrary(ValueError):
    """A path would leave the clip library."""


class ClipLibrary:
    """A folder of finished clips."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def job_dir(self, job_id: str) -> Path:
        """The folder for a job's files (not created)."""
        return self.confine(self.root / job_id)

    def confine(self, path: Path) -> Path:
        """``path`` resolved; OutsideLibrary unless it lies strictly inside the library."""
        resolved = path.resolve()
        if resolved == self.root or not resolved.is_relative_to(self.root):
            raise OutsideLibrary(f"{path} is outside the clip library {self.root}")
        return resolved

    def write_audio(self, path: Path, audio: np.ndarray, sample_rate: int, fmt: str) -> Path:
        """Write (2, samples) float audio as a WAV file atomically."""
        subtype = limits.FORMAT_SUBTYPES[fmt]
        data = np.clip(audio.T, -1.0, 1.0) if subtype != "FLOAT" else audio.T

        def write(handle: Any) -> None:
            sf.write(handle, data, sample_rate, subtype=subtype, format="WAV")

        return self._write_atomic(path, write)

    def write_json(self, path: Path, payload: dict) -> Path:
        """Write ``payload`` as indented JSON atomically."""

        def write(handle: Any) -> None:
            handle.write(json.dumps(payload, indent=2, sort_keys=True).encode())

        return self._write_atomic(path, write)

    def read_json(self, path: Path) -> dict:
        """Read a JSON file from inside the library."""
        return json.loads(self.confine(path).read_text())

    def _write_atomic(self, path: Path, write: Callable[[Any], None]) -> Path:
        target = self.confine(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(target, write)
