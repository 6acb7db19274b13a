"""``stemloom eval generate``: does the music have the tempo, key and stems asked for?

Every prompt of ``prompts.PROMPTS`` is generated (fixed seeds) and cut to its bars as the
engine's server does; then, on the result:

* tempo — librosa's beat tracker on the mix, its tempo prior centred on the tempo asked for:
  right within +-2 BPM; double/half-time apart; the blind tracker (default prior) beside it;
* key — Krumhansl-Kessler on librosa's CQT chroma of the mix's harmonic part (relative-key
  mix-ups apart),
  and the same on the chroma of the semantic plan (is the key lost planning or rendering?);
* stems — every requested stem present, not silent (RMS above -50 dBFS), and distinct from
  the others (log-mel cosine below 0.95);
* MuLan — the audio's score against its own prompt vs. the other prompts (shuffled baseline);
* loop seam — for loop prompts, how far the spectral change across the wrap (end -> start)
  is from the change across the clip's inner bar lines (1: it wraps like its bars follow);
* sound — per stem family, the medians of ``engine.generator.sound``'s measures (harmonic
  share, energy above 2 kHz, L/R correlation, mono-sum loss, loudness) beside the corpus
  medians the generator finishes toward (its ``stem_sound.json``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bridge.keys import parse_key
from bridge.messages import Generate
from bridge.timing import clip_seconds
from engine import api
from engine.api import Result
from engine.codec.config import SAMPLE_RATE as CODEC_RATE
from engine.generation import Generator
from engine.generator.finish import family_of
from engine.generator.prompts import PROMPTS, EvalPrompt
from engine.generator.sound import MEASURES, family_medians, measure_stem
from engine.melody.key import estimate_key
from engine.request import from_generate

SAMPLE_RATE = 44100
SILENT_DB = -50.0
DISTINCT_COSINE = 0.95
TEMPO_TOLERANCE = 2.0
# Onset frames of 2.9 ms: at librosa's default 512 the tempogram's lags near 120 BPM are 3 BPM
# apart, wider than the tolerance, so a clip at 124 BPM can only read 123 or 126.
TEMPO_HOP = 128
# How far off (as a factor) a wrong tempo prior is set to check the tracker does not follow it.
PRIOR_OFFSET = 1.035


class EvalContext:
    """The JobContext of an evaluation run: nothing listens (the folder is for scratch)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def progress(self, fraction: float, stage: str) -> None:
        """Nothing listens during an evaluation."""

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        """Nothing listens during an evaluation."""


def render_request(generator: Generator, request: Generate, seed: int, folder: Path
                   ) -> tuple[dict[str, np.ndarray], Result]:
    """The stems of one request cut to its bars at SAMPLE_RATE as the server makes them
    (``engine.api.render``), and the whole result (key, melody, plan)."""
    result = api.render(generator, from_generate(request), seed, sample_rate=SAMPLE_RATE,
                        context=EvalContext(folder))
    return result.stems, result


def render(generator: Generator, item: EvalPrompt, seed: int, folder: Path,
           sampling: dict | None = None) -> Result:
    """The stems (and key and plan) of one evaluation prompt (``sampling``: Generate's
    sampling fields)."""
    request = Generate(request_id="eval", prompt=item.prompt, bpm=item.bpm, bars=item.bars,
                       time_signature=item.time_signature, key=item.key, stems=item.stems,
                       loop=item.loop, sample_rate=SAMPLE_RATE, **(sampling or {}))
    return render_request(generator, request, seed, folder)[1]


def tempo_verdict(estimated: float, target: float) -> str:
    """'right', 'double', 'half' or 'wrong' for a beat tracker's tempo."""
    for verdict, factor in (("right", 1.0), ("double", 2.0), ("half", 0.5)):
        if abs(estimated - target * factor) <= TEMPO_TOLERANCE * factor:
            return verdict
    return "wrong"


def key_verdict(estimated: str, target: str) -> str:
    """'right', 'relative' (the relative major/minor) or 'wrong'."""
    if estimated == target:
        return "right"
    return "relative" if estimated == parse_key(target).relative.name else "wrong"


def _log_mel(mono: np.ndarray) -> np.ndarray:
    import librosa

    return np.log(librosa.feature.melspectrogram(y=mono, sr=SAMPLE_RATE, n_mels=64) + 1e-6)


def stem_checks(stems: dict[str, np.ndarray]) -> dict[str, bool]:
    """Per stem: audible, and unlike every other stem."""
    mels = {name: _log_mel(audio.mean(0)) for name, audio in stems.items()}
    checks = {}
    for name, audio in stems.items():
        rms_db = 10 * np.log10(np.mean(audio**2) + 1e-12)
        others = [m for other, m in mels.items() if other != name]
        distinct = all(_cosine(mels[name] - mels[name].mean(), m - m.mean()) < DISTINCT_COSINE
                       for m in others)
        checks[name] = bool(rms_db > SILENT_DB and distinct)
    return checks


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


SEAM_HALF_WINDOW = 4096  # samples each side of a bar line whose spectral change is measured


def _bar_line_change(audio: np.ndarray, position: int) -> float:
    """The largest frame-to-frame log-mel change in the frames straddling ``position`` of
    mono ``audio`` (uncentred frames: no edge padding)."""
    import librosa

    excerpt = audio[position - SEAM_HALF_WINDOW : position + SEAM_HALF_WINDOW]
    mel = np.log(librosa.feature.melspectrogram(y=excerpt, sr=SAMPLE_RATE, n_fft=1024,
                                                hop_length=256, n_mels=64, center=False)
                 + 1e-6)
    change = np.abs(np.diff(mel, axis=1)).mean(0)
    middle = len(change) // 2
    return float(change[middle - 2 : middle + 2].max())


def seam_ratio(mix: np.ndarray, bars: int) -> float:
    """How far the spectral change across the loop's wrap (end into start) is from the median
    change across the clip's inner bar lines, as a factor >= 1: about 1 for a loop that wraps
    the way its bars follow each other (a downbeat's hit counts the same at both); larger
    for a seam, whether a jump the bars never make or a downbeat that goes missing."""
    mono = mix.mean(0)
    wrapped = np.concatenate([mono[-SEAM_HALF_WINDOW:], mono[:SEAM_HALF_WINDOW]])
    wrap = _bar_line_change(wrapped, SEAM_HALF_WINDOW)
    bar = len(mono) / bars
    inner = [_bar_line_change(mono, round(k * bar)) for k in range(1, bars)]
    return float(np.exp(abs(np.log((wrap + 1e-9) / (np.median(inner) + 1e-9)))))


def evaluate(generator: Generator, prompts: tuple[EvalPrompt, ...] = PROMPTS, seed: int = 1,
             sampling: dict | None = None) -> dict:
    """Generate every prompt and score the results; a JSON-ready summary and per-prompt rows.
    ``sampling`` overrides the request's sampling defaults (temperature, top_k, guidance...)."""
    from engine.mulan.api import MulanConditioner

    # The generator's own MuLan when it has one: loading a second costs seconds and memory.
    mulan = getattr(generator, "mulan", None) or MulanConditioner.load()
    texts = [p.prompt for p in prompts]
    text_embeddings = mulan.embed_text(texts)
    rows = []
    sound: dict[str, list[dict[str, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as scratch:
        for index, item in enumerate(prompts):
            started = time.perf_counter()
            result = render(generator, item, seed + index, Path(scratch), sampling)
            stems = result.stems
            wall = time.perf_counter() - started
            mix = sum(stems.values())
            measured = tempo_and_key(mix, item.bpm)
            audio_embedding = mulan.embed_audio(mix, SAMPLE_RATE)
            scores = text_embeddings @ audio_embedding
            checks = stem_checks(stems)
            planned = _plan_key(generator, result.plan)
            for name, audio in {**stems, "mix": mix}.items():
                sound[family_of(name)].append(measure_stem(audio, SAMPLE_RATE))
            rows.append({
                "prompt": item.prompt, "bpm": item.bpm, "key": item.key,
                "tempo_estimate": round(measured["tempo"], 1),
                "tempo": tempo_verdict(measured["tempo"], item.bpm),
                "blind_tempo_estimate": round(measured["blind_tempo"], 1),
                "blind_tempo": tempo_verdict(measured["blind_tempo"], item.bpm),
                "key_estimate": measured["key"], "key_result": key_verdict(measured["key"],
                                                                           item.key),
                "plan_key_estimate": planned,
                "plan_key_result": key_verdict(planned, item.key) if planned else None,
                "stems_ok": checks, "all_stems_ok": all(checks.values()) and
                set(stems) == set(item.stems),
                "mulan_own": round(float(scores[index]), 4),
                "mulan_shuffled": round(float(np.delete(scores, index).mean()), 4),
                "seam_ratio": round(seam_ratio(mix, item.bars), 3) if item.loop else None,
                "seconds": round(mix.shape[1] / SAMPLE_RATE, 2), "wall_s": round(wall, 2),
            })
    return {"summary": summarize(rows), "prompts": rows,
            "sound": {"generated": family_medians(sound),
                      "corpus": getattr(generator, "stem_sound", None)}}


def _plan_key(generator: Generator, plan: dict[str, np.ndarray]) -> str:
    """The key of the semantic plan the generator followed ("" when it keeps none): whether
    a wrong key was planned (semantic stage) or lost in rendering (acoustic stages)."""
    tokenizer = getattr(generator, "tokenizer", None)
    if tokenizer is None or "semantic" not in plan:
        return ""
    return estimate_key(tokenizer.chroma(plan["semantic"][0]))


def onset_envelope(mono: np.ndarray) -> np.ndarray:
    """librosa's onset strength of mono audio at SAMPLE_RATE, in TEMPO_HOP frames."""
    import librosa

    return librosa.onset.onset_strength(y=mono, sr=SAMPLE_RATE, hop_length=TEMPO_HOP)


def estimate_tempo(onsets: np.ndarray, prior_bpm: float | None = None) -> float:
    """librosa's beat tracker's tempo from an ``onset_envelope``. With ``prior_bpm`` (the tempo
    asked for) the tracker's tempo prior is centred there: that settles the octave and 3:2
    ambiguities as the request does, but the audio must still beat at that tempo (40 corpus mixes
    read their own tempo 0.97 of the time, a prior PRIOR_OFFSET off about 0.01). Without it,
    librosa's default prior at 120 BPM: a blind estimate."""
    import librosa

    tempo = librosa.beat.beat_track(onset_envelope=onsets, sr=SAMPLE_RATE, hop_length=TEMPO_HOP,
                                    start_bpm=prior_bpm or 120.0)[0]
    return float(np.atleast_1d(tempo)[0])


def harmonic_chroma(mono: np.ndarray) -> np.ndarray:
    """(12,) CQT chroma (C first) of mono audio's harmonic part at SAMPLE_RATE, summed over
    time: drum hits otherwise smear every pitch class."""
    import librosa

    harmonic = librosa.effects.harmonic(mono)
    return librosa.feature.chroma_cqt(y=harmonic, sr=SAMPLE_RATE).sum(axis=1)


def estimate_audio_key(mono: np.ndarray) -> str:
    """The Krumhansl-Kessler key of ``harmonic_chroma`` (on 80 corpus mixes 0.56 right against
    0.49 for the chroma of the whole mix)."""
    return estimate_key(harmonic_chroma(mono))


def tempo_and_key(mix: np.ndarray, bpm: float) -> dict:
    """The tempo (beat tracker led by ``bpm``), blind tempo and key of a (2, samples) mix at
    SAMPLE_RATE."""
    mono = mix.mean(0)
    onsets = onset_envelope(mono)
    return {"tempo": estimate_tempo(onsets, bpm), "blind_tempo": estimate_tempo(onsets),
            "key": estimate_audio_key(mono)}


def reference_ceiling(corpus: Path, count: int = 40, tokenizer: object = None) -> dict:
    """The same tempo and key measurements on held-out corpus mixes (real FluidSynth renders
    with known tempo and key; test split first, then validation): how far the estimators
    themselves can be trusted; with the generator's semantic ``tokenizer``, also the key of
    each mix's own semantic tokens."""
    import itertools
    import json as json_lib

    import soxr

    from engine.corpus.shards import iter_examples
    from engine.generator.conditions import key_index, key_name

    tempo, blind_tempo, prior_off, key, plan_key = [], [], [], [], []
    held_out = itertools.chain(iter_examples(corpus, "test", shuffle_buffer=1),
                               iter_examples(corpus, "validation", shuffle_buffer=1))
    for index, example in enumerate(itertools.islice(held_out, count)):
        meta = example["json"] if isinstance(example["json"], dict) else json_lib.loads(
            example["json"])
        seconds = min(meta["seconds"], clip_seconds(meta["bpm"], 8, meta["meter"]))
        native = example["mix.flac"][:, : int(seconds * meta["sample_rate"])]
        mix = soxr.resample(native.T, meta["sample_rate"], SAMPLE_RATE).T
        mono, bpm = mix.mean(0), meta["bpm"]
        onsets = onset_envelope(mono)
        tempo.append(tempo_verdict(estimate_tempo(onsets, bpm), bpm))
        blind_tempo.append(tempo_verdict(estimate_tempo(onsets), bpm))
        # A wrong request, alternately above and below: the tracker must not follow it.
        wrong = bpm * PRIOR_OFFSET ** (1 if index % 2 == 0 else -1)
        prior_off.append(tempo_verdict(estimate_tempo(onsets, wrong), wrong))
        target = key_name(key_index(meta["key_name"]))
        key.append(key_verdict(estimate_audio_key(mono), target))
        if tokenizer is not None:
            mono_32k = soxr.resample(native.mean(0), meta["sample_rate"], CODEC_RATE)
            planned = estimate_key(tokenizer.chroma(tokenizer.tokens(mono_32k)))
            plan_key.append(key_verdict(planned, target))

    def share(verdicts: list[str], *wanted: str) -> float | None:
        return round(sum(v in wanted for v in verdicts) / len(verdicts), 3) if verdicts else None

    return {"clips": len(tempo), "tempo_accuracy": share(tempo, "right"),
            "tempo_double_or_half": share(tempo, "double", "half"),
            "blind_tempo_accuracy": share(blind_tempo, "right"),
            "tempo_accepted_from_a_wrong_prior": share(prior_off, "right"),
            "key_accuracy": share(key, "right"), "key_relative": share(key, "relative"),
            "plan_key_accuracy": share(plan_key, "right")}


def summarize(rows: list[dict]) -> dict:
    """Rates over the prompt rows."""
    count = len(rows)

    def share(key: str, value: object) -> float:
        return round(sum(r[key] == value for r in rows) / count, 3)

    seams = [r["seam_ratio"] for r in rows if r["seam_ratio"] is not None]
    own = np.array([r["mulan_own"] for r in rows])
    shuffled = np.array([r["mulan_shuffled"] for r in rows])
    return {
        "prompts": count,
        "tempo_accuracy": share("tempo", "right"),
        "tempo_double": share("tempo", "double"), "tempo_half": share("tempo", "half"),
        "blind_tempo_accuracy": share("blind_tempo", "right"),
        "key_accuracy": share("key_result", "right"),
        "key_relative": share("key_result", "relative"),
        "plan_key_accuracy": share("plan_key_result", "right"),
        "all_stems_ok": share("all_stems_ok", True),
        "mulan_own_mean": round(float(own.mean()), 4),
        "mulan_shuffled_mean": round(float(shuffled.mean()), 4),
        "mulan_own_beats_shuffled": round(float((own > shuffled).mean()), 3),
        "loop_seam_ratio_median": round(float(np.median(seams)), 3) if seams else None,
        "realtime_factor_median": round(float(np.median(
            [r["wall_s"] / r["seconds"] for r in rows])), 3),
    }


def print_sound(sound: dict) -> None:
    """The sound table: each family's generated median beside the corpus's."""
    corpus = sound.get("corpus") or {}
    print(f"{'sound (generated / corpus)':28s} " + "  ".join(
        f"{m:>18s}" for m in ("harmonic", ">2kHz", "L/R corr", "mono loss dB", "LUFS")))
    for family, measures in sound["generated"].items():
        theirs = corpus.get(family, {})
        cells = [f"{measures[m]:8.3f} / {theirs[m]:8.3f}" if m in theirs else
                 f"{measures[m]:8.3f} /        -" for m in MEASURES]
        print(f"  {family:26s} " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: evaluate the default (or a given) generator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="generator folder (default: shipped)")
    parser.add_argument("--limit", type=int, help="first N prompts only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/corpus"),
                        help="corpus whose test mixes calibrate the estimators (if present)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    from engine.generator.pipeline import load_default

    generator = load_default(args.model)
    result = evaluate(generator, PROMPTS[: args.limit], args.seed)
    if (args.corpus / "manifest.json").is_file():
        result["estimators_on_corpus_mixes"] = reference_ceiling(args.corpus,
                                                                 tokenizer=generator.tokenizer)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for key, value in result["summary"].items():
            print(f"{key:28s} {value}")
        for key, value in result.get("estimators_on_corpus_mixes", {}).items():
            print(f"corpus mixes: {key:14s} {value}")
        print_sound(result["sound"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
