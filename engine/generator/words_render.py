"""``stemloom eval words --render``: what the shipped model makes from the words alone.

Prompts of the frozen prompt set (``evals/prompt_words.jsonl``) that state a tempo are
resolved exactly as ``stemloom generate PROMPT`` resolves them with no flags and no session,
generated, and measured against what their words asked for:

* tempo — does the mix pulse on the asked tempo's beat grid (``fit.beat_grid_fit``: a comb
  over tempi within +-10 % of the asked one, calibrated on corpus mixes);
* key — is the mix's harmonic chroma in the asked key's scale (``fit.scale_fit``), for the
  prompts that name a key;
* stems — every stem the words name is made, audible and distinct, and none they exclude.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bridge.messages import Generate
from bridge.words import resolve_request
from engine.generation import Generator
from engine.generator.evaluate import SAMPLE_RATE, render_request, stem_checks
from engine.generator.fit import beat_grid_fit, scale_fit

MAX_BARS = 8  # longer requests are cut to 8 bars to keep the run inside a CPU session


def sample(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` good prompts that state a tempo, in a fixed order (by a hash of the id)."""
    stated = [row for row in rows if row["error"] is None and row["bpm"] is not None]
    stated.sort(key=lambda row: hashlib.sha256(row["id"].encode()).hexdigest())
    return stated[:count]


def render_from_words(generator: Generator, rows: list[dict[str, Any]], seed: int = 1
                      ) -> dict[str, Any]:
    """Generate each prompt from its words alone and score tempo, key and stems."""
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, row in enumerate(rows):
            resolved = resolve_request(row["prompt"])
            request = Generate(request_id="words", prompt=row["prompt"], bpm=resolved.bpm,
                               bars=min(resolved.bars, MAX_BARS),
                               time_signature=resolved.time_signature, key=resolved.key,
                               stems=resolved.stems, sample_rate=SAMPLE_RATE)
            started = time.perf_counter()
            stems = render_request(generator, request, seed + index, Path(scratch))[0]
            mono = sum(stems.values()).mean(0)
            grid = beat_grid_fit(mono, SAMPLE_RATE, float(row["bpm"]))
            key = scale_fit(mono, SAMPLE_RATE, row["key"]) if row["key"] else None
            checks = stem_checks(stems)
            asked = set(row["stems"] or resolved.stems)
            results.append({
                "id": row["id"], "prompt": row["prompt"], "asked_bpm": row["bpm"],
                "request_bpm": resolved.bpm, "best_bpm": round(grid.best_bpm, 2),
                "on_grid": grid.on_grid, "asked_key": row["key"], "request_key": resolved.key,
                "scale_share": round(key.share, 3) if key else None,
                "best_scale_share": round(key.best_share, 3) if key else None,
                "in_key": key.in_key if key else None,
                "stems_made": sorted(stems),
                "asked_stems_present": asked <= {s for s, ok in checks.items() if ok},
                "excluded_absent": (not set(row["excluded"]) & set(stems)
                                    if row["excluded"] else None),
                "wall_s": round(time.perf_counter() - started, 1),
            })
    return {"summary": _summary(results), "prompts": results}


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    def rate(key: str) -> str:
        values = [r[key] for r in results if r[key] is not None]
        return f"{sum(values)}/{len(values)}"

    return {
        "prompts": len(results),
        "request_tempo_as_asked": f"{sum(r['request_bpm'] == r['asked_bpm'] for r in results)}"
                                  f"/{len(results)}",
        "on_asked_beat_grid": rate("on_grid"),
        "request_key_as_asked": f"{sum(bool(r['request_key']) for r in results if r['asked_key'])}"
                                f"/{sum(bool(r['asked_key']) for r in results)}",
        "in_asked_key_scale": rate("in_key"),
        "asked_stems_present": rate("asked_stems_present"),
        "excluded_stems_absent": rate("excluded_absent"),
        "scale_share_median": float(np.median([r["scale_share"] for r in results
                                               if r["scale_share"] is not None] or [0.0])),
        "wall_s_median": float(np.median([r["wall_s"] for r in results])),
    }
