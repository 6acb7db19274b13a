"""How well hums become notes: note F1 on the corpus's held-out synthetic hums, and how long a
10 s hum takes to extract.

    python -m engine.melody.evaluate CORPUS [--limit N] [--latency-runs N] [--json]

The reference of a hum is the example's melody moved by the transposition the hum was sung
in (metadata 'hum' → 'transpose'). Scores are summed over notes of all hums (micro
average), with and without pitch, and also split by tempo: at fast tempi a note can be
shorter than the singer's slide into it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.codec.config import SAMPLE_RATE
from engine.corpus.hum import HumNote, synth_hum
from engine.corpus.shards import iter_examples
from engine.melody.load import load_melody
from engine.melody.notes_f1 import matched_count, precision_recall_f1
from engine.melody.tokens import MelodyNote
from engine.melody.transcribe import transcribe

HELD_OUT = ("test", "validation")
FAST_BPM = 140  # the tempo from which a hum counts as fast
LATENCY_SECONDS = 10.0
LATENCY_RUNS = 5


def evaluate_transcription(corpus_root: str | Path, limit: int | None = None,
                           latency_runs: int = LATENCY_RUNS) -> dict:
    """Note precision, recall and F1 (onset only; onset and pitch) of hum transcription over
    at most `limit` held-out hums of the corpus, overall and for slow and fast tempi, and
    the time to extract a 10 s hum (median of `latency_runs`; none when 0)."""
    tallies: dict[str, list[int]] = {}  # group → [onsets, onsets+pitch, reference, estimated]
    hums = 0
    for split in HELD_OUT:
        for example in iter_examples(Path(corpus_root), split, shuffle_buffer=1):
            if limit is not None and hums >= limit:
                break
            meta = example["json"]
            if not meta.get("hum") or not meta.get("melody"):
                continue
            shift = meta["hum"]["transpose"]
            reference = [MelodyNote(a, b, int(p) + shift) for a, b, p, _ in meta["melody"]]
            estimate = transcribe(example["hum.flac"][0], meta["sample_rate"])
            counts = [matched_count(reference, estimate, with_pitch=False),
                      matched_count(reference, estimate), len(reference), len(estimate)]
            for group in ("all", "fast" if meta["bpm"] >= FAST_BPM else "slow"):
                tally = tallies.setdefault(group, [0, 0, 0, 0])
                tally[:] = [x + y for x, y in zip(tally, counts, strict=True)]
            hums += 1
    if not hums:
        raise ValueError(f"no held-out hums in {corpus_root}")
    report: dict = {"hums": hums, "splits": list(HELD_OUT), "fast_bpm": FAST_BPM}
    for group, (onsets, pitched, references, estimates) in sorted(tallies.items()):
        report[group] = {"reference_notes": references, "estimated_notes": estimates,
                         "onset": rounded(precision_recall_f1(onsets, references, estimates)),
                         "onset_pitch": rounded(precision_recall_f1(pitched, references,
                                                                    estimates))}
    if latency_runs:
        report["latency"] = extraction_latency(runs=latency_runs)
    return report


def rounded(values: dict[str, float]) -> dict[str, float]:
    """`values` to four decimals, for reading."""
    return {name: round(value, 4) for name, value in values.items()}


def extraction_latency(seconds: float = LATENCY_SECONDS, runs: int = LATENCY_RUNS) -> dict:
    """Seconds `load_melody` takes on a WAV of a `seconds`-long synthetic hum: the first call
    (it loads the pitch tracker) and the median and slowest of `runs` calls after it, with
    the median CPU time those took and the machine's load, since other work on a laptop's
    few cores stretches the wall-clock time."""
    rng = np.random.default_rng(7)
    notes, now = [], 0.2
    while now < seconds - 0.5:
        length = float(rng.choice([0.15, 0.3, 0.45, 0.6]))
        notes.append(HumNote(now, now + length * 0.9, int(rng.integers(55, 70))))
        now += length
    audio, _ = synth_hum(notes, seconds, rng)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hum.wav"
        sf.write(path, audio, SAMPLE_RATE)
        load = os.getloadavg()[0]
        times, cpu = [], []
        for _ in range(runs + 1):
            start, start_cpu = time.perf_counter(), time.process_time()
            load_melody(path)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    warm = times[1:]
    return {"hum_seconds": seconds, "first_s": round(times[0], 3),
            "median_s": round(statistics.median(warm), 3), "max_s": round(max(warm), 3),
            "cpu_median_s": round(statistics.median(cpu[1:]), 3), "runs": runs,
            "cores": os.cpu_count(), "load_average": round(load, 2)}


def main(argv: list[str] | None = None) -> int:
    """Command line: print the evaluation (as JSON with --json)."""
    parser = argparse.ArgumentParser(prog="python -m engine.melody.evaluate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="a corpus folder (see 'stemloom corpus build')")
    parser.add_argument("--limit", type=int, help="at most this many hums")
    parser.add_argument("--latency-runs", type=int, default=LATENCY_RUNS,
                        help=f"timed extractions of a 10 s hum (default {LATENCY_RUNS}; 0: none)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    report = evaluate_transcription(args.corpus, args.limit, args.latency_runs)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{report['hums']} held-out hums ({', '.join(report['splits'])})")
    for group in ("all", "slow", "fast"):
        if group in report:
            row = report[group]
            print(f"  {group:5} {row['reference_notes']:5} notes  onset F1 {row['onset']['f1']:.3f}"
                  f"  onset+pitch F1 {row['onset_pitch']['f1']:.3f}")
    if "latency" in report:
        latency = report["latency"]
        print(f"  extracting a {latency['hum_seconds']:.0f} s hum: median "
              f"{latency['median_s']:.2f} s (first {latency['first_s']:.2f} s; "
              f"load average {latency['load_average']} on {latency['cores']} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
