"""One v2 example: a v2 spec, stems rendered on rotated GM banks or real kits, then the
production chain and mastering (production.py). The files are those of a v1 example.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from engine.corpus import banks, drumkits
from engine.corpus.composer import Song, compose, stream, to_midi
from engine.corpus.example import package_example
from engine.corpus.instruments import INSTRUMENTS
from engine.corpus.production import draw_production, master, process_stem
from engine.corpus.recipes import BANK_STREAM, PRODUCTION_STREAM, sample_spec_v2
from engine.corpus.render import SAMPLE_RATE, balance, render_track
from engine.corpus.song import Part

REAL_KIT_SHARE = 0.75  # of drum stems with a fitting real kit; the rest play a GM bank's kit
HALL_IR = ("guitarix-common", "usr/share/gx_head/sounds/greathall.wav")


@dataclass(frozen=True)
class Instruments:
    """What the v2 recipe found in the instruments folder (paths by name)."""

    root: str | None
    banks: dict[str, str]
    kits: dict[str, str]
    hall_ir: str | None

    @classmethod
    def locate(cls, root: Path | None) -> Instruments:
        """Look for every bank, kit and the hall IR under `root` (FluidR3 from the system)."""
        found_banks, _ = banks.locate(root)
        found_kits, _ = drumkits.locate(root)
        hall = Path(root) / HALL_IR[0] / HALL_IR[1] if root is not None else None
        return cls(None if root is None else str(root), found_banks, found_kits,
                   str(hall) if hall is not None and hall.is_file() else None)

    def missing(self) -> list[str]:
        """Readable lines, one per missing package, naming what it would have given."""
        root = Path(self.root) if self.root else None
        by_package: dict[str, list[str]] = {}
        for bank in banks.locate(root)[1]:
            by_package.setdefault(bank.package, []).append(f"bank {bank.name}")
        for kit in drumkits.locate(root)[1]:
            by_package.setdefault(kit.package, []).append(f"kit {kit.name}")
        if self.hall_ir is None:
            by_package.setdefault(HALL_IR[0], []).append("the great hall IR")
        return [f"{package}: {', '.join(what)}" for package, what in sorted(by_package.items())]


def render_stem(part: Part, track: mido.MidiTrack, ticks_per_beat: int, bpm: float,
                frames: int, genre: str, found: Instruments,
                rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Render one stem dry on its drawn instrument source; returns audio and its source."""
    inst = INSTRUMENTS[part.instrument]
    if inst.drum_kit:
        fitting = drumkits.kits_for(part.instrument, found.kits)
        if fitting and rng.random() < REAL_KIT_SHARE:
            name = fitting[int(rng.integers(len(fitting)))]
            path = found.kits[name]
            if drumkits.kit_format(name) == "sf2":
                audio = render_track(track, ticks_per_beat, bpm, frames, path, SAMPLE_RATE,
                                     preset=(0, 0), reverb=False)
            else:
                kit = drumkits.load_hydrogen(path, SAMPLE_RATE)
                hits = drumkits.track_hits(track, ticks_per_beat, bpm, SAMPLE_RATE)
                audio = drumkits.render_hits(kit, hits, frames, SAMPLE_RATE)
            return audio, {"kit": name}
    bank = banks.choose_bank(rng, found.banks, genre, part.family, inst.program, inst.drum_kit)
    audio = render_track(track, ticks_per_beat, bpm, frames, found.banks[bank], SAMPLE_RATE,
                         reverb=False)
    return audio, {"bank": bank}


def make_example_v2(seed: int, found: Instruments, bits: int = 16,
                    store_mix: bool = True) -> tuple[dict, dict[str, bytes]]:
    """Compose, render, produce and describe v2 example `seed` (files as make_example's;
    `mix.flac` only when `store_mix`).

    The metadata adds 'recipe', 'focus', each stem's 'bank' or 'kit', the drawn
    'production' settings and what mastering measured ('master': lufs, peak_db, limiter_db).
    """
    spec, focus = sample_spec_v2(seed)
    meta, files = produce(compose(spec), seed, found, bits, store_mix)
    meta.update(recipe="v2", focus=focus)
    return meta, files


def produce(song: Song, seed: int, found: Instruments, bits: int, store_mix: bool,
            overrides: dict | None = None) -> tuple[dict, dict[str, bytes]]:
    """Render a composed song's parts on the banks and kits, through a drawn production
    chain and mastering, and package it (``package_example``; ``overrides``: its caption
    facts). The metadata adds each stem's 'bank' or 'kit', 'production' and 'master'."""
    spec = song.spec
    midi = to_midi(song)
    frames = round(spec.seconds * SAMPLE_RATE)
    rng = stream(seed, BANK_STREAM)
    dry, sources = [], []
    for part, track in zip(song.parts, midi.tracks[1:], strict=True):
        audio, source = render_stem(part, track, midi.ticks_per_beat, spec.bpm, frames,
                                    spec.genre, found, rng)
        dry.append(audio)
        sources.append(source)
    production = draw_production(spec.genre, [(p.family, p.pan, p.width, p.level_db)
                                              for p in song.parts],
                                 stream(seed, PRODUCTION_STREAM), found.hall_ir is not None)
    wet = np.stack([process_stem(audio, chain, production.room, SAMPLE_RATE, found.hall_ir)
                    for audio, chain in zip(dry, production.stems, strict=True)])
    mastered, report = master(wet, production.bus, SAMPLE_RATE)
    stems, mix = balance(mastered, bits, normalize=False)
    meta, files = package_example(song, midi, stems, mix, bits, store_mix, overrides=overrides)
    for stem, source in zip(meta["stems"], sources, strict=True):
        stem.update(source)
    meta.update(production=production.to_meta(), master=report)
    return meta, files
