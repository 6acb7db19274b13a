"""One synthetic training example, end to end: spec → song → audio, hum, metadata, files."""

from __future__ import annotations

import io

import mido
import numpy as np

from engine.corpus.captions import captions, describe, stem_captions
from engine.corpus.composer import (
    CAPTION_STREAM,
    HUM_STREAM,
    Song,
    compose,
    sample_spec,
    stream,
    to_midi,
)
from engine.corpus.flac import encode_flac
from engine.corpus.fluid import DEFAULT_SOUNDFONT
from engine.corpus.genres import GENRES
from engine.corpus.hum import HumNote, synth_hum
from engine.corpus.instruments import INSTRUMENTS
from engine.corpus.render import SAMPLE_RATE, render_song
from engine.corpus.theory import NOTE_NAMES


def melody_notes(song: Song) -> list[list[float]]:
    """The lead line as [start_s, end_s, pitch, velocity] rows (empty without a lead)."""
    lead = song.part("lead")
    if lead is None:
        return []
    spb = 60.0 / song.spec.bpm
    return [[round(n.start * spb, 4), round((n.start + n.length) * spb, 4), n.pitch, n.velocity]
            for n in lead.notes]


def song_metadata(song: Song) -> dict:
    """Everything known about a composed song, as JSON-ready values."""
    spec = song.spec
    genre = GENRES[spec.genre]
    stems = []
    for part in song.parts:
        inst = INSTRUMENTS[part.instrument]
        stems.append({
            "name": part.family, "family": part.family, "instrument": part.instrument,
            "instrument_name": inst.name, "program": inst.program, "drum_kit": inst.drum_kit,
            "style": part.style, "pan": part.pan, "width": part.width,
            "level_db": part.level_db, "notes": len(part.notes),
        })
    return {
        "source": "synth",
        "seed": spec.seed,
        "genre": spec.genre,
        "bpm": spec.bpm,
        "meter": spec.meter,
        "bars": spec.bars,
        "seconds": round(spec.seconds, 4),
        "key_tonic": NOTE_NAMES[spec.key.tonic],
        "mode": spec.key.mode,
        "key_name": spec.key.name,
        "feel": genre.feel,
        "swing": spec.swing,
        "energy": spec.energy,
        "sample_rate": SAMPLE_RATE,
        "stems": stems,
        "sections": [{"name": s.name, "start_bar": s.start_bar, "bars": s.bars,
                      "energy": round(s.energy, 3), "progression": s.progression,
                      "groove": s.groove, "active": list(s.active)} for s in song.sections],
        "chords": [{"start": round(float(c.start), 4), "length": round(float(c.length), 4),
                    "symbol": c.chord.symbol} for c in song.chords],
        "melody": melody_notes(song),
    }


def make_example(seed: int, soundfont: str = DEFAULT_SOUNDFONT, genre: str | None = None,
                 bits: int = 16, store_mix: bool = True) -> tuple[dict, dict[str, bytes]]:
    """Compose, render and describe example `seed`.

    Returns its metadata and its files: one FLAC per stem (`bits`-bit stereo), 'mix.flac'
    (exactly the sum of the stems, losslessly; left out unless `store_mix`: readers derive
    it, engine.corpus.mixdown), 'hum.flac' (16-bit mono, when there is a lead) and 'mid'
    (the whole arrangement as a type-1 MIDI file).
    """
    spec = sample_spec(seed, genre)
    song = compose(spec)
    midi = to_midi(song)
    settings = [(p.pan, p.width, p.level_db) for p in song.parts]
    stems, mix = render_song(midi, settings, spec.bpm, spec.seconds, soundfont, bits=bits)
    return package_example(song, midi, stems, mix, bits, store_mix)


def package_example(song: Song, midi: mido.MidiFile, stems: np.ndarray, mix: np.ndarray,
                    bits: int, store_mix: bool = True,
                    overrides: dict | None = None) -> tuple[dict, dict[str, bytes]]:
    """The metadata and files of a rendered song (see make_example): FLACs, hum, MIDI and
    captions. `stems` (stems, 2, frames) and `mix` are on the `bits`-bit PCM grid.
    `overrides` replace song_metadata's values (e.g. 'feel') before the captions read them."""
    spec = song.spec
    seed = spec.seed
    meta = song_metadata(song)
    meta.update(overrides or {})
    meta.update(bits=bits, frames=int(mix.shape[1]))
    files = {f"{part.family}.flac": encode_flac(audio, bits)
             for part, audio in zip(song.parts, stems, strict=True)}
    if store_mix:
        files["mix.flac"] = encode_flac(mix, bits)
    meta["hum"] = None
    if meta["melody"]:
        notes = [HumNote(a, b, int(p)) for a, b, p, _ in meta["melody"]]
        hum, info = synth_hum(notes, spec.seconds, stream(seed, HUM_STREAM))
        files["hum.flac"] = encode_flac(hum, 16)
        meta["hum"] = info
    midi_bytes = io.BytesIO()
    midi.save(file=midi_bytes)
    files["mid"] = midi_bytes.getvalue()
    rng = stream(seed, CAPTION_STREAM)
    meta.update(describe(meta, rng))
    meta["captions"] = captions(meta, rng)
    meta["stem_captions"] = {s["name"]: stem_captions(meta, s, rng) for s in meta["stems"]}
    return meta, files
