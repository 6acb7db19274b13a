"""Genres: what a genre's name implies when the prompt says nothing more (genres.toml)."""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bridge import limits

GENRES_FILE = Path(__file__).with_name("genres.toml")


@dataclass(frozen=True)
class Genre:
    """A genre and its defaults."""

    name: str
    words: tuple[str, ...]
    bpm: float
    bpm_range: tuple[float, float]
    stems: tuple[str, ...]


@functools.cache
def genres() -> tuple[Genre, ...]:
    """Every genre of genres.toml, checked (a bad entry is a bug: it raises ValueError)."""
    table = tomllib.loads(GENRES_FILE.read_text(encoding="utf-8"))
    found = []
    for name, entry in table.items():
        low, high = entry["bpm_range"]
        stems = tuple(entry["stems"])
        if not low <= entry["bpm"] <= high or not set(stems) <= set(limits.STEM_NAMES):
            raise ValueError(f"{GENRES_FILE}: genre {name!r} has a bad bpm or stem")
        found.append(Genre(name, tuple(w.lower() for w in entry["words"]), float(entry["bpm"]),
                           (float(low), float(high)), stems))
    return tuple(found)


@functools.cache
def _pattern() -> tuple[re.Pattern[str], dict[str, Genre]]:
    by_word = {word: genre for genre in genres() for word in genre.words}
    alternatives = "|".join(map(re.escape, sorted(by_word, key=len, reverse=True)))
    # "trap-ish" names trap; "afro-house" is its own word.
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w]|-(?!ish\b))"), by_word


def find_genres(text: str) -> list[tuple[Genre, re.Match[str]]]:
    """Each genre named in lower-case ``text``, with where, in order of appearance."""
    pattern, by_word = _pattern()
    return [(by_word[match.group(0)], match) for match in pattern.finditer(text)]
