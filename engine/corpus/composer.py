"""The procedural composer: a seed becomes a spec (cheap), then a humanised multi-stem song."""

from __future__ import annotations

from dataclasses import dataclass, field

import mido
import numpy as np

from engine.corpus.drums import DRUM_KEYS, GROOVES
from engine.corpus.genres import GENRES, Genre
from engine.corpus.instruments import FAMILIES, INSTRUMENTS
from engine.corpus.melody import melody_part
from engine.corpus.parts import BASS_STYLES, comp_part, drum_part
from engine.corpus.song import METER_BEATS, ChordSpan, Context, Note, Part, Section
from engine.corpus.theory import Key, parse_progression

TICKS_PER_BEAT = 960
MAX_SECONDS = 60.0
BAR_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16)
BAR_WEIGHTS = (0.04, 0.12, 0.03, 0.3, 0.04, 0.3, 0.05, 0.12)
# Stream ids of the seeded generators, so each stage draws independently of the others.
SPEC_STREAM, COMPOSE_STREAM, MIX_STREAM, HUM_STREAM, CAPTION_STREAM = range(5)
# Mix placement per family: (pan spread, width range, level in dB).
MIX_DEFAULTS: dict[str, tuple[float, tuple[float, float], float]] = {
    "drums": (0.0, (0.8, 1.0), -3.0),
    "bass": (0.0, (0.1, 0.35), -4.0),
    "keys": (0.35, (0.6, 1.0), -7.0),
    "guitar": (0.6, (0.3, 0.7), -7.0),
    "strings": (0.25, (0.8, 1.0), -8.0),
    "pad": (0.15, (0.9, 1.0), -10.0),
    "lead": (0.1, (0.3, 0.6), -5.0),
}
# Timing spread (seconds) of a human player per family; machine genres play tighter.
TIMING_SPREAD = {"drums": 0.004, "bass": 0.006, "keys": 0.009, "guitar": 0.008,
                 "strings": 0.01, "pad": 0.004, "lead": 0.008}
MACHINE_GENRES = ("house", "techno", "trap", "synthwave", "drum and bass")


def stream(seed: int, stage: int) -> np.random.Generator:
    """The seeded generator of one stage (SPEC_STREAM, COMPOSE_STREAM, ...) of one example."""
    return np.random.default_rng([seed, stage])


@dataclass(frozen=True)
class StemSpec:
    """A stem's family, instrument and place in the mix."""

    family: str
    instrument: str
    pan: float
    width: float
    level_db: float


@dataclass(frozen=True)
class Spec:
    """The quick choices that fix an example's shape: enough to know its length."""

    seed: int
    genre: str
    bpm: int
    meter: str
    bars: int
    key: Key
    swing: float
    energy: float
    stems: tuple[StemSpec, ...]

    @property
    def seconds(self) -> float:
        """Exact length: the whole bars at this tempo."""
        return self.bars * METER_BEATS[self.meter] * 60.0 / self.bpm


@dataclass
class Song:
    """A composed example: its spec, sections, chords and one part per stem."""

    spec: Spec
    sections: list[Section]
    chords: list[ChordSpan]
    parts: list[Part] = field(default_factory=list)

    def part(self, family: str) -> Part | None:
        """The part of a family, if the song has one."""
        return next((p for p in self.parts if p.family == family), None)


def _weighted(rng: np.random.Generator, table: dict[str, float]) -> str:
    names = list(table)
    weights = np.array([table[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _pick_families(genre: Genre, rng: np.random.Generator) -> list[str]:
    chosen = [f for f in FAMILIES if rng.random() < genre.stems.get(f, 0.0)]
    ranked = sorted(FAMILIES, key=lambda f: -genre.stems.get(f, 0.0))
    for family in ranked:  # at least two stems
        if len(chosen) >= 2:
            break
        if family not in chosen:
            chosen.append(family)
    while len(chosen) > 6:  # at most six: drop the least typical
        chosen.remove(min(chosen, key=lambda f: genre.stems.get(f, 0.0)))
    return [f for f in FAMILIES if f in chosen]


def sample_spec(seed: int, genre: str | None = None) -> Spec:
    """Draw the spec of example `seed` (genre, tempo, meter, bars, key, stems, mix)."""
    rng = stream(seed, SPEC_STREAM)
    g = GENRES[genre] if genre else GENRES[sorted(GENRES)[int(rng.integers(len(GENRES)))]]
    meter = _weighted(rng, g.meters)
    bpm = int(rng.integers(g.tempo[0], g.tempo[1] + 1))
    bars = int(rng.choice(BAR_CHOICES, p=np.array(BAR_WEIGHTS) / sum(BAR_WEIGHTS)))
    while bars > 1 and bars * METER_BEATS[meter] * 60.0 / bpm > MAX_SECONDS:
        bars //= 2
    key = Key(int(rng.integers(12)), _weighted(rng, g.modes))
    stems = []
    for family in _pick_families(g, rng):
        spread, (w_lo, w_hi), level = MIX_DEFAULTS[family]
        stems.append(StemSpec(
            family=family,
            instrument=str(rng.choice(g.palette[family])),
            pan=round(float(rng.uniform(-spread, spread)), 3),
            width=round(float(rng.uniform(w_lo, w_hi)), 3),
            level_db=round(level + float(rng.uniform(-2.0, 2.0)), 2),
        ))
    return Spec(seed=seed, genre=g.name, bpm=bpm, meter=meter, bars=bars, key=key,
                swing=round(float(rng.uniform(*g.swing)), 3),
                energy=round(float(rng.uniform(*g.energy)), 3), stems=tuple(stems))


def _groove_for(names: tuple[str, ...], meter: str, rng: np.random.Generator) -> str:
    fitting = [n for n in names if GROOVES[n].meter == meter]
    if not fitting:  # a genre without grooves in this meter borrows any groove in it
        fitting = [n for n, g in GROOVES.items() if g.meter == meter]
    return str(rng.choice(fitting))


def _sections(spec: Spec, genre: Genre, rng: np.random.Generator) -> list[Section]:
    families = tuple(s.family for s in spec.stems)
    groove = _groove_for(genre.grooves, spec.meter, rng)
    progressions = genre.progressions[spec.key.mode]
    first = str(rng.choice(progressions))
    if spec.bars < 8 or rng.random() < 0.45:
        return [Section("A", 0, spec.bars, spec.energy, first, groove, families)]
    half = spec.bars // 2
    second = str(rng.choice([p for p in progressions if p != first] or [first]))
    busy = _groove_for(genre.busy_grooves + genre.grooves, spec.meter, rng)
    lift = float(rng.uniform(0.08, 0.25))
    # A sparser first section: one accompanying stem (or the drums) may wait for the second.
    optional = [f for f in families if f not in ("bass", "lead")]
    waiting = str(rng.choice(optional)) if optional and rng.random() < 0.4 else None
    first_active = tuple(f for f in families if f != waiting)
    return [
        Section("A", 0, half, spec.energy, first, groove, first_active),
        Section("B", half, spec.bars - half, min(1.0, spec.energy + lift), second, busy, families),
    ]


def _chords(spec: Spec, genre: Genre, sections: list[Section],
            rng: np.random.Generator) -> list[ChordSpan]:
    bar_beats = METER_BEATS[spec.meter]
    spans = []
    for index, section in enumerate(sections):
        choices = [c for c in genre.chord_bars if c >= 1.0 or spec.meter != "3/4"]
        per_chord = float(rng.choice(choices)) * bar_beats
        chords = parse_progression(section.progression, spec.key)
        start = section.start_bar * bar_beats
        end = (section.start_bar + section.bars) * bar_beats
        k = 0
        while start < end - 1e-9:
            length = min(per_chord, end - start)
            spans.append(ChordSpan(start, length, chords[k % len(chords)], index))
            start += length
            k += 1
    return spans


def compose(spec: Spec) -> Song:
    """Write every stem's notes for `spec`: drums, bass, accompaniment and lead, humanised."""
    genre = GENRES[spec.genre]
    rng = stream(spec.seed, COMPOSE_STREAM)
    sections = _sections(spec, genre, rng)
    chords = _chords(spec, genre, sections, rng)
    ctx = Context(spec.meter, spec.bars, spec.key, chords, sections, rng)
    song = Song(spec, sections, chords)
    kicks: list[float] = []
    voicing = str(rng.choice(genre.voicings))
    for stem in spec.stems:
        style, notes = _write_part(ctx, genre, stem, voicing, kicks)
        if stem.family == "drums":  # the bass may lock to the kick
            kicks = [n.start for n in notes if n.pitch in (DRUM_KEYS["kick"], DRUM_KEYS["kick2"])]
        notes = [n for n in notes if stem.family in ctx.section_of(int(n.start // ctx.bar_beats))
                 .active]
        song.parts.append(Part(stem.family, stem.instrument, style, stem.pan, stem.width,
                               stem.level_db, notes))
    _humanise(song, rng)
    return song


def _write_part(ctx: Context, genre: Genre, stem: StemSpec, voicing: str,
                kicks: list[float]) -> tuple[str, list[Note]]:
    """The style chosen for one stem and its notes."""
    rng = ctx.rng
    inst = INSTRUMENTS[stem.instrument]
    if stem.family == "drums":
        style = str(rng.choice(genre.fills))
        return style, drum_part(ctx, style)
    if stem.family == "bass":
        style = str(rng.choice(genre.bass))
        return style, BASS_STYLES[style](ctx, (inst.low, inst.high), kicks)
    if stem.family == "lead":
        style = str(rng.choice(genre.lead))
        return style, melody_part(ctx, style, stem.instrument)
    if stem.family in ("pad", "strings"):
        style = "ostinato" if "ostinato" in genre.comp and stem.family == "strings" else "sustain"
        if stem.instrument == "pizzicato":
            style = "arpeggio"
    else:
        style = str(rng.choice(genre.comp))
        if style == "ostinato" or (style == "power chug" and stem.family == "keys"):
            style = "block"
    return style, comp_part(ctx, style, stem.instrument, voicing)


def _swing(beat: float, ratio: float, unit: int) -> float:
    """Move offbeats late: within each pair of `unit` notes the first lasts `ratio` of it."""
    pair = 2 * 4.0 / unit  # beats per pair of unit notes
    base = np.floor(beat / pair + 1e-9) * pair
    t = (beat - base) / pair
    shaped = t / 0.5 * ratio if t < 0.5 else ratio + (t - 0.5) / 0.5 * (1 - ratio)
    return base + shaped * pair


def _humanise(song: Song, rng: np.random.Generator) -> None:
    """Swing, timing spread and velocity spread, in place."""
    spec = song.spec
    genre = GENRES[spec.genre]
    seconds_per_beat = 60.0 / spec.bpm
    tight = 0.35 if spec.genre in MACHINE_GENRES else 1.0
    end = spec.bars * METER_BEATS[spec.meter]
    for part in song.parts:
        spread = TIMING_SPREAD[part.family] * tight / seconds_per_beat
        for note in part.notes:
            start = _swing(note.start, spec.swing, genre.swing_unit)
            stop = _swing(note.start + note.length, spec.swing, genre.swing_unit)
            jitter = float(rng.normal(0, spread)) if note.start > 0 else abs(rng.normal(0, spread))
            note.start = min(max(0.0, start + jitter), end - 0.01)
            note.length = max(0.02, min(stop - start, end - note.start))
            note.velocity = int(np.clip(note.velocity + rng.normal(0, 3), 1, 127))
        part.notes.sort(key=lambda n: (n.start, n.pitch))
        if part.family == "lead":  # swing and jitter must not make the line overlap
            for a, b in zip(part.notes, part.notes[1:], strict=False):
                a.length = max(0.02, min(a.length, b.start - a.start - 0.01))


def channel_for(index: int, family: str) -> int:
    """MIDI channel of the index-th stem: drums on channel 10 (9), others skip it."""
    if family == "drums":
        return 9
    return index if index < 9 else index + 1


def to_midi(song: Song) -> mido.MidiFile:
    """A type-1 MIDI file: a conductor track, then one named track per stem."""
    spec = song.spec
    numerator, denominator = (int(x) for x in spec.meter.split("/"))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack([
        mido.MetaMessage("track_name", name=f"{spec.genre} {spec.key.name}", time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(spec.bpm), time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
        mido.MetaMessage("end_of_track", time=int(spec.bars * METER_BEATS[spec.meter]
                                                  * TICKS_PER_BEAT)),
    ])
    midi.tracks.append(conductor)
    for index, part in enumerate(song.parts):
        channel = channel_for(index, part.family)
        events: list[tuple[int, int, mido.Message]] = []
        for note in part.notes:
            on = round(note.start * TICKS_PER_BEAT)
            off = max(on + 1, round((note.start + note.length) * TICKS_PER_BEAT))
            events.append((on, 1, mido.Message("note_on", channel=channel, note=note.pitch,
                                               velocity=note.velocity)))
            events.append((off, 0, mido.Message("note_off", channel=channel, note=note.pitch,
                                                velocity=0)))
        events.sort(key=lambda e: (e[0], e[1], e[2].note))  # note-offs first at equal ticks
        track = mido.MidiTrack([
            mido.MetaMessage("track_name", name=part.family, time=0),
            mido.Message("program_change", channel=channel,
                         program=INSTRUMENTS[part.instrument].program, time=0),
        ])
        now = 0
        for tick, _, message in events:
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    return midi
