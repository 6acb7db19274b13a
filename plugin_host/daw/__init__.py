"""DAW adapters behind one interface (:class:`~plugin_host.daw.base.DawAdapter`).

Adapters are imported only when asked for, so importing this package stays cheap and one
adapter's dependencies never burden a host that uses another.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from plugin_host.daw.base import (
    ClipRef,
    DawAdapter,
    PlacementError,
    SessionInfo,
    SessionMismatch,
    TrackKind,
    TrackRef,
    grid_clash,
    refuse_other_grid,
)

# Adapters that talk to a running DAW rather than write a session file or folder.
LIVE_DAWS = ("live",)

# name -> (module, class). Bitwig has a controller extension, not an adapter (docs/daws).
_ADAPTERS = {
    "folder": ("plugin_host.daw.folder", "FolderAdapter"),
    "dawproject": ("plugin_host.daw.dawproject", "DawprojectAdapter"),
    "reaper": ("plugin_host.daw.reaper", "ReaperAdapter"),
    "live": ("plugin_host.daw.ableton_live", "LiveAdapter"),
    "ardour": ("plugin_host.daw.ardour", "ArdourAdapter"),
}

__all__ = ["LIVE_DAWS", "ClipRef", "DawAdapter", "PlacementError", "SessionInfo",
           "SessionMismatch", "TrackKind", "TrackRef", "adapter_names", "get_adapter",
           "grid_clash", "refuse_other_grid"]


def adapter_names() -> list[str]:
    """The names :func:`get_adapter` accepts, sorted."""
    return sorted(_ADAPTERS)


def get_adapter(name: str, **options: Any) -> DawAdapter:
    """Create the adapter called ``name`` with its keyword ``options``.

    ``get_adapter("folder", path=..., bpm=...)`` or ``get_adapter("dawproject", path=...)``.
    Raises ValueError for an unknown name.
    """
    try:
        module_name, class_name = _ADAPTERS[name]
    except KeyError:
        known = ", ".join(adapter_names())
        raise ValueError(f"unknown DAW adapter {name!r}; known: {known}") from None
    adapter: DawAdapter = getattr(import_module(module_name), class_name)(**options)
    return adapter
