"""The ``stemloom`` command: one CLI for the engine, the host and the tools around them."""

from bridge.version import STEMLOOM_VERSION as __version__

__all__ = ["__version__"]
