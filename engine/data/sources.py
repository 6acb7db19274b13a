"""The source table (sources.toml, shipped with the code): which Debian packages hold real
music, stems or instruments, how many hours, under which licence, and which files to keep."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.reserved import ReservedSourceError, is_reserved

SOURCES_TOML = Path(__file__).with_name("sources.toml")


@dataclass(frozen=True)
class Source:
    """One package of the table."""

    name: str
    kind: str
    licence: str
    keep: tuple[str, ...]
    hours: float | None = None
    pk3: bool = False
    notes: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def wants(self, filename: str) -> bool:
        """Whether a file of this name is kept (case-insensitive fnmatch on the name)."""
        lower = filename.lower()
        return any(fnmatch.fnmatchcase(lower, pattern.lower()) for pattern in self.keep)


class SourceTableError(ValueError):
    """The source table is malformed."""


def load_sources(path: Path | None = None) -> dict[str, Source]:
    """The table, by package name. A reserved package in it is an error: the table can
    never make one fetchable."""
    path = SOURCES_TOML if path is None else path
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SourceTableError(f"cannot read the source table {path}: {error}") from error
    kinds = table.get("kinds", {})
    sources: dict[str, Source] = {}
    for row in table.get("source", []):
        try:
            name = str(row["name"])
            kind = str(row["kind"])
        except KeyError as error:
            raise SourceTableError(f"{path}: a [[source]] lacks {error}") from error
        if is_reserved(name):
            raise SourceTableError(f"{path}: {ReservedSourceError(name)}")
        keep = row.get("keep", kinds.get(kind))
        if not keep:
            raise SourceTableError(f"{path}: {name} has no 'keep' patterns and kind {kind!r} "
                                   "has none in [kinds]")
        hours = row.get("hours")
        sources[name] = Source(
            name=name, kind=kind, licence=str(row.get("licence", "check copyright")),
            keep=tuple(str(p) for p in keep),
            hours=None if hours is None else float(hours), pk3=bool(row.get("pk3", False)),
            notes=str(row.get("notes", "")))
    return sources
