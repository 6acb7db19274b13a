"""Lead melodies: a motif's rhythm and contour, repeated and bent to the chords; monophonic."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from engine.corpus.instruments import INSTRUMENTS
from engine.corpus.song import METER_PULSE, STEP, Context, Note


@dataclass(frozen=True)
class MelodyStyle:
    """How a lead line moves: note values (beats) and their weights, chances of a rest, a leap
    and a chromatic approach, the motif length in bars and how legato notes are held."""

    durations: tuple[float, ...]
    weights: tuple[float, ...]
    rest: float
    leap: float
    chromatic: float
    motif_bars: int
    legato: float


MELODY_STYLES: dict[str, MelodyStyle] = {
    "lyrical": MelodyStyle((0.5, 1.0, 1.5, 2.0, 3.0), (0.3, 0.35, 0.15, 0.15, 0.05),
                           rest=0.12, leap=0.25, chromatic=0.0, motif_bars=2, legato=0.95),
    "riff": MelodyStyle((0.25, 0.5, 0.75), (0.35, 0.5, 0.15), rest=0.2, leap=0.35,
                        chromatic=0.05, motif_bars=1, legato=0.7),
    "hook": MelodyStyle((0.5, 1.0, 0.75, 0.25), (0.45, 0.3, 0.15, 0.1), rest=0.15, leap=0.3,
                        chromatic=0.0, motif_bars=2, legato=0.85),
    "sparse": MelodyStyle((1.0, 2.0, 3.0, 4.0), (0.3, 0.35, 0.2, 0.15), rest=0.35, leap=0.3,
                          chromatic=0.0, motif_bars=2, legato=0.97),
    "bebop": MelodyStyle((0.5,), (1.0,), rest=0.08, leap=0.2, chromatic=0.2, motif_bars=4,
                         legato=0.9),
}


def _rhythm(style: MelodyStyle, bars: int, bar_beats: float,
            rng: np.random.Generator) -> list[tuple[float, float, bool]]:
    """(start, length, is_note) slots filling `bars` bars without crossing bar lines."""
    slots = []
    probs = np.array(style.weights) / sum(style.weights)
    for bar in range(bars):
        t = 0.0
        while t < bar_beats - 1e-9:
            length = min(float(rng.choice(style.durations, p=probs)), bar_beats - t)
            is_note = not slots or rng.random() > style.rest
            slots.append((bar * bar_beats + t, length, is_note))
            t += length
    return slots


def melody_part(ctx: Context, style_name: str, instrument: str) -> list[Note]:
    """A monophonic lead line over the song's chords in the instrument's range."""
    style = MELODY_STYLES[style_name]
    inst = INSTRUMENTS[instrument]
    rng = ctx.rng
    scale_pcs = set(ctx.key.scale_pcs())
    low, high = inst.low, min(inst.high, inst.low + 19)  # stay singable: about an octave and a half
    ladder = [p for p in range(low, high + 1) if p % 12 in scale_pcs]
    center = len(ladder) // 2
    motif_bars = min(style.motif_bars, ctx.bars)
    motif = _rhythm(style, motif_bars, ctx.bar_beats, rng)
    motif_pitches: list[int | None] = []
    notes: list[Note] = []
    index = center
    for rep_start in range(0, ctx.bars, motif_bars):
        offset = rep_start * ctx.bar_beats
        vary = rep_start > 0 and ((rep_start // motif_bars) % 4 == 3 or rng.random() < 0.3)
        reuse = rep_start > 0 and not vary and style_name in ("riff", "hook", "sparse")
        slots = _rhythm(style, motif_bars, ctx.bar_beats, rng) if vary else motif
        for k, (start, length, is_note) in enumerate(slots):
            beat = offset + start
            pitch = None
            if is_note and beat < ctx.bars * ctx.bar_beats:
                remembered = motif_pitches[k] if reuse and k < len(motif_pitches) else None
                pitch, index = _next_pitch(ctx, style, ladder, index, center, beat, remembered)
                strong = round((beat % ctx.bar_beats) / STEP) in METER_PULSE[ctx.meter]
                velocity = ctx.velocity(int(beat // ctx.bar_beats), 0.85 if strong else 0.72)
                notes.append(Note(beat, length, pitch, velocity))
            if rep_start == 0:
                motif_pitches.append(pitch)
    _approaches(notes, style, rng)
    _articulate(notes, style, ctx.bars * ctx.bar_beats)
    return notes


def _next_pitch(ctx: Context, style: MelodyStyle, ladder: list[int], index: int, center: int,
                beat: float, remembered: int | None) -> tuple[int, int]:
    """The next pitch and its ladder index: the remembered motif note or a step or leap
    drawn towards the middle; strong beats land on the nearest chord tone."""
    rng = ctx.rng
    if remembered is not None:
        pitch = remembered
    else:
        move = int(rng.choice([2, 3, 4])) if rng.random() < style.leap else 1
        direction = 1 if rng.random() < 0.5 + 0.06 * (center - index) else -1
        index = int(np.clip(index + direction * move, 0, len(ladder) - 1))
        pitch = ladder[index]
    if round((beat % ctx.bar_beats) / STEP) in METER_PULSE[ctx.meter]:
        chord_pcs = ctx.chord_at(beat).chord.pcs()
        tones = [p for p in ladder if p % 12 in chord_pcs] or ladder
        pitch = min(tones, key=lambda p: abs(p - pitch))
    index = int(np.argmin([abs(p - pitch) for p in ladder]))
    return pitch, index


def _approaches(notes: list[Note], style: MelodyStyle, rng: np.random.Generator) -> None:
    """Bebop-style chromatic approach: a note a semitone off the next one."""
    for a, b in itertools.pairwise(notes):
        if style.chromatic and rng.random() < style.chromatic and abs(a.pitch - b.pitch) > 1:
            a.pitch = b.pitch + (1 if a.pitch > b.pitch else -1)


def _articulate(notes: list[Note], style: MelodyStyle, end: float) -> None:
    """Hold each note for its share of the gap to the next, so the line never overlaps."""
    for i, note in enumerate(notes):
        following = notes[i + 1].start if i + 1 < len(notes) else end
        note.length = max(0.05, min(note.length, following - note.start) * style.legato)
