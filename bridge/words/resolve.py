"""A request's musical fields from every source, by precedence, each with where it came from:
explicit settings > the DAW session > the words of the prompt > the genre > the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bridge.keys import canonical_key
from bridge.timing import quarters_per_bar
from bridge.words.reader import Found, Reading, WordsError, read_prompt

DEFAULT_BPM = 120.0
DEFAULT_BARS = 8
DEFAULT_TIME_SIGNATURE = "4/4"
DEFAULT_STEMS = ("drums", "bass", "keys", "lead")
FIELDS = ("bpm", "bars", "time_signature", "key", "stems")
# Where a field came from, strongest first ("preset": a genre preset the producer chose).
SOURCES = ("explicit", "session", "words", "preset", "genre", "default")


@dataclass(frozen=True)
class Resolved:
    """The request's musical fields, where each came from, and what the producer should be
    told (the words disagreed with a stronger source)."""

    bpm: float
    bars: int
    time_signature: str
    key: str  # "" lets the model choose
    stems: tuple[str, ...]
    sources: Mapping[str, str]  # field -> one of SOURCES
    words: Mapping[str, str]  # field -> the words it was read from (words and genre only)
    notes: tuple[str, ...]
    genre: str = ""
    feel: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``--dry-run --json`` and job metadata)."""
        data = asdict(self)
        data["stems"] = list(self.stems)
        data["feel"] = list(self.feel)
        return data


def resolve_request(prompt: str, explicit: Mapping[str, Any] | None = None,
                    session: Mapping[str, Any] | None = None,
                    preset: Mapping[str, Any] | None = None,
                    reading: Reading | None = None) -> Resolved:
    """Resolve ``bpm``, ``bars``, ``time_signature``, ``key`` and ``stems`` for ``prompt``.

    ``explicit`` holds the fields the producer set (flags, form fields, OSC fields sent);
    ``session`` the DAW session's ``bpm`` and ``time_signature``; ``preset`` the fields of a
    genre preset the producer chose. Raises WordsError when the words contradict themselves
    or leave no stem to make, and ValueError for an explicit key that names no key.
    """
    explicit, session, preset = ({k: v for k, v in (given or {}).items() if v is not None}
                                 for given in (explicit, session, preset))
    read = reading if reading is not None else read_prompt(prompt)
    genre = read.genre.value if read.genre else None
    chosen: dict[str, tuple[Any, str, str]] = {}  # field -> (value, source, words)
    notes: list[str] = []

    def pick(name: str, *candidates: tuple[Any, str, str]) -> None:
        value, source, words = next(c for c in candidates if c[0] is not None)
        chosen[name] = (value, source, words)
        said = next((c for c in candidates if c[1] == "words" and c[0] is not None), None)
        if said is not None and source in ("explicit", "session") and said[0] != value:
            notes.append(_disagreement(name, said, value, source))

    def words(found: Any) -> tuple[Any, str, str]:
        return (found.value, "words", found.words) if found else (None, "words", "")

    pick("bpm", (_number(explicit.get("bpm")), "explicit", ""),
         (_number(session.get("bpm")), "session", ""), words(read.bpm),
         (preset.get("bpm"), "preset", ""),
         (genre.bpm if genre else None, "genre", read.genre.words if read.genre else ""),
         (DEFAULT_BPM, "default", ""))
    pick("time_signature", (explicit.get("time_signature"), "explicit", ""),
         (session.get("time_signature"), "session", ""), words(read.time_signature),
         (preset.get("time_signature"), "preset", ""), (DEFAULT_TIME_SIGNATURE, "default", ""))
    bpm, meter = chosen["bpm"][0], chosen["time_signature"][0]
    in_bars = _seconds_as_bars(read.seconds, bpm, meter) if read.seconds else None
    pick("bars", (explicit.get("bars"), "explicit", ""), words(read.bars), words(in_bars),
         (preset.get("bars"), "preset", ""), (DEFAULT_BARS, "default", ""))
    pick("key", (explicit.get("key"), "explicit", ""), words(read.key),
         (preset.get("key"), "preset", ""), ("", "default", ""))
    pick("stems", *_stem_candidates(read, explicit.get("stems"), preset.get("stems")))
    if chosen["stems"][1] == "explicit" and read.excluded:
        asked = set(read.excluded.value) & set(chosen["stems"][0])
        if asked:
            notes.append(f"the prompt leaves out {', '.join(sorted(asked))} "
                         f"({read.excluded.words!r}); the stems set explicitly are used")
    return Resolved(
        bpm=float(bpm), bars=int(chosen["bars"][0]), time_signature=meter,
        key=canonical_key(chosen["key"][0]), stems=tuple(chosen["stems"][0]),
        sources={name: chosen[name][1] for name in FIELDS},
        words={name: chosen[name][2] for name in FIELDS if chosen[name][2]},
        notes=tuple(notes), genre=genre.name if genre else "", feel=read.feel)


def _number(value: Any) -> float | None:
    return None if value is None or value == 0 else float(value)


def _seconds_as_bars(seconds: Found[float], bpm: float, meter: str) -> Found[int]:
    """A length in seconds as the nearest whole number of bars (at least 1) at the tempo."""
    bars = max(1, round(seconds.value * bpm / 60 / float(quarters_per_bar(meter))))
    return Found(bars, seconds.words)


def _stem_candidates(read: Reading, explicit: Any, preset: Any) -> list[tuple[Any, str, str]]:
    """Explicit stems, else those named, else the preset's, the genre's or the defaults
    without the stems the words leave out."""
    if preset:
        stems, source, words = tuple(preset), "preset", ""
    elif read.genre:
        stems, source, words = read.genre.value.stems, "genre", read.genre.words
    else:
        stems, source, words = DEFAULT_STEMS, "default", ""
    if read.excluded:
        stems = tuple(s for s in stems if s not in read.excluded.value)
        words = "; ".join(filter(None, (words, f"without {read.excluded.words}")))
        if not stems and not explicit and not read.stems:
            raise WordsError(f"the prompt leaves out every stem it would make "
                             f"({read.excluded.words!r}); name one to make")
    named = read.stems.value if read.stems else None
    if named and preset and not read.only:
        # Words added to a preset add to its stems ("--preset lofi-hiphop 'with a flute'").
        named = tuple(dict.fromkeys((*stems, *named)))
    return [(tuple(explicit) if explicit else None, "explicit", ""),
            (named, "words", read.stems.words if read.stems else ""), (stems, source, words)]


_UNITS = {"bpm": " BPM", "bars": " bars"}
_SOURCE_NAMES = {"explicit": "the setting", "session": "the DAW session's"}


def _disagreement(name: str, said: tuple[Any, str, str], used: Any, source: str) -> str:
    unit = _UNITS.get(name, "")
    return (f"the prompt says {_show(said[0])}{unit} ({said[2]!r}); "
            f"{_SOURCE_NAMES[source]} {_show(used)}{unit} is used"
            + (" so the clips fit its grid" if source == "session" else ""))


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)
