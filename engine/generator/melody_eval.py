"""Does the music follow the tune? Chroma cosine similarity between the melody condition (as
fitted to the grid) and the generated lead stem and mix — the figure MusicGen reports (0.44
for its melody model) — on held-out corpus melodies given as synthetic hums and as MIDI.

The same prompts generated without the melody give the chance level of the measure; the
corpus's own rendered lead stem and mix against their melody give its ceilings (what a lead
that plays exactly the tune scores, harmonics, attacks and all, and what a mix built around
it scores with bass and chords sounding under it).

On the frozen real-tune set (``engine.generator.real_tunes``) the same measure is taken
against the tune itself (as written, or as hummed: moved by the hum's transposition), per
tune over several seeds; a plain additive-tone render of each tune gives the measure's
ceiling on that tune, and the renders without the melody its chance level.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mido
import numpy as np

from bridge import limits
from bridge.messages import Generate
from bridge.timing import clip_seconds
from engine.corpus.hum import HumNote, synth_hum
from engine.corpus.shards import iter_examples
from engine.generator.evaluate import SAMPLE_RATE, render_request
from engine.generator.real_tunes import Tune, load_tunes
from engine.melody.from_midi import midi_melody
from engine.melody.tokens import MelodyNote, melody_tokens

STEMS = ("drums", "bass", "keys", "lead")
HOP = 512  # librosa's chroma hop at SAMPLE_RATE
# One prompt for every real tune, fixed before any was scored: the tune is the variable.
TUNE_PROMPT = "a melodic instrumental with drums, bass, keys and a lead playing the tune"
TONE_HARMONICS = 4


def melody_chroma(notes: list[MelodyNote], frames: int) -> np.ndarray:
    """(12, frames) one-hot pitch classes of the notes at librosa's chroma frame rate (zero
    columns where no note sounds)."""
    tokens = melody_tokens(notes, frames, SAMPLE_RATE / HOP)
    chroma = np.zeros((12, frames), dtype=np.float32)
    voiced = tokens > 0
    chroma[tokens[voiced] - 1, np.flatnonzero(voiced)] = 1.0
    return chroma


def chroma_cosine(notes: list[MelodyNote], audio: np.ndarray) -> float:
    """Mean cosine over the melody's sounding frames between its one-hot chroma and the
    audio's argmax-quantised chroma (as MusicGen)."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio.mean(0), sr=SAMPLE_RATE, hop_length=HOP)
    quantised = np.zeros_like(chroma)
    quantised[chroma.argmax(0), np.arange(chroma.shape[1])] = 1.0
    reference = melody_chroma(notes, chroma.shape[1])
    voiced = reference.sum(0) > 0
    if not voiced.any():
        return float("nan")
    return float((reference[:, voiced] * quantised[:, voiced]).sum(0).mean())


def held_out_melodies(corpus: Path, limit: int) -> list[dict]:
    """Held-out examples of at most 8 bars with a lead line: metadata and the hum's bytes."""
    chosen = []
    for split in ("test", "validation"):
        for example in iter_examples(corpus, split, shuffle_buffer=1, decode=False):
            meta = json.loads(example["json"])
            if (meta.get("melody") and "hum.flac" in example and "lead.flac" in example
                    and meta["bars"] <= 8):
                chosen.append({"meta": meta, "hum": example["hum.flac"],
                               "mid": example["mid"], "lead": example["lead.flac"],
                               "mix": example["mix.flac"]})
            if len(chosen) >= limit:
                return chosen
    return chosen


def evaluate_conditioning(generator: object, corpus: Path, limit: int = 8, seed: int = 1
                          ) -> dict:
    """Chroma cosine of lead and mix to the melody, from hums, from MIDI, without it, and of
    the corpus's own lead stem and mix."""
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for index, example in enumerate(held_out_melodies(corpus, limit)):
            meta = example["meta"]
            _add(results, "corpus_lead", _corpus_cosine(meta, example["lead"]))
            _add(results, "corpus_mix", _corpus_cosine(meta, example["mix"]))
            hum = folder / f"{index}.flac"
            hum.write_bytes(example["hum"])
            lead_midi = folder / f"{index}.mid"
            lead_midi.write_bytes(_lead_only(example["mid"]))
            base = {"request_id": "melody-eval", "prompt": meta["captions"][0],
                    "bpm": float(meta["bpm"]), "bars": int(meta["bars"]),
                    "time_signature": meta["meter"], "stems": STEMS,
                    "sample_rate": SAMPLE_RATE}
            # The corpus's hums are sung on the song's grid from its first sample.
            for source, path in (("hum", hum), ("midi", lead_midi)):
                request = Generate(**base, melody=str(path), melody_timing="click")
                stems, raw = render_request(generator, request, seed + index, folder)
                notes = midi_melody(mido.MidiFile(file=io.BytesIO(raw.melody_midi)))
                _add(results, f"{source}_lead", chroma_cosine(notes, stems["lead"]))
                _add(results, f"{source}_mix", chroma_cosine(notes, sum(stems.values())))
                if source == "midi":
                    stems, _ = render_request(generator, Generate(**base), seed + index, folder)
                    _add(results, "no_melody_lead", chroma_cosine(notes, stems["lead"]))
                    _add(results, "no_melody_mix", chroma_cosine(notes, sum(stems.values())))
    return {name: round(float(np.nanmean(values)), 3) for name, values in results.items()
            } | {"examples": len(results.get("hum_lead", []))}


def _corpus_cosine(meta: dict, flac: bytes) -> float:
    """Chroma cosine of one of the corpus's renders (its lead stem or mix) to the melody it
    plays."""
    import soundfile as sf
    import soxr

    audio, rate = sf.read(io.BytesIO(flac), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE)
    notes = [MelodyNote(start, end, pitch) for start, end, pitch, *_ in meta["melody"]]
    return chroma_cosine(notes, audio.T)


def _add(results: dict[str, list[float]], name: str, value: float) -> None:
    results.setdefault(name, []).append(value)


def _lead_only(midi_bytes: bytes) -> bytes:
    """The corpus arrangement's MIDI cut down to its lead track (a producer's melody clip)."""
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes))
    kept = [t for t in midi.tracks if "lead" in (t.name or "").lower()] or midi.tracks
    out = mido.MidiFile(ticks_per_beat=midi.ticks_per_beat)
    tempo = [m for t in midi.tracks for m in t if m.type == "set_tempo"][:1]
    out.tracks.append(mido.MidiTrack(tempo + [m for m in kept[0] if m.type != "set_tempo"]))
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


def evaluate_real_tunes(generator: object, folder: Path, seeds: Sequence[int] = (1, 2, 3),
                        limit: int | None = None, bars: int | None = None,
                        temperature: float = limits.DEFAULT_TEMPERATURE) -> dict:
    """Chroma cosine of lead and mix to each tune of the frozen set at `folder`: from its
    MIDI clip, from a synthetic hum of it, without it (chance), and of a plain tone render
    (ceiling); per tune the mean and sd over `seeds`, then mean and sd over tunes. `limit`
    takes the first tunes only, `bars` at most that many bars of each; tokens are sampled
    at `temperature`."""
    tunes = load_tunes(folder)[:limit]
    with tempfile.TemporaryDirectory() as scratch:
        rows = [_tune_row(generator, tune, index, seeds, bars, Path(scratch), temperature)
                for index, tune in enumerate(tunes)]
    summary = {"all": _summarize(rows)}
    for kind in sorted({row["kind"] for row in rows}):
        summary[kind] = _summarize([row for row in rows if row["kind"] == kind])
    return {"set": str(folder), "tunes": len(rows), "seeds": list(seeds), "bars": bars,
            "temperature": temperature, "prompt": TUNE_PROMPT, "summary": summary, "per_tune": rows}


def _tune_row(generator: object, tune: Tune, index: int, seeds: Sequence[int],
              bars: int | None, folder: Path, temperature: float) -> dict:
    """One tune's scores: each measure's per-seed values, mean and sd."""
    length = min(bars or tune.bars, tune.bars)
    notes = tune.notes(length)
    seconds = clip_seconds(tune.bpm, length, tune.meter)
    base: dict[str, Any] = {"request_id": "real-tunes", "prompt": TUNE_PROMPT,
                            "bpm": tune.bpm, "bars": length, "time_signature": tune.meter,
                            "stems": STEMS, "sample_rate": SAMPLE_RATE,
                            "temperature": temperature}
    values: dict[str, list[float]] = {}
    tone = tone_render(notes, seconds)
    _add(values, "tone_ceiling", chroma_cosine(notes, tone))
    for seed in seeds:
        hum, hummed = _hum(notes, seconds, np.random.default_rng([seed, index]), folder)
        # Each source beside the notes it should be heard against.
        for source, melody, reference in (("midi", str(tune.path), notes),
                                          ("hum", str(hum), hummed),
                                          ("no_melody", None, notes)):
            given: dict[str, Any] = ({"melody": melody, "melody_timing": "click"} if melody
                                     else {})
            request = Generate(**base, **given)
            stems, _ = render_request(generator, request, seed, folder)
            _add(values, f"{source}_lead", chroma_cosine(reference, stems["lead"]))
            _add(values, f"{source}_mix", chroma_cosine(reference, sum(stems.values())))
    return {"id": tune.id, "kind": tune.kind, "meter": tune.meter, "bpm": tune.bpm,
            "bars": length, "key": tune.key,
            "scores": {name: _spread(v) | {"values": [round(x, 3) for x in v]}
                       for name, v in values.items()}}


def _hum(notes: list[MelodyNote], seconds: float, rng: np.random.Generator, folder: Path
         ) -> tuple[Path, list[MelodyNote]]:
    """A synthetic hum of `notes` written to `folder`, and the notes as hummed (the hum
    moves the tune into a comfortable voice)."""
    import soundfile as sf

    from engine.codec.config import SAMPLE_RATE as HUM_RATE

    audio, info = synth_hum([HumNote(n.start, n.end, n.pitch) for n in notes], seconds, rng)
    path = folder / "hum.wav"
    sf.write(str(path), audio, HUM_RATE)
    shift = int(info["transpose"])
    return path, [MelodyNote(n.start, n.end, n.pitch + shift) for n in notes]


def tone_render(notes: Sequence[MelodyNote], seconds: float) -> np.ndarray:
    """(1, samples) the notes as plain tones (TONE_HARMONICS harmonics falling as 1/k, 10 ms
    fades): a lead that plays exactly the tune and nothing else."""
    out = np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)
    fade = int(0.01 * SAMPLE_RATE)
    for note in notes:
        a, b = int(note.start * SAMPLE_RATE), min(len(out), int(note.end * SAMPLE_RATE))
        if b - a <= 2 * fade:
            continue
        t = np.arange(b - a) / SAMPLE_RATE
        f0 = 440.0 * 2.0 ** ((note.pitch - 69) / 12)
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, TONE_HARMONICS + 1))
        envelope = np.minimum(1.0, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / fade)
        out[a:b] += 0.2 * wave * envelope
    return out[None]


def _spread(values: list[float]) -> dict[str, float]:
    """Mean and sd (population; 0 for one value) of the finite values."""
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "sd": float("nan")}
    return {"mean": round(float(np.mean(finite)), 3), "sd": round(float(np.std(finite)), 3)}


def _summarize(rows: list[dict]) -> dict:
    """Per measure, over tunes: the mean and sd of the per-tune means, the mean per-tune sd
    over seeds, and n (tunes)."""
    summary = {}
    for name in rows[0]["scores"] if rows else ():
        means = [row["scores"][name]["mean"] for row in rows]
        seed_sds = [row["scores"][name]["sd"] for row in rows]
        summary[name] = _spread(means) | {"seed_sd": _spread(seed_sds)["mean"], "n": len(rows)}
    return summary
