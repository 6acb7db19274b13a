"""Does the music follow the tune? Chroma cosine similarity between the melody condition (as
fitted to the grid) and the generated lead stem and mix — the figure MusicGen reports (0.44
for its melody model) — on held-out corpus melodies given as synthetic hums and as MIDI.

The same prompts generated without the melody give the chance level of the measure; the
corpus's own rendered lead stem and mix against their melody give its ceilings (what a lead
that plays exactly the tune scores, harmonics, attacks and all, and what a mix built around
it scores with bass and chords sounding under it).
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import mido
import numpy as np

from bridge.messages import Generate
from engine.corpus.shards import iter_examples
from engine.generator.evaluate import SAMPLE_RATE, render_request
from engine.melody.from_midi import midi_melody
from engine.melody.tokens import MelodyNote, melody_tokens

STEMS = ("drums", "bass", "keys", "lead")
HOP = 512  # librosa's chroma hop at SAMPLE_RATE


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
