"""``stemloom eval words``: how well the request reader reads producers' prompts.

The set (``evals/prompt_words.jsonl``) was written by hand, unlike the corpus captions, by
someone who had not seen the reader, and frozen before the reader was tuned. It is split in
two halves by a hash of each prompt's id: the reader's rules were worked out on the "dev"
half only, so the "test" half measures wordings the rules were not made for.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.keys import parse_key
from bridge.words import WordsError, read_prompt, resolve_request
from bridge.words.reader import Reading

DEFAULT_SET = Path(__file__).resolve().parent.parent / "evals" / "prompt_words.jsonl"
FIELDS = ("bpm", "key", "time_signature", "bars", "stems", "excluded")
SPLITS = ("dev", "test", "all")


@dataclass(frozen=True)
class Verdict:
    """One prompt's result: each field right or wrong, and what was read."""

    row: dict[str, Any]
    right: dict[str, bool]
    read: dict[str, Any]


def load_set(path: Path = DEFAULT_SET, split: str = "all") -> list[dict[str, Any]]:
    """The prompts of ``path`` in ``split`` ("dev", "test" or "all")."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [row for row in rows if split == "all" or split_of(row["id"]) == split]


def split_of(prompt_id: str) -> str:
    """"dev" or "test", fixed by the id's hash (so adding prompts moves none)."""
    return "dev" if hashlib.sha256(prompt_id.encode()).digest()[0] % 2 == 0 else "test"


def judge(row: dict[str, Any]) -> Verdict:
    """Read one prompt and compare every field with its target."""
    try:
        reading = read_prompt(row["prompt"])
        resolved = resolve_request(row["prompt"], reading=reading)
    except WordsError as error:
        refused = row["error"] is not None
        return Verdict(row, {"refused": refused, **dict.fromkeys(FIELDS, refused)},
                       {"error": str(error)})
    if row["error"] is not None:
        return Verdict(row, {"refused": False, **dict.fromkeys(FIELDS, False)},
                       _as_read(reading, resolved.bars))
    read = _as_read(reading, resolved.bars)
    right = {
        "bpm": _same(read["bpm"], row["bpm"]),
        "key": _same_key(read["key"], row["key"]),
        "time_signature": read["time_signature"] == row["time_signature"],
        "bars": read["bars"] == row["bars"],
        "stems": read["stems"] == (sorted(row["stems"]) if row["stems"] is not None else None),
        "excluded": read["excluded"] == sorted(row["excluded"]),
        "refused": True,
    }
    if row["genre_bpm"] is not None:
        low, high = row["genre_bpm"]
        right["genre_bpm"] = low <= resolved.bpm <= high
    return Verdict(row, right, read)


def _as_read(reading: Reading, resolved_bars: int) -> dict[str, Any]:
    return {
        "bpm": reading.bpm.value if reading.bpm else None,
        "key": reading.key.value if reading.key else None,
        "time_signature": reading.time_signature.value if reading.time_signature else None,
        # A length in seconds counts as the bars it becomes at the request's tempo.
        "bars": resolved_bars if reading.bars or reading.seconds else None,
        "stems": sorted(reading.stems.value) if reading.stems else None,
        "excluded": sorted(reading.excluded.value) if reading.excluded else [],
        "genre": reading.genre.value.name if reading.genre else None,
    }


def _same(value: float | None, target: float | None) -> bool:
    if value is None or target is None:
        return value is None and target is None
    return abs(value - target) < 0.5


def _same_key(value: str | None, target: str | None) -> bool:
    if value is None or target is None:
        return value is None and target is None
    return parse_key(value) == parse_key(target)


def summarize(verdicts: Iterable[Verdict]) -> dict[str, Any]:
    """Per-field accuracy over the good prompts, refusals of the bad ones, stem precision
    and recall, and accuracy per register."""
    verdicts = list(verdicts)
    good = [v for v in verdicts if v.row["error"] is None]
    bad = [v for v in verdicts if v.row["error"] is not None]
    fields = {name: _share(v.right[name] for v in good) for name in FIELDS}
    genre = [v.right["genre_bpm"] for v in good if "genre_bpm" in v.right]
    hits = asked = made = 0
    for verdict in good:
        target, got = set(verdict.row["stems"] or ()), set(verdict.read.get("stems") or ())
        if verdict.row["stems"] is not None:
            hits, asked, made = hits + len(target & got), asked + len(target), made + len(got)
    registers = Counter(v.row["register"] for v in verdicts)
    return {
        "prompts": len(verdicts), "good": len(good), "bad": len(bad),
        "field_accuracy": fields,
        "all_fields_right": _share(all(v.right[f] for f in FIELDS) for v in good),
        "genre_tempo_in_range": _share(genre), "genre_tempo_prompts": len(genre),
        "stems_precision": round(hits / made, 4) if made else None,
        "stems_recall": round(hits / asked, 4) if asked else None,
        "bad_input_refused": _share(v.right["refused"] for v in bad),
        "good_input_refused": _share("error" in v.read for v in good),
        "by_register": {name: _share(all(v.right[f] for f in FIELDS) for v in verdicts
                                     if v.row["register"] == name)
                        for name in sorted(registers)},
    }


def _share(values: Iterable[bool]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def failures(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    """The prompts with a field wrong: the prompt, the fields at fault, targets and reading."""
    rows = []
    for verdict in verdicts:
        wrong = [name for name, ok in verdict.right.items() if not ok]
        if wrong:
            rows.append({"id": verdict.row["id"], "prompt": verdict.row["prompt"],
                         "wrong": wrong, "read": verdict.read,
                         "want": {f: verdict.row[f] for f in (*FIELDS, "error", "genre_bpm")}})
    return rows
