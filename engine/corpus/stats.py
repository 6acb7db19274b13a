"""The balance of a corpus: counts of genres, tempi, keys, meters, instruments, stems, lengths."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from engine.corpus.shards import read_index

TEMPO_BIN = 10  # bpm
LENGTH_BINS = (5.0, 10.0, 20.0, 30.0, 60.0)  # seconds


def _length_bin(seconds: float) -> str:
    low = 0.0
    for high in LENGTH_BINS:
        if seconds < high:
            return f"{low:g}-{high:g}s"
        low = high
    return f">={LENGTH_BINS[-1]:g}s"


def corpus_stats(root: Path) -> dict:
    """Counts over every example in the corpus at `root` (read from the shard indexes)."""
    counters: dict[str, Counter] = {name: Counter() for name in (
        "split", "source", "recipe", "focus", "genre", "tempo", "key", "mode", "meter", "feel",
        "drums", "bars", "instrument", "bank", "kit", "stem", "stems_per_example", "length",
        "hum", "master_lufs")}
    examples, seconds = 0, 0.0
    shortest, longest = float("inf"), 0.0
    for meta in read_index(root):
        examples += 1
        seconds += meta["seconds"]
        shortest, longest = min(shortest, meta["seconds"]), max(longest, meta["seconds"])
        counters["split"][meta.get("split", "train")] += 1
        counters["source"][meta.get("source", "synth")] += 1
        counters["length"][_length_bin(meta["seconds"])] += 1
        counters["stems_per_example"][str(len(meta.get("stems", [])))] += 1
        if meta.get("source", "synth") == "synth":  # ingested audio has no recipe or stems
            counters["recipe"][meta.get("recipe", "v1")] += 1
            families = {stem["family"] for stem in meta.get("stems", [])}
            counters["drums"]["with drums" if "drums" in families else "drumless"] += 1
        if meta.get("focus"):
            counters["focus"][meta["focus"]] += 1
        if meta.get("feel"):
            counters["feel"][meta["feel"]] += 1
        if (meta.get("master") or {}).get("lufs") is not None:
            low = math.floor(meta["master"]["lufs"])
            counters["master_lufs"][f"{low} to {low + 1}"] += 1
        for stem in meta.get("stems", []):
            counters["stem"][stem["family"]] += 1
            if "instrument_name" in stem:
                counters["instrument"][stem["instrument_name"]] += 1
            if "bank" in stem or "kit" in stem:
                counters["kit" if "kit" in stem else "bank"][stem.get("kit") or stem["bank"]] += 1
        if meta.get("genre"):
            counters["genre"][str(meta["genre"])] += 1
        if meta.get("bpm"):
            low = int(float(meta["bpm"])) // TEMPO_BIN * TEMPO_BIN
            counters["tempo"][f"{low}-{low + TEMPO_BIN - 1}"] += 1
        if meta.get("key_name"):
            counters["key"][meta["key_name"]] += 1
            counters["mode"][meta["mode"]] += 1
        if meta.get("meter"):
            counters["meter"][meta["meter"]] += 1
        if meta.get("bars"):
            counters["bars"][str(meta["bars"])] += 1
        if "hum" in meta:
            counters["hum"]["with hum" if meta["hum"] else "without hum"] += 1
    return {
        "examples": examples,
        "hours": round(seconds / 3600.0, 4),
        "seconds": {"total": round(seconds, 2), "min": round(shortest, 3) if examples else 0,
                    "max": round(longest, 3), "mean": round(seconds / examples, 3)
                    if examples else 0},
        **{name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
           for name, c in counters.items()},
    }


def format_stats(stats: dict, width: int = 30) -> str:
    """A readable report with a bar per count."""
    lines = [f"examples: {stats['examples']}   hours: {stats['hours']:.3f}   "
             f"seconds min/mean/max: {stats['seconds']['min']}/{stats['seconds']['mean']}/"
             f"{stats['seconds']['max']}"]
    for name, counts in stats.items():
        if not isinstance(counts, dict) or name == "seconds" or not counts:
            continue
        lines.append(f"\n{name} ({len(counts)} distinct)")
        top = max(counts.values())
        ordered = sorted(counts.items(), key=_numeric_first) if name in (
            "tempo", "bars", "stems_per_example", "length") else counts.items()
        for label, count in ordered:
            bar = "#" * max(1, round(width * count / top))
            lines.append(f"  {label:<28} {count:>7}  {bar}")
    return "\n".join(lines)


def _numeric_first(item: tuple[str, int]) -> tuple[float, str]:
    head = item[0].lstrip(">=").split("-")[0].rstrip("s")
    try:
        return float(head), item[0]
    except ValueError:
        return float("inf"), item[0]


def stats_json(root: Path) -> str:
    """The stats as indented JSON."""
    return json.dumps(corpus_stats(root), indent=1)
