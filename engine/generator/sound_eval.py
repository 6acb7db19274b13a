"""``stemloom eval sound``: the stems' tones, stereo image and level beside the corpus's.

* On corpus stems (real FluidSynth renders the model learned from): each family's median
  and quartiles of every ``sound`` measure — the reference, which ``--write`` stores beside
  the generator's weights for ``finish`` to aim at.
* On generated stems (the evaluation prompts, several seeds): the same medians for the
  stems as decoded and as finished (narrowed, levelled and mastered), from the same tokens,
  with the mix's beat-grid and scale fit for both, so a finishing step that hurt tempo lock
  or key would show; and, finished, each take's common gain, the stems' loudness before it
  (their families' levels) and the highest true peak of a stem or mix.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bridge import limits
from bridge.loudness import true_peak_dbtp
from bridge.messages import Generate
from bridge.takes import take_of
from engine.generator.finish import MIX_FAMILY, REFERENCE_NAME, family_of, finish_stems
from engine.generator.fit import beat_grid_fit, scale_fit
from engine.generator.prompts import PROMPTS
from engine.generator.sound import (
    MEASURES,
    family_medians,
    loudness_lufs,
    measure_image,
    measure_stem,
    measure_tones,
)


def corpus_reference(corpus: Path, count: int) -> dict[str, Any]:
    """Each stem family's median, quartiles and count of every measure over the first
    ``count`` corpus examples (all splits), and the same for their mixes."""
    from engine.corpus.shards import iter_examples

    rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    for example in itertools.islice(iter_examples(corpus, None, shuffle_buffer=1), count):
        meta = example["json"] if isinstance(example["json"], dict) else json.loads(
            example["json"])
        rate = meta["sample_rate"]
        for stem in meta["stems"]:
            audio = example.get(f"{stem['name']}.flac")
            if audio is not None and float(np.abs(audio).max()) > 0:
                rows[stem["family"]].append(measure_stem(audio, rate))
        rows["mix"].append(measure_stem(example["mix.flac"], rate))
    return {"examples": count, "families": family_medians(rows), "spread": _quartiles(rows),
            "stems": {family: len(found) for family, found in rows.items()}}


def _quartiles(rows: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, list[float]]]:
    return {family: {m: [round(float(q), 4) for q in np.nanpercentile([r[m] for r in found],
                                                                        [25, 75])]
                     for m in MEASURES} for family, found in sorted(rows.items())}


def _spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and count of ``values``."""
    low, median, high = np.percentile(values, [25, 50, 75]) if values else [np.nan] * 3
    return {"median": round(float(median), 2), "q25": round(float(low), 2),
            "q75": round(float(high), 2), "n": len(values)}


def write_reference(reference: dict[str, Any], folder: Path, corpus: Path) -> Path:
    """Store the corpus medians as the generator's ``stem_sound.json``."""
    path = folder / REFERENCE_NAME
    data = {"measured_on": f"{reference['examples']} examples of the corpus at {corpus}",
            "stems": reference["stems"], "families": reference["families"]}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def generated_sound(generator: Any, reference: dict[str, dict[str, float]], seeds: int,
                    limit: int | None = None,
                    temperature: float = limits.DEFAULT_TEMPERATURE) -> dict[str, Any]:
    """The evaluation prompts rendered with ``seeds`` seeds each (at ``temperature``); each
    family's medians as decoded and as finished to ``reference``, the mixes' grid and key
    fits for both, and the finishing's take gains, family levels and highest true peak."""
    # The A/B is of one render: the generator's own finishing is off while it runs.
    own, generator.stem_sound = generator.stem_sound, None
    try:
        return _render_and_measure(generator, reference, seeds, limit, temperature)
    finally:
        generator.stem_sound = own


def _render_and_measure(generator: Any, reference: dict[str, dict[str, float]], seeds: int,
                        limit: int | None, temperature: float) -> dict[str, Any]:
    from engine.generator.evaluate import SAMPLE_RATE, render_request

    raw_rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    done_rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    fits: dict[str, list[dict[str, Any]]] = {"decoded": [], "finished": []}
    gains: list[float] = []
    peaks: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed, item in itertools.product(range(seeds), PROMPTS[:limit]):
            request = Generate(request_id="sound", prompt=item.prompt, bpm=item.bpm,
                               bars=item.bars, time_signature=item.time_signature,
                               key=item.key, stems=item.stems, sample_rate=SAMPLE_RATE,
                               temperature=temperature)
            stems = render_request(generator, request, seed + 1, Path(scratch))[0]
            done = finish_stems(stems, SAMPLE_RATE, reference)
            finished = done.stems
            gains += [take.gain_db for take in done.takes.values()]
            mix = np.sum(list(finished.values()), axis=0)
            peaks += [true_peak_dbtp(a) for a in (*finished.values(), mix)]
            for name in stems:
                # Narrowing and gain leave the mono sum's tones as they were: measured once.
                tones = measure_tones(stems[name], SAMPLE_RATE)
                raw_rows[family_of(name)].append(
                    {**tones, **measure_image(stems[name], SAMPLE_RATE)})
                done_rows[family_of(name)].append(
                    {**tones, **measure_image(finished[name], SAMPLE_RATE),
                     "levelled_lufs": loudness_lufs(finished[name], SAMPLE_RATE)
                     - done.takes[take_of(name)].gain_db})
            for label, audio in (("decoded", stems), ("finished", finished)):
                mix = np.sum(list(audio.values()), axis=0)
                (raw_rows if label == "decoded" else done_rows)["mix"].append(
                    measure_stem(mix, SAMPLE_RATE))
                fits[label].append({
                    "on_grid": beat_grid_fit(mix.mean(0), SAMPLE_RATE, item.bpm).on_grid,
                    "in_key": scale_fit(mix.mean(0), SAMPLE_RATE, item.key).in_key,
                    "mix_lufs": loudness_lufs(mix, SAMPLE_RATE)})
    return {"renders": len(fits["decoded"]), "seeds": seeds, "temperature": temperature,
            "decoded": family_medians(raw_rows), "finished": family_medians(done_rows),
            "decoded_spread": _quartiles(raw_rows), "finished_spread": _quartiles(done_rows),
            "mix_target_lufs": reference.get(MIX_FAMILY, {}).get("loudness_lufs"),
            "take_gain_db": _spread(gains), "max_true_peak_dbtp": round(max(peaks), 2),
            "levelled_lufs": {family: round(float(np.nanmedian([r["levelled_lufs"]
                                                                for r in rows])), 2)
                              for family, rows in sorted(done_rows.items()) if family != "mix"},
            "fits": {label: {"on_grid": sum(f["on_grid"] for f in rows),
                             "in_key": sum(f["in_key"] for f in rows), "of": len(rows)}
                     for label, rows in fits.items()}}
