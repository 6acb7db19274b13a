"""Stemloom: the ``stemloom`` command, and the engine as a Python library.

    import stemloom
    model = stemloom.load("default")
    result = model.generate("dusty lo-fi drums", bpm=84, bars=8, stems=["drums", "bass"])

``import stemloom`` stays light (the CLI and the DAW host import it): ``load``, ``Model``,
``Result``, ``Chunk`` and ``Stream`` come from ``engine.api`` on first use, and only then is
torch imported. (The import is by name, so a frozen host bundle does not pull the engine in.)
"""

import importlib
from typing import Any

from bridge.version import STEMLOOM_VERSION as __version__

_FROM_ENGINE = ("Chunk", "Model", "Result", "Stream", "load")
__all__ = ["Chunk", "Model", "Result", "Stream", "__version__", "load"]


def __getattr__(name: str) -> Any:
    if name in _FROM_ENGINE:
        return getattr(importlib.import_module("engine.api"), name)
    raise AttributeError(f"module 'stemloom' has no attribute {name!r}")
