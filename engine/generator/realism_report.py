"""The realism report: calibration with known answers first, then the table issue #24 asks
for: distances to held-out real music of corpus v1 and v2 renders, of the real train split
and of the shipped model's renders (``engine.generator.realism`` measures,
``engine.generator.realism_sets`` clips).

Reference: half of the real corpus's ``test`` split (packages held out from training),
split by source file; the other half is the "random split of one set" floor, the train split
(other packages) the "disjoint packages" floor. The degraded rows are that other half with
noise added, low-passed, or through the codec at 2 levels: each must sit above it.
"""

from __future__ import annotations

import time
from pathlib import Path

from engine.codec.eval_sets import EvalSetError
from engine.corpus.shards import read_manifest
from engine.generator import realism
from engine.generator import realism_sets as sets

NOISE_SNR_DB = (30, 20, 10)  # noise 30, 20, 10 dB under the music
LOW_PASS_HZ = 4000.0
CODEC_LEVELS = 2
SAME_SPLIT = "real test, other half"
OTHER_PACKAGES = "real train (other packages)"


def real_sets(root: Path, count: int, seconds: float) -> tuple[dict[str, list], dict]:
    """The reference (one half of the test split, by file), the other half, and the train
    split's clips, with a note on their packages."""
    test = sets.split_rows(root, "test")
    held_out = read_manifest(root).get("real_recordings", {}).get("held_out", [])
    if not test:
        raise EvalSetError(f"{root}: no test split (packages held out from training)")
    train = sets.split_rows(root, "train")
    if set(held_out) & {r.get("package") for r in train}:
        raise EvalSetError(f"{root}: a held-out package is in the train split")
    half_a, half_b = sets.halves_by_file(test)
    clips = {"reference": sets.corpus_clips(root, half_a, count, seconds),
             SAME_SPLIT: sets.corpus_clips(root, half_b, count, seconds),
             OTHER_PACKAGES: sets.corpus_clips(root, train, count, seconds)}
    note = {"held_out_packages": held_out,
            "reference_files": len({r.get("file") for r in half_a}),
            "other_half_files": len({r.get("file") for r in half_b})}
    return clips, note


def degraded_sets(clean: list) -> dict[str, list]:
    """``clean`` clips degraded step by step: noise at NOISE_SNR_DB, a low-pass, the codec."""
    degraded = {f"{SAME_SPLIT} + noise -{snr} dB": [
        (name, sets.add_noise(audio, snr, seed=i)) for i, (name, audio) in enumerate(clean)]
        for snr in NOISE_SNR_DB}
    degraded[f"{SAME_SPLIT}, low-pass {LOW_PASS_HZ / 1000:g} kHz"] = [
        (name, sets.low_pass(audio, LOW_PASS_HZ)) for name, audio in clean]
    degraded[f"{SAME_SPLIT}, codec {CODEC_LEVELS} levels"] = sets.codec_round_trip(
        clean, CODEC_LEVELS)
    return degraded


def evaluate(real: Path, corpora: dict[str, Path], cache: Path | None, seeds: tuple[int, ...],
             count: int = 48, seconds: float = 8.0, model: Path | None = None,
             resamples: int = realism.RESAMPLES, limit: int | None = None,
             render_missing: bool = True) -> dict:
    """Calibration and comparison rows per embedder, with n, seeds and timings. ``corpora``:
    label -> synthetic corpus (a missing one is noted and skipped); ``cache``: the folder of
    generated renders (None: no generated row; ``render_missing`` False: only those cached)."""
    started = time.perf_counter()
    clips, note = real_sets(real, count, seconds)
    degraded = degraded_sets(clips[SAME_SPLIT])
    skipped = {}
    candidates: dict[str, list] = {}
    sources: dict[str, dict] = {"reference and real rows": {"path": str(real)}}
    for label, root in corpora.items():
        if (root / "manifest.json").is_file():
            candidates[label] = sets.corpus_clips(root, sets.split_rows(root, None), count,
                                                  seconds)
            # The build seed says whether MuLan may have trained on these very examples
            # (its card names the corpus seed it learned from): a row to read with care then.
            build = read_manifest(root).get("build", {})
            sources[label] = {"path": str(root), "build_seed": build.get("seed")}
        else:
            skipped[label] = f"no corpus at {root}"
    if cache is not None:
        sources["generated"] = {"path": str(cache), "model": str(model or "shipped")}
        candidates["generated (shipped model)" if model is None else f"generated ({model})"] = (
            sets.generated_clips(cache, seeds, seconds, model, limit, render_missing))
    read_s = time.perf_counter() - started
    embedders = {"mulan": realism.mulan_embedder(), "stats": realism.stats_embedding}
    embedded = {label: realism.embed_set(group, embedders)
                for label, group in {**clips, **degraded, **candidates}.items()}
    reference = embedded.pop("reference")
    table = realism.distance_table(reference, embedded, resamples)
    real_rows = [SAME_SPLIT, OTHER_PACKAGES]
    noise = [SAME_SPLIT, *(label for label in degraded if "noise" in label)]
    checks = {name: realism.calibration_checks(rows, real_rows, noise, list(degraded))
              for name, rows in table.items()}
    return {"clips_per_set": {label: len(group) for label, group in
                              {**clips, **degraded, **candidates}.items()},
            "seconds": seconds, "target_lufs": realism.TARGET_LUFS, "seeds": list(seeds),
            "real": note, "sources": sources, "skipped": skipped,
            "calibration_rows": [*real_rows, *degraded],
            "comparison_rows": [*real_rows, *candidates], "table": table, "checks": checks,
            "wall_s": {"read_and_render": round(read_s, 1),
                       "total": round(time.perf_counter() - started, 1)}}


def format_table(report: dict) -> str:
    """The report as text: per embedder, calibration then comparison rows."""
    lines = [f"clips: {report['seconds']} s, matched to {report['target_lufs']} LUFS; "
             f"reference: real test split half ({report['real']['reference_files']} files of "
             f"{', '.join(report['real']['held_out_packages'])}); n per set "
             f"{sorted(set(report['clips_per_set'].values()))}; seeds {report['seeds']}"]
    for name, rows in report["table"].items():
        for title, labels in (("calibration", report["calibration_rows"]),
                              ("to held-out real music", report["comparison_rows"])):
            lines.append(f"\n{name}: {title}")
            some = rows[labels[0]]
            lines.append(f"  {'set':44s} {'n/ref':>7s} {'FD':>9s} {'FD mean+-sd':>18s} "
                         f"{'KD':>9s} {'KD mean+-sd':>19s}   (whole sets; {some['resamples']} "
                         f"subsets of {some['subset']}, FD in {some['components']} PCs)")
            for label in labels:
                row = rows[label]
                lines.append(f"  {label:44s} {row['n'][1]:>3d}/{row['n'][0]:<3d} "
                             f"{row['fd']:9.3f} {row['fd_mean']:9.3f}+-{row['fd_sd']:<7.3f} "
                             f"{row['kd']:9.4f} {row['kd_mean']:9.4f}+-{row['kd_sd']:.4f}")
        lines.append(f"  checks: {report['checks'][name]}")
    for label, source in report.get("sources", {}).items():
        lines.append(f"source {label}: " + ", ".join(f"{k} {v}" for k, v in source.items()))
    for label, why in report["skipped"].items():
        lines.append(f"skipped {label}: {why}")
    return "\n".join(lines)
