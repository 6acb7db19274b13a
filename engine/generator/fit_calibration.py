"""Calibrate ``engine.generator.fit`` on corpus mixes with known tempo and key.

    .venv/bin/stemloom corpus build /tmp/fitcal/corpus -n 80 --seed 7 -j 1 -q
    .venv/bin/python -m engine.generator.fit_calibration --corpus /tmp/fitcal/corpus \
        --count 80 --seed 0 --rows /tmp/fitcal/rows-a.json
    .venv/bin/python -m engine.generator.fit_calibration --from-rows /tmp/fitcal/rows-a.json

(about 6 s of 2-core CPU per case, so ~16 min for 80 mixes; ``--from-rows`` re-summarises
stored rows under the current thresholds in seconds). The numbers the thresholds were chosen
from are in ``fit``'s docstring and beside its constants.

For every mix (cut to its first ``--max-bars`` bars) and, where it has drums, the same mix
with its drum stem taken out (a drumless case with the same notes):

* tempo — the comb (``fit.comb_fit``) and the beat tracker led by the asked tempo
  (``evaluate.estimate_tempo`` + ``tempo_verdict``), asked for the true tempo and for the
  true tempo x 1.04 and x 0.96 (a good measure says yes, then no, no); the comb's scores
  beside those of pulse-free envelopes (each case's own onset envelope shuffled in blocks
  shorter than a beat, and white noise), and a sweep of tolerance x floor;
* key — the harmonic chroma's share in the scale of the true key (modes folded onto major
  or minor, as requests name keys), of the key a semitone up, a fifth up (6 of 7 pitch
  classes shared: hard by construction) and a random key of another pitch set; the in_key
  verdict's accuracy on each and a sweep of the threshold.

Prints one JSON object; ``--rows`` also writes the per-case numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.keys import NOTE_NAMES
from engine.generator import fit
from engine.generator.evaluate import (
    SAMPLE_RATE,
    estimate_tempo,
    harmonic_chroma,
    onset_envelope,
    tempo_verdict,
)

WRONG_FACTORS = (1.04, 0.96)  # the wrong-tempo control: asked this far off the true tempo
SHUFFLE_BLOCK_S = (0.06, 0.35)  # pulse-free surrogate: envelope blocks of these lengths
KEY_NAMES = tuple(f"{tonic} {mode}" for mode in ("major", "minor") for tonic in NOTE_NAMES)
TOLERANCES = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03)
FLOORS = (1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8)
SHARE_THRESHOLDS = (0.55, 0.6, 0.625, 0.65, 0.675, 0.7)
RELATIVE_THRESHOLDS = (0.0, 0.9, 0.925, 0.95, 0.975, 1.0)


@dataclass(frozen=True)
class Case:
    """One mono clip at SAMPLE_RATE with what it was made at."""

    name: str
    mono: np.ndarray
    bpm: float
    key: str  # folded onto major / minor
    modal: bool  # composed in a mode other than major / natural minor
    drums: bool
    drums_removed: bool
    bars: int


def cases(corpus: Path, count: int, max_bars: int) -> Iterator[Case]:
    """The first ``count`` corpus mixes (all splits), each followed by its drumless twin."""
    import soxr

    from bridge.timing import clip_seconds
    from engine.corpus.shards import iter_examples
    from engine.generator.conditions import key_index, key_name

    for example in itertools.islice(iter_examples(corpus, None, shuffle_buffer=1), count):
        meta = example["json"] if isinstance(example["json"], dict) else json.loads(
            example["json"])
        bars = min(meta["bars"], max_bars)
        frames = int(clip_seconds(meta["bpm"], bars, meta["meter"]) * meta["sample_rate"])

        def mono(audio: np.ndarray, rate: int = meta["sample_rate"],
                 frames: int = frames) -> np.ndarray:
            return soxr.resample(audio[:, :frames].mean(0), rate, SAMPLE_RATE)

        common = {"bpm": float(meta["bpm"]), "key": key_name(key_index(meta["key_name"])),
                  "modal": meta["mode"] not in ("major", "minor"), "bars": bars}
        drums = "drums.flac" in example
        yield Case(name=example["key"], mono=mono(example["mix.flac"]), drums=drums,
                   drums_removed=False, **common)
        if drums:
            yield Case(name=example["key"] + "-nodrums", drums=False, drums_removed=True,
                       mono=mono(example["mix.flac"] - example["drums.flac"]), **common)


def shuffled_blocks(onsets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The envelope cut into blocks shorter than a beat and put back in random order: the same
    onsets, no steady pulse."""
    low, high = (int(s * fit.FRAME_RATE) for s in SHUFFLE_BLOCK_S)
    cuts = np.cumsum(rng.integers(low, high, size=len(onsets) // low + 1))
    blocks = np.split(onsets, cuts[cuts < len(onsets)])
    return np.concatenate([blocks[i] for i in rng.permutation(len(blocks))])


def tempo_row(case: Case, rng: np.random.Generator) -> dict:
    """Comb and tracker at the true and the wrong tempi, and the pulse-free controls."""
    onsets = onset_envelope(case.mono)
    row: dict = {}
    for label, factor in (("true", 1.0), *((f"x{f}", f) for f in WRONG_FACTORS)):
        asked = case.bpm * factor
        comb = fit.comb_fit(onsets, asked)
        row[label] = {"best_bpm": comb.best_bpm, "best_score": comb.best_score,
                      "asked_score": comb.asked_score, "contrast": comb.contrast,
                      "phase": comb.phase,
                      "tracker_right": tempo_verdict(estimate_tempo(onsets, asked),
                                                     asked) == "right"}
    shuffled = fit.comb_fit(shuffled_blocks(onsets, rng), case.bpm)
    noise = fit.comb_fit(onset_envelope(rng.normal(0, 0.1, len(case.mono))), case.bpm)
    for label, comb in (("shuffled", shuffled), ("noise", noise)):
        row[label] = {"best_bpm": comb.best_bpm, "best_score": comb.best_score,
                      "contrast": comb.contrast}
    return row


def key_row(case: Case, rng: np.random.Generator) -> dict:
    """Scale shares at the true key and at three wrong ones, the best diatonic scale's share
    and the chroma itself."""
    chroma = harmonic_chroma(case.mono)
    mode = case.key.split()[1]
    index = KEY_NAMES.index(case.key)
    true_set = set(fit.scale_pitch_classes(case.key))
    others = [k for k in KEY_NAMES if set(fit.scale_pitch_classes(k)) != true_set]
    keys = {"true": case.key,
            "semitone_up": KEY_NAMES[(index + 1) % 12 + 12 * (mode == "minor")],
            "fifth_up": KEY_NAMES[(index + 7) % 12 + 12 * (mode == "minor")],
            "random_other": others[int(rng.integers(len(others)))]}
    return {**{label: round(fit.scale_share(chroma, key), 4) for label, key in keys.items()},
            "best": round(fit.best_scale_share(chroma), 4),
            "chroma": [round(float(c), 3) for c in chroma]}


def measure(corpus: Path, count: int, max_bars: int, seed: int) -> list[dict]:
    """Per-case rows: what the case is, its tempo row and its key row."""
    rng = np.random.default_rng(seed)
    rows = []
    for case in cases(corpus, count, max_bars):
        rows.append({"name": case.name, "bpm": case.bpm, "key": case.key, "modal": case.modal,
                     "drums": case.drums, "drums_removed": case.drums_removed,
                     "bars": case.bars, "tempo": tempo_row(case, rng),
                     "scale": key_row(case, rng)})
    return rows


def on_grid(entry: dict, asked: float, tolerance: float, floor: float) -> bool:
    """The comb's verdict on one measured entry under given thresholds."""
    return (entry["contrast"] >= floor
            and abs(entry["best_bpm"] / asked - 1.0) <= tolerance)


def spread(values: list[float]) -> dict:
    """n, mean, sd and quantiles of a list of numbers."""
    data = np.asarray(values, dtype=float)
    if not data.size:
        return {"n": 0}
    quantiles = np.quantile(data, (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0))
    return {"n": int(data.size), "mean": round(float(data.mean()), 4),
            "sd": round(float(data.std()), 4),
            **{name: round(float(q), 4) for name, q in
               zip(("min", "p05", "p25", "median", "p75", "p95", "max"), quantiles,
                   strict=True)}}


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def tempo_rates(rows: list[dict], tolerance: float, floor: float) -> dict:
    """Comb on_grid and tracker 'right' shares at the true and wrong tempi."""
    out: dict = {"n": len(rows)}
    for label, factor in (("true", 1.0), *((f"x{f}", f) for f in WRONG_FACTORS)):
        entries = [(r["tempo"][label], r["bpm"] * factor) for r in rows]
        out[f"comb_on_grid_{label}"] = _share([on_grid(e, a, tolerance, floor)
                                               for e, a in entries])
        out[f"tracker_right_{label}"] = _share([e["tracker_right"] for e, _ in entries])
    return out


def tempo_summary(rows: list[dict]) -> dict:
    """The tempo measure's numbers under the chosen thresholds, split, and swept."""
    tolerance, floor = fit.ON_GRID_TOLERANCE, fit.COMB_FLOOR
    groups = {"all": rows, "with_drums": [r for r in rows if r["drums"]],
              "without_drums": [r for r in rows if not r["drums"]],
              "drums_removed": [r for r in rows if r["drums_removed"]],
              "composed_drumless": [r for r in rows if not r["drums"] and not r["drums_removed"]],
              "under_4_bars": [r for r in rows if r["bars"] < 4],
              "4_bars_or_more": [r for r in rows if r["bars"] >= 4]}
    pulse_free = {kind: _share([on_grid(r["tempo"][kind], r["bpm"], tolerance, floor)
                                for r in rows]) for kind in ("shuffled", "noise")}
    errors = [abs(r["tempo"]["true"]["best_bpm"] / r["bpm"] - 1.0) for r in rows]
    return {
        "rates": {name: tempo_rates(group, tolerance, floor) for name, group in groups.items()},
        "pulse_free_judged_on_grid": pulse_free,
        "best_score": {
            "true_tempo": spread([r["tempo"]["true"]["best_score"] for r in rows]),
            "true_tempo_without_drums": spread([r["tempo"]["true"]["best_score"] for r in rows
                                                if not r["drums"]]),
            "shuffled_envelope": spread([r["tempo"]["shuffled"]["best_score"] for r in rows]),
            "white_noise": spread([r["tempo"]["noise"]["best_score"] for r in rows])},
        "contrast": {
            "true_tempo": spread([r["tempo"]["true"]["contrast"] for r in rows]),
            "true_tempo_without_drums": spread([r["tempo"]["true"]["contrast"] for r in rows
                                                if not r["drums"]]),
            "shuffled_envelope": spread([r["tempo"]["shuffled"]["contrast"] for r in rows]),
            "white_noise": spread([r["tempo"]["noise"]["contrast"] for r in rows])},
        "asked_score_at_x1.04": spread([r["tempo"]["x1.04"]["asked_score"] for r in rows]),
        "best_tempo_error_at_true_tempo": spread(errors),
        "sweep": [{"tolerance": t, "floor": f, **_sweep_point(rows, t, f)}
                  for t in TOLERANCES for f in FLOORS],
    }


def _sweep_point(rows: list[dict], tolerance: float, floor: float) -> dict:
    rates = tempo_rates(rows, tolerance, floor)
    drumless = tempo_rates([r for r in rows if not r["drums"]], tolerance, floor)
    wrong = [on_grid(r["tempo"][f"x{f}"], r["bpm"] * f, tolerance, floor)
             for r in rows for f in WRONG_FACTORS]
    pulse_free = [on_grid(r["tempo"][kind], r["bpm"], tolerance, floor)
                  for r in rows for kind in ("shuffled", "noise")]
    return {"true": rates["comb_on_grid_true"], "true_without_drums":
            drumless["comb_on_grid_true"], "wrong": _share(wrong),
            "pulse_free": _share(pulse_free)}


def key_summary(rows: list[dict]) -> dict:
    """Scale-share distributions and the in_key verdict's accuracy, split, and swept."""
    labels = ("true", "semitone_up", "fifth_up", "random_other")
    groups = {"all": rows, "major_or_minor": [r for r in rows if not r["modal"]],
              "modal": [r for r in rows if r["modal"]],
              "with_drums": [r for r in rows if r["drums"]],
              "without_drums": [r for r in rows if not r["drums"]]}

    def accuracy(group: list[dict], share: float, relative: float) -> dict:
        # Right on the true key means in_key; right on a wrong key means out_of_key.
        return {label: _share([in_key(r["scale"], label, share, relative) == (label == "true")
                               for r in group]) for label in labels}

    chosen = (fit.IN_KEY_SHARE, fit.IN_KEY_RELATIVE)
    return {
        "share": {name: {label: spread([r["scale"][label] for r in group]) for label in labels}
                  for name, group in groups.items()},
        "relative": {label: spread([r["scale"][label] / r["scale"]["best"] for r in rows])
                     for label in labels},
        "accuracy": {name: accuracy(group, *chosen) for name, group in groups.items()},
        "wrong_key_rejected_by_fifths_distance": {
            name: by_fifths_distance(group, *chosen) for name, group in
            (("all", rows), ("major_or_minor", groups["major_or_minor"]))},
        "sweep": [{"share": t, "relative": v, **accuracy(rows, t, v)}
                  for t in SHARE_THRESHOLDS for v in RELATIVE_THRESHOLDS],
    }


def fifths_distance(key: str, other: str) -> int:
    """Steps round the circle of fifths between the scales of two keys (0: the same pitch
    classes, as a key and its relative; 1: 6 of 7 shared; 6: a tritone apart)."""
    def major_tonic(name: str) -> int:
        return fit.scale_pitch_classes(name)[0 if name.endswith("major") else 2]

    steps = 7 * (major_tonic(other) - major_tonic(key)) % 12  # 7 x 7 = 1 (mod 12)
    return min(steps, 12 - steps)


def by_fifths_distance(rows: list[dict], share: float, relative: float) -> dict:
    """The share of wrong keys judged out_of_key, over every case and all keys at each
    circle-of-fifths distance from the true key (from each case's stored chroma)."""
    rejected: dict[int, list[bool]] = {d: [] for d in range(1, 7)}
    for row in rows:
        chroma, best = np.asarray(row["scale"]["chroma"]), row["scale"]["best"]
        for key in KEY_NAMES:
            distance = fifths_distance(row["key"], key)
            if distance:
                scale = {"asked": fit.scale_share(chroma, key), "best": best}
                rejected[distance].append(not in_key(scale, "asked", share, relative))
    return {str(d): _share(flags) for d, flags in rejected.items()}


def in_key(scale: dict, label: str, share: float, relative: float) -> bool:
    """The in_key verdict on one measured key under given thresholds."""
    return scale[label] >= share and scale[label] >= relative * scale["best"]


def main(argv: list[str] | None = None) -> int:
    """Measure, summarise and print the calibration as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/fitcal/corpus"))
    parser.add_argument("--count", type=int, default=80, help="corpus mixes to measure")
    parser.add_argument("--max-bars", type=int, default=8, help="cut each mix to this many bars")
    parser.add_argument("--seed", type=int, default=0, help="random keys and shuffles")
    parser.add_argument("--rows", type=Path, help="also write the per-case rows (JSON) here")
    parser.add_argument("--from-rows", type=Path,
                        help="summarise rows written by --rows instead of measuring")
    args = parser.parse_args(argv)
    if args.from_rows:
        rows = json.loads(args.from_rows.read_text())
    else:
        rows = measure(args.corpus, args.count, args.max_bars, args.seed)
    if args.rows and not args.from_rows:
        args.rows.write_text(json.dumps(rows))
    print(json.dumps({
        "corpus": str(args.corpus), "mixes": sum(not r["drums_removed"] for r in rows),
        "cases": len(rows), "max_bars": args.max_bars, "seed": args.seed,
        "thresholds": {"ON_GRID_TOLERANCE": fit.ON_GRID_TOLERANCE,
                       "COMB_FLOOR": fit.COMB_FLOOR, "IN_KEY_SHARE": fit.IN_KEY_SHARE,
                       "IN_KEY_RELATIVE": fit.IN_KEY_RELATIVE},
        "tempo": tempo_summary(rows), "key": key_summary(rows)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
