"""``stemloom eval sound``: the stems' tones, stereo image and level beside the corpus's.

* On corpus stems (real FluidSynth renders the model learned from): each family's median
  and quartiles of every ``sound`` measure — the reference, which ``--write`` stores beside
  the generator's weights for ``finish`` to aim at.
* On generated stems (the evaluation prompts, several seeds): the same medians for the
  stems as decoded and as finished (narrowed, levelled and mastered), from the same tokens,
  with the mix's beat-grid and scale fit for both, so a finishing step that hurt tempo lock
  or key would show; and, finished, each take's common gain, the stems' loudness before it
  (their families' levels) and the highest true peak of a stem or mix.
* Genre-matched (issue #25): HPSS reads short notes as percussive, so a family's harmonic
  share depends on the genre (the corpus's funk bass is far less harmonic than its jazz
  bass), and the prompts do not ask for the genres in the corpus's proportions. Each
  finished stem is also set beside its prompt's genre's corpus median for its family (the
  all-genre median where the corpus has fewer than MIN_GENRE_STEMS such stems): the median
  of those references, the per-stem gaps' median and mean ± standard error, and how many
  stems are within TOLERANCE.
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

# A genre with fewer corpus stems of a family than this is judged against the all-genre median.
MIN_GENRE_STEMS = 5
MATCHED_MEASURE = "harmonic_share"
TOLERANCE = 0.1  # issue #25's aim: tonal stems' harmonic share within 0.1 of the corpus's


def corpus_reference(corpus: Path, count: int) -> dict[str, Any]:
    """Each stem family's median, quartiles and count of every measure over the first
    ``count`` corpus examples (all splits), and the same for their mixes; and each
    family's medians per genre and how many of its stems have a MATCHED_MEASURE
    (``genres``, ``genre_stems``; examples without a genre, such as imported modules,
    count only in the all-genre figures)."""
    from engine.corpus.shards import iter_examples

    rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    by_genre: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(
        lambda: defaultdict(list))
    for example in itertools.islice(iter_examples(corpus, None, shuffle_buffer=1), count):
        meta = example["json"] if isinstance(example["json"], dict) else json.loads(
            example["json"])
        rate = meta["sample_rate"]
        measured = [(stem["family"], measure_stem(audio, rate)) for stem in meta["stems"]
                    if (audio := example.get(f"{stem['name']}.flac")) is not None
                    and float(np.abs(audio).max()) > 0]
        for family, row in [*measured, ("mix", measure_stem(example["mix.flac"], rate))]:
            rows[family].append(row)
            if meta.get("genre"):
                by_genre[meta["genre"]][family].append(row)
    return {"examples": count, "families": family_medians(rows), "spread": _quartiles(rows),
            "stems": {family: len(found) for family, found in rows.items()},
            "genres": {genre: family_medians(found) for genre, found in sorted(by_genre.items())},
            "genre_stems": {genre: {family: sum(not np.isnan(row[MATCHED_MEASURE]) for row in r)
                                    for family, r in sorted(found.items())}
                            for genre, found in sorted(by_genre.items())}}


def matched_reference(corpus: dict[str, Any], genre: str, family: str,
                      measure: str = MATCHED_MEASURE,
                      minimum: int = MIN_GENRE_STEMS) -> tuple[float, bool]:
    """``corpus_reference``'s median of ``measure`` for ``family`` in ``genre``, and False;
    or its all-genre median and True (fell back) where the genre has fewer than ``minimum``
    stems of the family (or none measured: NaN)."""
    if corpus.get("genre_stems", {}).get(genre, {}).get(family, 0) >= minimum:
        value = corpus["genres"][genre][family][measure]
        if not np.isnan(value):
            return value, False
    return corpus["families"][family][measure], True


def genre_matched(values: dict[str, list[tuple[str, float]]], corpus: dict[str, Any],
                  measure: str = MATCHED_MEASURE,
                  minimum: int = MIN_GENRE_STEMS) -> dict[str, Any]:
    """Generated stems' ``measure`` against their genres' corpus medians: per family of
    ``values`` (family -> (genre, value) per stem; unmeasured NaN values left out) that the
    corpus has, the all-genre median, the matched reference (median over the stems of their
    genre's median, ``fallback`` of them the all-genre one), the generated median, the
    per-stem gaps (generated - matched) as median and mean ± standard error, and how many
    gaps are within TOLERANCE."""
    families: dict[str, dict[str, Any]] = {}
    for family, stems in sorted(values.items()):
        measured = [(genre, value) for genre, value in stems if not np.isnan(value)]
        if family not in corpus["families"] or not measured:
            continue
        matched = [matched_reference(corpus, genre, family, measure, minimum)
                   for genre, _ in measured]
        refs = np.array([ref for ref, _ in matched])
        gaps = np.array([value for _, value in measured]) - refs
        error = float(gaps.std(ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else None
        families[family] = {
            "corpus": corpus["families"][family][measure],
            "matched": round(float(np.median(refs)), 4),
            "generated": round(float(np.median([value for _, value in measured])), 4),
            "gap_median": round(float(np.median(gaps)), 4),
            "gap_mean": round(float(gaps.mean()), 4),
            "gap_se": None if error is None else round(error, 4),
            "within": int((np.abs(gaps) <= TOLERANCE).sum()), "n": len(gaps),
            "fallback": sum(fell_back for _, fell_back in matched)}
    return {"measure": measure, "tolerance": TOLERANCE, "min_corpus_stems": minimum,
            "families": families}


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
                    temperature: float = limits.DEFAULT_TEMPERATURE,
                    corpus: dict[str, Any] | None = None) -> dict[str, Any]:
    """The evaluation prompts rendered with ``seeds`` seeds each (at ``temperature``); each
    family's medians as decoded and as finished to ``reference``, the mixes' grid and key
    fits for both, and the finishing's take gains, family levels and highest true peak; with
    ``corpus`` (a ``corpus_reference`` with genres), the finished stems ``genre_matched``."""
    # The A/B is of one render: the generator's own finishing is off while it runs.
    own, generator.stem_sound = generator.stem_sound, None
    try:
        report, values = _render_and_measure(generator, reference, seeds, limit, temperature)
    finally:
        generator.stem_sound = own
    if corpus is not None and "genres" in corpus:
        report["genre_matched"] = genre_matched(values, corpus)
    return report


def _render_and_measure(generator: Any, reference: dict[str, dict[str, float]], seeds: int,
                        limit: int | None, temperature: float,
                        ) -> tuple[dict[str, Any], dict[str, list[tuple[str, float]]]]:
    from engine.generator.evaluate import SAMPLE_RATE, render_request

    raw_rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    done_rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    genres: dict[str, list[str]] = defaultdict(list)  # each done row's prompt's genre
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
                genres[family_of(name)].append(item.genre)
            genres["mix"].append(item.genre)
            for label, audio in (("decoded", stems), ("finished", finished)):
                mix = np.sum(list(audio.values()), axis=0)
                (raw_rows if label == "decoded" else done_rows)["mix"].append(
                    measure_stem(mix, SAMPLE_RATE))
                fits[label].append({
                    "on_grid": beat_grid_fit(mix.mean(0), SAMPLE_RATE, item.bpm).on_grid,
                    "in_key": scale_fit(mix.mean(0), SAMPLE_RATE, item.key).in_key,
                    "mix_lufs": loudness_lufs(mix, SAMPLE_RATE)})
    values = {family: [(genre, row[MATCHED_MEASURE]) for genre, row in zip(
        genres[family], rows, strict=True)] for family, rows in done_rows.items()}
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
                     for label, rows in fits.items()}}, values
