"""How a job's stems are named by take: "bass" when the job makes one take, "bass.2" for
take 2 of several (``engine.request`` names them so). The engine finishes, and the host
levels, groups and shows stems take by take."""

from __future__ import annotations


def take_of(stem: str) -> int:
    """The take a stem name belongs to: 2 for "bass.2", 1 for "bass"."""
    base, _, number = stem.rpartition(".")
    return int(number) if base and number.isdigit() else 1


def base_of(stem: str) -> str:
    """A stem name without its take: "bass" for "bass.2" and for "bass"."""
    base, _, number = stem.rpartition(".")
    return base if base and number.isdigit() else stem


def by_take(stems: list[str]) -> dict[int, list[str]]:
    """Stem names grouped by take, takes in order."""
    groups: dict[int, list[str]] = {}
    for stem in stems:
        groups.setdefault(take_of(stem), []).append(stem)
    return dict(sorted(groups.items()))
