"""Cross-job batching, timed: k 4-stem jobs of 4 bars at 120 BPM (8 s of audio each) as one
batch (``generate_batch``) against the same k jobs one after another (``generate``), runs
alternating so both see the same load; and whether each batched job got its lone stems.

    python -m engine.generator.batch_bench --jobs 1,2,4 --passes 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from bridge.timing import clip_seconds
from engine.api import EDGE_SECONDS, torch_threads
from engine.generator.batch import BatchGenerator, BatchJob
from engine.request import GenerationRequest

BPM, BARS = 120.0, 4
STEMS = ("drums", "bass", "keys", "lead")
PROMPTS = ("dusty lo-fi drums and mellow rhodes", "bright funk with slap bass",
           "dark techno groove", "warm jazz trio")


def _jobs(count: int, first_seed: int) -> list[BatchJob]:
    seconds = clip_seconds(BPM, BARS, "4/4") + EDGE_SECONDS
    return [BatchJob(GenerationRequest(prompt=PROMPTS[n % len(PROMPTS)], bpm=BPM, bars=BARS,
                                       stems=STEMS), first_seed + n, seconds)
            for n in range(count)]


def time_pair(generator: BatchGenerator, count: int, seed: int, batched_first: bool
              ) -> dict[str, float]:
    """Wall seconds of ``count`` jobs one after another and as one batch (in the order
    ``batched_first`` says), and the largest difference between their stems."""
    jobs = _jobs(count, seed)
    walls: dict[str, float] = {}
    outputs: dict[str, list] = {}
    for mode in (("batched", "alone") if batched_first else ("alone", "batched")):
        started = time.perf_counter()
        with torch_threads(1):  # as the engine runs a job
            if mode == "batched":
                outputs[mode] = generator.generate_batch(jobs)
            else:
                outputs[mode] = [generator.generate(j.request, j.seed, j.seconds)  # type: ignore[attr-defined]
                                 for j in jobs]
        walls[mode] = time.perf_counter() - started
    differences = [float(np.abs(b.stems[name] - a.stems[name]).max())
                   for b, a in zip(outputs["batched"], outputs["alone"], strict=True)
                   for name in a.stems]
    same_plans = all(np.array_equal(b.plan["semantic"], a.plan["semantic"])
                     for b, a in zip(outputs["batched"], outputs["alone"], strict=True))
    return {"alone_s": round(walls["alone"], 2), "batched_s": round(walls["batched"], 2),
            "max_stem_difference": max(differences), "same_plans": same_plans}


def main() -> None:
    """Time each job count ``passes`` times and print the runs (and the load average)."""
    from engine.generator.pipeline import load_default

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="1,2,4")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    generator = load_default()
    audio = clip_seconds(BPM, BARS, "4/4")
    with torch_threads(1):  # a first job pays one-off costs: not timed
        generator.generate(_jobs(1, 0)[0].request, 0, audio + EDGE_SECONDS)
    runs = []
    for run in range(args.passes):
        for count in map(int, args.jobs.split(",")):
            load = os.getloadavg()[0]
            timing = time_pair(generator, count, 100 * run + count, batched_first=run % 2 == 1)
            timing.update(jobs=count, load_before=round(load, 2),
                          rtf_alone=round(timing["alone_s"] / count / audio, 3),
                          rtf_batched=round(timing["batched_s"] / count / audio, 3))
            runs.append(timing)
            if not args.json:
                print(timing, flush=True)
    if args.json:
        print(json.dumps({"audio_seconds_per_job": audio, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
