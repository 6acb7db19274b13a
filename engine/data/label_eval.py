"""Calibrate the labeller (engine.data.labels) on a corpus whose examples carry true labels.

Rendered examples know their BPM, meter and key, and their bars start at time 0, so their
true downbeats are known. Per example we record what the labeller said and whether it was
right; the summary gives accuracies (tempo within 4 %, octave errors apart; downbeat
F-measure; meter; key exact, relative, fifth) and how each confidence separates right from
wrong (the area under the ROC curve, and accuracy above confidence thresholds).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bridge.keys import parse_key
from bridge.timing import quarters_per_bar
from engine.data.labels import label

TEMPO_TOLERANCE = 0.04
DOWNBEAT_WINDOW = 0.07  # seconds, as in the MIREX beat evaluations
THRESHOLDS = (0.2, 0.4, 0.6)


def tempo_verdict(estimate: float, truth: float) -> str:
    """'right' within 4 %, 'octave' within 4 % of 1/2, 2, 1/3 or 3 times, else 'wrong'."""
    ratio = estimate / truth
    if abs(ratio - 1.0) <= TEMPO_TOLERANCE:
        return "right"
    if any(abs(ratio / f - 1.0) <= TEMPO_TOLERANCE for f in (0.5, 2.0, 1 / 3, 3.0)):
        return "octave"
    return "wrong"


def key_verdict(estimate: str, truth: str) -> str:
    """'right', 'relative', 'fifth', 'parallel' or 'wrong' (church modes fold onto the
    major or minor that shares their third, as bridge.keys reads them)."""
    est, true = parse_key(estimate), parse_key(truth)
    if est == true:
        return "right"
    if est == true.relative:
        return "relative"
    if est.mode == true.mode and (est.tonic - true.tonic) % 12 in (5, 7):
        return "fifth"
    if est.tonic == true.tonic:
        return "parallel"
    return "wrong"


def downbeat_f(estimate: Iterable[float], truth: Iterable[float]) -> float:
    """F-measure of estimated against true downbeats within ±70 ms."""
    est, true = np.asarray(list(estimate)), np.asarray(list(truth))
    if len(est) == 0 or len(true) == 0:
        return 0.0
    hits = sum(bool(np.any(np.abs(true - t) <= DOWNBEAT_WINDOW)) for t in est)
    precision, recall = hits / len(est), min(hits, len(true)) / len(true)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def true_downbeats(meta: dict) -> list[float]:
    """Bar starts of a rendered example (bars start at 0; its BPM counts quarter notes)."""
    bar = 60.0 / float(meta["bpm"]) * float(quarters_per_bar(str(meta["meter"])))
    return list(np.arange(0.0, float(meta["seconds"]) - 0.05, bar))


def evaluate_example(audio: np.ndarray, rate: int, meta: dict) -> dict:
    """The labeller's output for one example beside the truth, with verdicts."""
    start = time.perf_counter()
    labels = label(audio, rate)
    seconds = time.perf_counter() - start
    return {
        "key": meta.get("key"), "seconds": float(meta["seconds"]), "wall": seconds,
        "bpm_true": float(meta["bpm"]), "bpm": labels.bpm,
        "bpm_verdict": tempo_verdict(labels.bpm, float(meta["bpm"])),
        "bpm_confidence": labels.bpm_confidence,
        "meter_true": meta["meter"], "meter": labels.meter,
        "meter_confidence": labels.meter_confidence,
        "downbeat_f": downbeat_f(labels.downbeats, true_downbeats(meta)),
        "key_true": meta["key_name"], "key_name": labels.key_name,
        "key_verdict": key_verdict(labels.key_name, meta["key_name"]),
        "key_confidence": labels.key_confidence,
    }


def auc(scores: list[float], right: list[bool]) -> float | None:
    """Area under the ROC curve of confidence for right against wrong (None: one class)."""
    pos = [s for s, r in zip(scores, right, strict=True) if r]
    neg = [s for s, r in zip(scores, right, strict=True) if not r]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def separation(scores: list[float], right: list[bool],
               thresholds: tuple[float, ...] = THRESHOLDS) -> dict:
    """AUC of a confidence for right against wrong, and the accuracy kept at each of
    ``thresholds``."""
    out: dict = {"auc": auc(scores, right)}
    for threshold in thresholds:
        kept = [ok for s, ok in zip(scores, right, strict=True) if s >= threshold]
        out[f">={threshold}"] = {"kept": len(kept),
                                 "accuracy": round(float(np.mean(kept)), 3) if kept else None}
    return out


def summarise(rows: list[dict]) -> dict:
    """Accuracies and confidence separation over evaluated examples."""
    n = len(rows)
    tempo = [r["bpm_verdict"] for r in rows]
    keys = [r["key_verdict"] for r in rows]
    meter_rows = [r for r in rows if r["meter_true"] in ("3/4", "4/4")]
    meter_right = [r["meter"] == r["meter_true"] for r in meter_rows]
    downbeat_ok = [r["downbeat_f"] >= 0.5 for r in meter_rows]
    audio_seconds = sum(r["seconds"] for r in rows)

    def separated(part: list[dict], confidence: str, right: list[bool]) -> dict:
        return separation([r[confidence] for r in part], right)

    return {
        "n": n,
        "tempo": {v: tempo.count(v) / n for v in ("right", "octave", "wrong")},
        "tempo_confidence": separated(rows, "bpm_confidence", [v == "right" for v in tempo]),
        "meter_n": len(meter_rows),
        "meter_accuracy": float(np.mean(meter_right)) if meter_rows else None,
        "meter_confidence": separated(meter_rows, "meter_confidence", meter_right),
        "downbeat_f_mean": float(np.mean([r["downbeat_f"] for r in meter_rows]))
        if meter_rows else None,
        "downbeat_f_sd": float(np.std([r["downbeat_f"] for r in meter_rows]))
        if meter_rows else None,
        "downbeat_confidence": separated(meter_rows, "meter_confidence", downbeat_ok),
        "key": {v: keys.count(v) / n
                for v in ("right", "relative", "fifth", "parallel", "wrong")},
        "key_confidence": separated(rows, "key_confidence", [v == "right" for v in keys]),
        "speed_x_real_time": audio_seconds / max(sum(r["wall"] for r in rows), 1e-9),
    }


def evaluate_corpus(root: Path, split: str | None = None,
                    limit: int | None = None) -> tuple[list[dict], dict]:
    """Label every example of a corpus with true labels; (rows, summary)."""
    from engine.codec.config import SAMPLE_RATE
    from engine.corpus.shards import iter_examples

    rows = []
    for example in iter_examples(Path(root), split, shuffle_buffer=1):
        meta = example["json"]
        if not {"bpm", "meter", "key_name"} <= meta.keys():
            continue
        rows.append(evaluate_example(example["mix.flac"], SAMPLE_RATE, meta))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ValueError(f"{root}: no example with bpm, meter and key_name to check against")
    return rows, summarise(rows)
