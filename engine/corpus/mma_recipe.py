"""One mma-recipe example: a v2 spec and the composer's sections and chords, accompaniment
played by MMA grooves (mma.py), a real melodic phrase as the lead (real_melody.py), then v2's
rendering, production and mastering (produced.py). The files are those of a v2 example.

Stems: the spec's families. MMA's drum and bass tracks fill the drums and bass stems; each
pitched accompaniment track fills the stem of its program's family, or, when the spec has no
such stem, the first accompaniment stem it has (keys, guitar, strings, pad). Every stem plays
the spec's instrument for its family, so captions name what was rendered. MMA tracks with no
stem to go to are dropped, and so are stems left without notes (a lead in a meter the
phrase bank holds no phrase of). Section B plays the groove's 'Plus' variant where there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.corpus import mma
from engine.corpus.composer import Song, Spec, compose, stream
from engine.corpus.instruments import INSTRUMENTS
from engine.corpus.produced import Instruments, produce
from engine.corpus.real_melody import candidates, phrase_bank, place
from engine.corpus.recipes import sample_spec_v2
from engine.corpus.song import METER_BEATS, Part, Section

MMA_STREAM = 8  # after recipes.py's streams


class MmaRecipeError(RuntimeError):
    """The mma recipe cannot make this example (no MMA, no groove; the message says why)."""


@dataclass(frozen=True)
class Sources:
    """Where the mma recipe finds MMA and the melodies' MIDI files."""

    midi_root: Path
    mma_dir: Path

    @classmethod
    def locate(cls, midi_root: Path) -> Sources:
        """MMA fetched under `midi_root` (else the system's); MmaRecipeError without one."""
        found = mma.locate(midi_root)
        if found is None:
            raise MmaRecipeError(f"MMA is neither under {midi_root / mma.FETCHED_MMA} nor in "
                                 f"{mma.SYSTEM_MMA}: stemloom data fetch mma --dest "
                                 f"{midi_root}")
        return cls(midi_root, found)


def _grooves(spec: Spec, sections: list[Section], rng: np.random.Generator,
             mma_dir: Path) -> list[tuple[int, mma.Groove]]:
    """(first bar, groove) per section: a drawn groove, its 'Plus' variant for a second."""
    options = mma.grooves_for(spec.genre, spec.meter, mma_dir)
    if not options:
        raise MmaRecipeError(f"no MMA groove for {spec.genre} in {spec.meter}")
    first = options[int(rng.integers(len(options)))]
    chosen = [(sections[0].start_bar, first)]
    if len(sections) > 1:
        plus = mma.library(mma_dir).get(first.name.lower() + "plus")
        chosen.append((sections[1].start_bar, plus if plus and plus.time == first.time
                       else first))
    return chosen


def _stem_of(family: str, families: list[str]) -> str | None:
    """The stem an MMA track of `family` plays in, among the spec's `families`."""
    if family in families:
        return family
    if family in mma.ACCOMPANIMENT:
        return next((f for f in mma.ACCOMPANIMENT if f in families), None)
    return None


def arrange(seed: int, sources: Sources) -> tuple[Song, dict]:
    """The song of mma example `seed` (parts from MMA and a real phrase) and what the
    recipe adds to the metadata."""
    spec, focus = sample_spec_v2(seed)
    song = compose(spec)  # for its sections, chords and stems; its parts are replaced
    rng = stream(seed, MMA_STREAM)
    grooves = _grooves(spec, song.sections, rng, sources.mma_dir)
    for section, (_, groove) in zip(song.sections, grooves, strict=True):
        section.groove = groove.name
    text = mma.write_mma(spec.bpm, spec.meter, spec.key, spec.bars, song.chords, grooves,
                         seed % 2**31)
    bar_beats = METER_BEATS[spec.meter]
    tracks = mma.accompaniment(mma.run_mma(text, sources.mma_dir), grooves[0][1].time,
                               bar_beats, spec.bars * bar_beats)
    families = [s.family for s in spec.stems]
    by_stem: dict[str, list[mma.TrackNotes]] = {}
    for track in tracks:
        stem = _stem_of(track.family, families)
        if stem is not None and stem != "lead":
            by_stem.setdefault(stem, []).append(track)
    melody: dict | None = None
    parts = []
    for stem_spec in spec.stems:
        inst = INSTRUMENTS[stem_spec.instrument]
        if stem_spec.family == "lead":
            phrases = candidates(phrase_bank(sources.midi_root), spec.meter, spec.key)
            if not phrases:
                continue
            phrase = phrases[int(rng.integers(len(phrases)))]
            notes, shift = place(phrase, spec.key, spec.bars, inst.low, inst.high)
            style = "melody"
            melody = {"package": phrase.package, "path": phrase.path,
                      "start_bar": phrase.start_bar, "bars": phrase.bars,
                      "transpose": shift}
        elif stem_spec.family in by_stem:
            own = by_stem[stem_spec.family]
            notes = sorted((n for t in own for n in t.notes), key=lambda n: (n.start, n.pitch))
            style = mma.style_of(own)
        else:
            continue
        notes = [n for n in notes if stem_spec.family in song.sections[
            0 if len(song.sections) == 1 or n.start < song.sections[1].start_bar * bar_beats
            else 1].active]
        if notes:
            parts.append(Part(stem_spec.family, stem_spec.instrument, style, stem_spec.pan,
                              stem_spec.width, stem_spec.level_db, notes))
    song.parts = parts
    if not parts:
        raise MmaRecipeError(f"example {seed}: MMA and the phrases gave no notes")
    rendered = {stem: own for stem, own in by_stem.items()
                if any(p.family == stem for p in parts)}
    swing = mma.measured_swing([t for own in rendered.values() for t in own])
    extra = {"recipe": "mma", "focus": focus,
             "feel": "swing" if swing >= mma.SWUNG else "straight", "swing": swing,
             "melody_source": melody,
             "mma": {"grooves": [g.name for _, g in grooves],
                     "files": sorted({g.file for _, g in grooves}),
                     "tracks": {stem: [t.name for t in own] for stem, own in rendered.items()}}}
    return song, extra


def make_example_mma(seed: int, found: Instruments, sources: Sources, bits: int = 16,
                     store_mix: bool = False) -> tuple[dict, dict[str, bytes]]:
    """Arrange, render, produce and describe mma example `seed` (files and metadata as
    make_example_v2's, plus 'mma' (grooves, files, tracks per stem) and 'melody_source')."""
    song, extra = arrange(seed, sources)
    # The feel words of the captions must be the groove's, not the genre's: set them first.
    meta, files = produce(song, seed, found, bits, store_mix,
                          overrides={"feel": extra["feel"], "swing": extra["swing"]})
    meta.update(extra)
    return meta, files
