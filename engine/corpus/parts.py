"""Part writers for drums, bass and accompaniment; each style is one small function."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.corpus.drums import DRUM_KEYS, GROOVES, HIT_LEVEL, fill_hits
from engine.corpus.instruments import INSTRUMENTS
from engine.corpus.song import METER_PULSE, STEP, ChordSpan, Context, Note
from engine.corpus.theory import nearest_pitch, voice_chord

# ---------------------------------------------------------------- drums


def drum_part(ctx: Context, fill_style: str) -> list[Note]:
    """Drum notes for the whole song: the sections' grooves, fills ending phrases, crashes."""
    notes: list[Note] = []
    rng = ctx.rng
    for bar in range(ctx.bars):
        section = ctx.section_of(bar)
        groove = GROOVES[section.groove]
        bar_start = bar * ctx.bar_beats
        phrase_end = (bar + 1) % 4 == 0 or bar == section.start_bar + section.bars - 1
        fill_steps = 0
        if ctx.bars > 1 and phrase_end and rng.random() < 0.55:
            fill_steps = int(rng.choice([4, 8]) if ctx.steps == 16 else rng.choice([3, 6]))
        first_step = ctx.steps - fill_steps
        for drum, pattern in groove.parts.items():
            for step, char in enumerate(pattern):
                if char == "." or step >= first_step:
                    continue
                if char == "o" and section.energy < 0.3 and rng.random() < 0.5:
                    continue  # quiet sections lose ghost notes
                beat = bar_start + step * STEP
                notes.append(Note(beat, STEP, DRUM_KEYS[drum], ctx.velocity(bar, HIT_LEVEL[char])))
        if "hat" in groove.parts and section.groove.startswith("trap"):
            _hat_rolls(ctx, bar, first_step, notes)
        if fill_steps:
            for step, drum, level in fill_hits(fill_style, fill_steps, rng):
                beat = bar_start + (first_step + step) * STEP
                notes.append(Note(beat, STEP, DRUM_KEYS[drum], ctx.velocity(bar, level)))
        starts_section = bar == section.start_bar and (bar > 0 or rng.random() < 0.4)
        after_fill = bar > 0 and notes and _had_fill(notes, bar_start)
        if starts_section or (after_fill and rng.random() < 0.7):
            notes.append(Note(bar_start, 1.0, DRUM_KEYS["crash"], ctx.velocity(bar, 0.95)))
    return notes


def _had_fill(notes: list[Note], bar_start: float) -> bool:
    toms = {DRUM_KEYS[t] for t in ("tom_high", "tom_mid", "tom_low", "tom_floor")}
    return any(bar_start - 1.0 <= n.start < bar_start and n.pitch in toms for n in notes)


def _hat_rolls(ctx: Context, bar: int, first_step: int, notes: list[Note]) -> None:
    """Trap hi-hat rolls: some beats become 32nds or 16th triplets."""
    hat = DRUM_KEYS["hat"]
    bar_start = bar * ctx.bar_beats
    for beat_index in range(int(first_step * STEP)):
        if ctx.rng.random() > 0.18:
            continue
        beat = bar_start + beat_index
        notes[:] = [n for n in notes if not (n.pitch == hat and beat <= n.start < beat + 1)]
        division = int(ctx.rng.choice([6, 8]))
        for k in range(division):
            level = 0.5 + 0.4 * k / division
            notes.append(Note(beat + k / division, 1 / division, hat, ctx.velocity(bar, level)))


# ---------------------------------------------------------------- bass


def _bass_root(ctx: Context, span: ChordSpan, low: int, high: int, offset: int = 0) -> int:
    """The chord root (plus `offset` semitones) placed low in the bass range."""
    return nearest_pitch((span.chord.root + offset) % 12, low + (high - low) * 0.3)


def _bass_pitch(ctx: Context, span: ChordSpan, role: str, low: int, high: int) -> int:
    root = _bass_root(ctx, span, low, high)
    third = span.chord.intervals[1] if len(span.chord.intervals) > 1 else 7
    offsets = {"R": 0, "5": 7, "O": 12, "3": third, "b7": 10}
    pitch = root + offsets[role]
    return pitch - 12 if pitch > high else pitch


def _grid_bass(ctx: Context, part_range: tuple[int, int], steps: list[tuple[int, float, str]],
               ghost: float = 0.0) -> list[Note]:
    """Repeat a one-bar pattern of (step, length in steps, role) over every bar."""
    low, high = part_range
    notes = []
    for bar in range(ctx.bars):
        start = bar * ctx.bar_beats
        for step, length, role in steps:
            if step >= ctx.steps:
                continue
            beat = start + step * STEP
            span = ctx.chord_at(beat)
            level = 0.85 if step in METER_PULSE[ctx.meter] else 0.7
            if ghost and ctx.rng.random() < ghost:
                level = 0.45
            notes.append(Note(beat, length * STEP * 0.9, _bass_pitch(ctx, span, role, low, high),
                              ctx.velocity(bar, level)))
    return notes


def bass_root_whole(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """One long root per chord."""
    low, high = part_range
    return [Note(s.start, s.length * 0.97, _bass_root(ctx, s, low, high),
                 ctx.velocity(int(s.start // ctx.bar_beats), 0.8)) for s in ctx.chords]


def bass_root_eighths(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Driving eighths on the root, a fifth or octave now and then."""
    roles = ["R" if ctx.rng.random() < 0.8 else str(ctx.rng.choice(["5", "O"]))
             for _ in range(ctx.steps // 2)]
    return _grid_bass(ctx, part_range, [(2 * i, 2, roles[i]) for i in range(ctx.steps // 2)])


def bass_root_sixteenths(ctx: Context, part_range: tuple[int, int],
                         kicks: list[float]) -> list[Note]:
    """Chugging sixteenths on the root (metal)."""
    return _grid_bass(ctx, part_range, [(i, 1, "R") for i in range(ctx.steps)], ghost=0.2)


def bass_octave(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Disco octaves: low-high eighths."""
    return _grid_bass(ctx, part_range, [(2 * i, 1.5, "R" if i % 2 == 0 else "O")
                                  for i in range(ctx.steps // 2)])


def bass_offbeat(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """House bass on the offbeat eighths."""
    roles = [str(ctx.rng.choice(["R", "R", "O", "5"])) for _ in range(ctx.steps // 4)]
    return _grid_bass(ctx, part_range, [(4 * i + 2, 1.6, roles[i]) for i in range(ctx.steps // 4)])


def bass_pedal(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Techno rolling bass: the three 16ths after each kick."""
    return _grid_bass(ctx, part_range, [(4 * b + k, 0.9, "R") for b in range(ctx.steps // 4)
                                  for k in (1, 2, 3)], ghost=0.3)


_FUNK = (
    [(0, 1, "R"), (3, 1, "O"), (6, 1, "R"), (7, 1, "b7"), (10, 2, "R"), (14, 1, "5")],
    [(0, 2, "R"), (3, 1, "R"), (5, 1, "O"), (8, 1, "R"), (11, 1, "5"), (13, 1, "b7")],
    [(0, 1, "R"), (2, 1, "R"), (4, 1, "O"), (7, 2, "5"), (10, 1, "R"), (12, 1, "b7"),
     (14, 1, "O")],
)


def bass_syncopated(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Funk: syncopated sixteenths with octave pops and ghost notes."""
    return _grid_bass(ctx, part_range, _FUNK[int(ctx.rng.integers(len(_FUNK)))], ghost=0.25)


def bass_two_feel(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Bossa nova: root and fifth with the anticipations."""
    return _grid_bass(ctx, part_range, [(0, 6, "R"), (6, 2, "5"), (8, 6, "5"), (14, 2, "R")])


_REGGAE = (
    [(2, 2, "R"), (4, 2, "R"), (6, 4, "3"), (12, 2, "5"), (14, 2, "O")],
    [(0, 3, "R"), (4, 2, "5"), (8, 2, "R"), (10, 2, "3"), (12, 4, "5")],
)


def bass_reggae(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Reggae: melodic figures that leave space."""
    return _grid_bass(ctx, part_range, _REGGAE[int(ctx.rng.integers(len(_REGGAE)))])


def bass_walking(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Walking quarters: chord tones, then a chromatic approach to the next root."""
    low, high = part_range
    notes = []
    scale = ctx.key.scale_pcs()
    total = int(ctx.bars * ctx.bar_beats)
    for beat in range(total):
        span = ctx.chord_at(beat)
        next_span = ctx.chord_at(beat + 1)
        if beat == span.start:
            pitch = _bass_root(ctx, span, low, high)
        elif next_span is not span or beat == total - 1:
            target = _bass_root(ctx, next_span, low, high)
            pitch = target + int(ctx.rng.choice([-1, 1, 2]))
        else:
            prev = notes[-1].pitch
            pcs = span.chord.pcs() if ctx.rng.random() < 0.6 else scale
            options = [nearest_pitch(pc, prev + ctx.rng.normal(0, 4)) for pc in pcs]
            pitch = min(options, key=lambda p: abs(p - prev) + (p == prev) * 5)
        pitch = int(np.clip(pitch, low, high))
        notes.append(Note(float(beat), 0.92, pitch, ctx.velocity(beat // int(ctx.bar_beats), 0.75)))
    return notes


def bass_follow_kick(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Hip-hop bass: a note on each kick, held until the next one."""
    return _kick_bass(ctx, part_range, kicks, sustain=0.6)


def bass_808(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Trap 808: long notes from each kick, an octave jump now and then."""
    return _kick_bass(ctx, part_range, kicks, sustain=0.95, octave_jumps=0.2)


def bass_sub(ctx: Context, part_range: tuple[int, int], kicks: list[float]) -> list[Note]:
    """Drum-and-bass sub: long notes locked to the kick."""
    return _kick_bass(ctx, part_range, kicks, sustain=0.9)


def _kick_bass(ctx: Context, part_range: tuple[int, int], kicks: list[float], sustain: float,
               octave_jumps: float = 0.0) -> list[Note]:
    low, high = part_range
    end = ctx.bars * ctx.bar_beats
    onsets = sorted(set(kicks)) or [b * ctx.bar_beats for b in range(ctx.bars)]
    notes = []
    for i, beat in enumerate(onsets):
        following = onsets[i + 1] if i + 1 < len(onsets) else end
        span = ctx.chord_at(beat)
        pitch = _bass_root(ctx, span, low, high)
        if ctx.rng.random() < octave_jumps:
            pitch += 12
        length = max(STEP, (following - beat) * sustain)
        notes.append(Note(beat, length, pitch, ctx.velocity(int(beat // ctx.bar_beats), 0.85)))
    return notes


BASS_STYLES: dict[str, Callable[[Context, tuple[int, int], list[float]], list[Note]]] = {
    "root whole": bass_root_whole,
    "root eighths": bass_root_eighths,
    "root sixteenths": bass_root_sixteenths,
    "octave": bass_octave,
    "offbeat": bass_offbeat,
    "pedal": bass_pedal,
    "syncopated": bass_syncopated,
    "two feel": bass_two_feel,
    "reggae": bass_reggae,
    "walking": bass_walking,
    "follow kick": bass_follow_kick,
    "808": bass_808,
    "sub": bass_sub,
}


# ---------------------------------------------------------------- accompaniment

# One-bar rhythms (step, length in steps) for the chordal styles, 16 steps; 3/4 and 6/8 bars
# keep the steps that fit.
_RHYTHMS: dict[str, tuple[tuple[tuple[int, float], ...], ...]] = {
    "lazy chords": (((0, 6), (6, 2), (10, 6)), ((0, 10), (11, 5)), ((0, 16),)),
    "stabs": (((2, 1), (6, 1), (10, 1), (14, 1)), ((0, 1), (3, 1), (6, 1), (10, 2)),
              ((2, 1), (5, 1), (10, 1), (13, 1))),
    "chops": (((1, 0.5), (3, 0.5), (5, 0.5), (6, 0.5), (9, 0.5), (11, 0.5), (13, 0.5),
               (14, 0.5)),
              ((2, 0.5), (3, 0.5), (6, 0.5), (10, 0.5), (11, 0.5), (14, 0.5))),
    "skank": (((4, 1.5), (12, 1.5)), ((2, 1), (6, 1), (10, 1), (14, 1))),
    "jazz comp": (((0, 3), (6, 2)), ((6, 2), (14, 2)), ((0, 2), (10, 3)), ((3, 2), (12, 3))),
    "bossa": (((0, 2), (3, 2), (6, 2), (10, 2), (13, 2)), ((0, 2), (3, 2), (6, 3), (12, 2))),
    "strum": (((0, 2), (4, 2), (6, 2), (10, 2), (12, 2), (14, 2)),
              ((0, 3), (3, 3), (6, 2), (8, 2), (10, 2), (12, 4))),
    "power chug": (tuple((2 * i, 1.5) for i in range(8)), tuple((i, 0.8) for i in range(16))),
    "block": (((0, 4), (4, 4), (8, 4), (12, 4)), ((0, 8), (8, 8))),
}


def comp_rhythmic(ctx: Context, style: str, part_range: tuple[int, int],
                  voicing: str) -> list[Note]:
    """Chords on a repeating one-bar rhythm of `style` (see _RHYTHMS); short styles are
    played detached, strums and rolled chords spread their notes a little in time."""
    low, high = part_range
    center = low + (high - low) * 0.45
    options = _RHYTHMS[style]
    rhythm = options[int(ctx.rng.integers(len(options)))]
    spread = {"strum": 0.03, "lazy chords": 0.04, "bossa": 0.01}.get(style, 0.0)
    notes: list[Note] = []
    previous: list[int] | None = None
    for bar in range(ctx.bars):
        for step, length in rhythm:
            if step >= ctx.steps:
                continue
            beat = bar * ctx.bar_beats + step * STEP
            span = ctx.chord_at(beat)
            pitches = voice_chord(span.chord, center, voicing, ctx.rng, previous)
            previous = pitches
            upstroke = style == "strum" and step % 4 == 2
            order = pitches[::-1] if upstroke else pitches
            level = 0.62 if upstroke else (0.8 if step in METER_PULSE[ctx.meter] else 0.72)
            dur = min(length * STEP, span.start + span.length - beat) * 0.92
            for k, pitch in enumerate(order):
                notes.append(Note(beat + k * spread, max(dur - k * spread, 0.05),
                                  int(np.clip(pitch, low - 12, high + 12)),
                                  ctx.velocity(bar, level)))
    return notes


def comp_sustain(ctx: Context, part_range: tuple[int, int], voicing: str) -> list[Note]:
    """Held chords, one per chord span, voice-led."""
    low, high = part_range
    notes = []
    previous = None
    for span in ctx.chords:
        pitches = voice_chord(span.chord, low + (high - low) * 0.45, voicing, ctx.rng, previous)
        previous = pitches
        bar = int(span.start // ctx.bar_beats)
        notes += [Note(span.start, span.length * 0.98, p, ctx.velocity(bar, 0.72)) for p in pitches]
    return notes


def comp_arpeggio(ctx: Context, part_range: tuple[int, int], voicing: str) -> list[Note]:
    """Broken chords in eighths or sixteenths, up or up-and-down."""
    low, high = part_range
    unit = float(ctx.rng.choice([STEP, 2 * STEP]))
    shape = str(ctx.rng.choice(["up", "updown"]))
    notes = []
    previous = None
    for span in ctx.chords:
        tones = voice_chord(span.chord, low + (high - low) * 0.4, voicing, ctx.rng, previous)
        previous = tones
        tones = [*tones, tones[0] + 12]
        cycle = tones + tones[-2:0:-1] if shape == "updown" else tones
        for i in range(round(span.length / unit)):
            beat = span.start + i * unit
            level = 0.8 if i % 4 == 0 else 0.65
            notes.append(Note(beat, unit * 0.9, cycle[i % len(cycle)],
                              ctx.velocity(int(beat // ctx.bar_beats), level)))
    return notes


def comp_ballad_piano(ctx: Context, part_range: tuple[int, int], voicing: str) -> list[Note]:
    """Left hand: root octave held; right hand: eighth-note broken chord."""
    low, high = part_range
    notes = []
    for span in ctx.chords:
        bar = int(span.start // ctx.bar_beats)
        root = nearest_pitch(span.chord.root, low)
        notes += [Note(span.start, span.length * 0.95, p, ctx.velocity(bar, 0.7))
                  for p in (root, root + 12)]
        tones = voice_chord(span.chord, low + (high - low) * 0.6, "close", ctx.rng, None)
        for i in range(round(span.length / 0.5)):
            beat = span.start + i * 0.5
            notes.append(Note(beat, 0.5, tones[i % len(tones)],
                              ctx.velocity(int(beat // ctx.bar_beats), 0.6)))
    return notes


def comp_ostinato(ctx: Context, part_range: tuple[int, int], voicing: str) -> list[Note]:
    """Cinematic eighth-note ostinato on root, fifth and octave."""
    low, high = part_range
    notes = []
    figure = (0, 7, 12, 7)
    for span in ctx.chords:
        root = nearest_pitch(span.chord.root, low + (high - low) * 0.3)
        for i in range(round(span.length / 0.5)):
            beat = span.start + i * 0.5
            level = 0.85 if i % 2 == 0 else 0.65
            notes.append(Note(beat, 0.45, root + figure[i % 4],
                              ctx.velocity(int(beat // ctx.bar_beats), level)))
    return notes


def comp_part(ctx: Context, style: str, instrument: str, voicing: str) -> list[Note]:
    """Accompaniment notes in `style` for the instrument's range."""
    inst = INSTRUMENTS[instrument]
    part_range = (inst.low, inst.high)
    if style in _RHYTHMS:
        return comp_rhythmic(ctx, style, part_range, voicing)
    writers = {"sustain": comp_sustain, "arpeggio": comp_arpeggio,
               "ballad piano": comp_ballad_piano, "ostinato": comp_ostinato}
    return writers[style](ctx, part_range, voicing)
