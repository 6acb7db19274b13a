"""Real melodic phrases for the mma recipe, cut from non-reserved MIDI files.

Sources: the MIDI files of a `stemloom data fetch` folder (mma's examples,
planetblupi-music-midi, freedink-data): every row goes through `read_manifest`, which refuses
reserved packages. In each file of one time signature (4/4, 3/4 or 6/8), windows of
PHRASE_BARS bars from the first bar, stepping PHRASE_BARS, go through the picker the frozen
real-tune set uses (bridge.midi_melody: the part named as a tune, else the highest
single-voiced part that moves, never drums; chords drop to the top note) and the same gates
(real_tunes_build.passes). Identical phrases are kept once, and a phrase that shares a run of
FROZEN_RUN steps (pitch interval and onset gap) with a tune of the frozen real-tune set
(evals/real_tunes, for evaluation only) is left out. A phrase keeps its rhythm in beats;
`place` transposes it to a song's key and loops or cuts it to the song's bars.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import mido

from bridge.keys import NOTE_NAMES
from bridge.midi_melody import (
    TickNote,
    choose_part,
    chord_spread,
    melody_line,
    polyphony,
    read_parts,
    skyline,
)
from engine.corpus.song import METER_BEATS, Note
from engine.corpus.theory import Key
from engine.data.fetch import read_manifest
from engine.generator.real_tunes import TUNES_DIR, load_tunes
from engine.generator.real_tunes_build import passes
from engine.generator.real_tunes_sources import bar_ticks
from engine.melody.key import melody_key
from engine.melody.tokens import MelodyNote

PHRASE_BARS = 4
METERS = ("4/4", "3/4", "6/8")
FROZEN_RUN = 8  # steps (9 notes): shorter runs are common figures (scales, arpeggios)
GRID = 12  # onset gaps compared on a 1/12-beat grid: sixteenths and triplets alike


@dataclass(frozen=True)
class Phrase:
    """A melodic phrase: notes as (start beat, length in beats, pitch, velocity) from its
    first bar, its meter, bars and estimated key, and where it was cut from."""

    notes: tuple[tuple[float, float, int, int], ...]
    meter: str
    bars: int
    tonic: int
    minor: bool
    package: str
    path: str
    start_bar: int


def _meter(midi: mido.MidiFile) -> str | None:
    """The file's one time signature as '3/4' (4/4 when it names none); None for several."""
    found = {f"{m.numerator}/{m.denominator}" for track in midi.tracks for m in track
             if m.type == "time_signature"}
    if len(found) > 1:
        return None
    return found.pop() if found else "4/4"


def file_phrases(midi: mido.MidiFile, package: str, path: str) -> list[Phrase]:
    """Every passing PHRASE_BARS-bar window of one MIDI file (none for other meters)."""
    meter = _meter(midi)
    if meter not in METERS:
        return []
    tpb = midi.ticks_per_beat
    bar = bar_ticks(tpb, meter)
    spread = chord_spread(tpb)
    parts = read_parts(midi.tracks)
    end = max((n.end for p in parts for n in p.notes), default=0)
    phrases = []
    for start in range(0, end - PHRASE_BARS * bar + 1, PHRASE_BARS * bar):
        stop = start + PHRASE_BARS * bar
        cut = [replace(p, notes=tuple(TickNote(n.start - start, min(n.end, stop) - start,
                                               n.channel, n.pitch, n.velocity)
                                      for n in p.notes if start <= n.start < min(n.end, stop)))
               for p in parts]
        chosen = choose_part([p for p in cut if p.notes], spread)
        if chosen is None:
            continue
        line = skyline(chosen.notes, spread)
        if not passes(line, polyphony(chosen.notes, spread), PHRASE_BARS, bar):
            continue
        notes = tuple((n.start / tpb, max(1, n.end - n.start) / tpb, n.pitch, n.velocity)
                      for n in line)
        key = melody_key([MelodyNote(a, a + b, p) for a, b, p, _ in notes])
        tonic, mode = key.split(" ", 1)
        phrases.append(Phrase(notes, meter, PHRASE_BARS, NOTE_NAMES.index(tonic),
                              mode == "minor", package, path, start // bar))
    return phrases


def _runs(onsets: list[tuple[float, int]], lengths: range) -> set[tuple[tuple[int, int], ...]]:
    """Every run of consecutive steps, of each of `lengths`, of a line given as (onset in
    beats, pitch): each step the onset gap on the GRID and the interval, so key and octave
    do not matter."""
    steps = [(round((b - a) * GRID), q - p) for (a, p), (b, q) in pairwise(onsets)]
    return {tuple(steps[i:i + n]) for n in lengths for i in range(len(steps) - n + 1)}


@functools.lru_cache(maxsize=2)
def frozen_runs(folder: Path = TUNES_DIR) -> frozenset[tuple[tuple[int, int], ...]]:
    """The runs of every tune of the frozen real-tune set (its line read as the set reads
    it); RealTunesError when the set is not as frozen."""
    runs: set[tuple[tuple[int, int], ...]] = set()
    for tune in load_tunes(folder):
        midi = mido.MidiFile(tune.path)
        found = melody_line(midi.tracks, midi.ticks_per_beat)
        if found is not None:
            runs |= _runs([(n.start / midi.ticks_per_beat, n.pitch) for n in found[1]],
                          range(1, FROZEN_RUN + 1))
    return frozenset(runs)


def copies_frozen(phrase: Phrase, runs: frozenset[tuple[tuple[int, int], ...]]) -> bool:
    """Whether the phrase shares a run of FROZEN_RUN steps with the frozen real-tune set (a
    phrase of fewer steps: whether all of them are a run of a frozen tune)."""
    length = min(FROZEN_RUN, len(phrase.notes) - 1)
    return not runs.isdisjoint(_runs([(a, p) for a, _, p, _ in phrase.notes],
                                     range(length, length + 1)))


@functools.lru_cache(maxsize=4)
def phrase_bank(midi_root: Path) -> tuple[Phrase, ...]:
    """Every phrase of every MIDI file fetched under `midi_root`, duplicates and phrases that
    copy the frozen real-tune set dropped, in a fixed order (by package, path and bar)."""
    frozen = frozen_runs()
    phrases, seen = [], set()
    rows = sorted((str(r["package"]), str(r["path"])) for r in read_manifest(midi_root)
                  if str(r["path"]).lower().endswith(".mid"))
    for package, path in rows:
        try:
            midi = mido.MidiFile(midi_root / path)
        except (OSError, ValueError, EOFError, KeyError, IndexError):
            continue  # a file mido cannot read gives no phrases
        for phrase in file_phrases(midi, package, path):
            first = phrase.notes[0][2]
            shape = tuple((a, b, p - first) for a, b, p, _ in phrase.notes)
            if (phrase.meter, shape) not in seen and not copies_frozen(phrase, frozen):
                seen.add((phrase.meter, shape))
                phrases.append(phrase)
    return tuple(phrases)


def candidates(bank: tuple[Phrase, ...], meter: str, key: Key) -> list[Phrase]:
    """The phrases in `meter` whose mode (major or minor) is the key's; all phrases in
    `meter` when none is."""
    fitting = [p for p in bank if p.meter == meter]
    same = [p for p in fitting if p.minor == key.is_minor]
    return same or fitting


def place(phrase: Phrase, key: Key, bars: int, low: int, high: int) -> tuple[list[Note], int]:
    """The phrase moved to `key` (by at most a tritone, then whole octaves toward the middle
    of low..high) on a song of `bars` bars: looped when the song is longer, cut when it is
    shorter; rhythm kept in beats. Returns the notes and the transposition in semitones."""
    shift = (key.tonic - phrase.tonic) % 12
    shift -= 12 if shift > 6 else 0
    pitches = [p + shift for _, _, p, _ in phrase.notes]
    middle = (low + high) / 2
    while sum(pitches) / len(pitches) > middle + 6:
        shift -= 12
        pitches = [p - 12 for p in pitches]
    while sum(pitches) / len(pitches) < middle - 6:
        shift += 12
        pitches = [p + 12 for p in pitches]
    while max(pitches) > 127:  # MIDI's range wins over the instrument's
        shift -= 12
        pitches = [p - 12 for p in pitches]
    while min(pitches) < 0:
        shift += 12
        pitches = [p + 12 for p in pitches]
    bar_beats = METER_BEATS[phrase.meter]
    length = phrase.bars * bar_beats
    total = bars * bar_beats
    notes = []
    for loop in range(-(-bars // phrase.bars)):
        for start, duration, pitch, velocity in phrase.notes:
            begin = loop * length + start
            if begin < total:
                notes.append(Note(begin, min(duration, total - begin), pitch + shift, velocity))
    return notes, shift
