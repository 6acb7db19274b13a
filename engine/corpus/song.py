"""The data a composed example is made of: notes, chord spans, sections, parts, the song."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.corpus.theory import Chord, Key

STEP = 0.25  # a 16th note, in quarter-note beats
METER_BEATS = {"4/4": 4.0, "3/4": 3.0, "6/8": 3.0}  # bar length in quarter notes
METER_STEPS = {"4/4": 16, "3/4": 12, "6/8": 12}
# Strong positions in a bar, in steps: where chord tones and accents belong.
METER_PULSE = {"4/4": (0, 4, 8, 12), "3/4": (0, 4, 8), "6/8": (0, 6)}


@dataclass
class Note:
    """A note: start and length in quarter-note beats, MIDI pitch and velocity."""

    start: float
    length: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class ChordSpan:
    """A chord sounding from `start` for `length` beats, in section number `section`."""

    start: float
    length: float
    chord: Chord
    section: int


@dataclass
class Section:
    """A run of bars with its own progression, groove and energy (0..1)."""

    name: str
    start_bar: int
    bars: int
    energy: float
    progression: str
    groove: str
    active: tuple[str, ...]


@dataclass
class Part:
    """One stem: an instrument from instruments.INSTRUMENTS, its notes and its mix settings."""

    family: str
    instrument: str
    style: str
    pan: float  # -1 left .. 1 right
    width: float  # 0 mono .. 1 as rendered
    level_db: float
    notes: list[Note] = field(default_factory=list)


@dataclass
class Context:
    """What every part generator may read while writing its notes."""

    meter: str
    bars: int
    key: Key
    chords: list[ChordSpan]
    sections: list[Section]
    rng: np.random.Generator

    @property
    def bar_beats(self) -> float:
        """Bar length in quarter-note beats."""
        return METER_BEATS[self.meter]

    @property
    def steps(self) -> int:
        """16th steps per bar."""
        return METER_STEPS[self.meter]

    def section_of(self, bar: int) -> Section:
        """The section holding `bar`."""
        for section in self.sections:
            if section.start_bar <= bar < section.start_bar + section.bars:
                return section
        return self.sections[-1]

    def chord_at(self, beat: float) -> ChordSpan:
        """The chord span sounding at `beat`."""
        for span in self.chords:
            if span.start <= beat < span.start + span.length:
                return span
        return self.chords[-1]

    def velocity(self, bar: int, level: float, jitter: float = 6.0) -> int:
        """A MIDI velocity for a hit of relative `level` in `bar`, following the energy."""
        energy = self.section_of(bar).energy
        value = 127 * level * (0.5 + 0.5 * energy) + self.rng.normal(0, jitter)
        return int(np.clip(round(value), 1, 127))
