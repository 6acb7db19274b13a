"""Music theory the composer needs: keys, modes, chord symbols, progressions and voicings."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bridge.keys import NOTE_NAMES

# Semitone steps of each mode from its tonic.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}

# Chord-symbol suffixes as intervals above the chord root.
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "5": (0, 7, 12),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "add9": (0, 4, 7, 14),
    "madd9": (0, 3, 7, 14),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "m11": (0, 3, 7, 10, 14, 17),
    "13": (0, 4, 7, 10, 14, 21),
    "7b9": (0, 4, 7, 10, 13),
    "7sus4": (0, 5, 7, 10),
    "6/9": (0, 4, 7, 9, 14),
}

_ROMAN = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}
_MAJOR_STEPS = MODES["major"]
_SYMBOL = re.compile(r"^([b#]?)(vii|vi|v|iv|iii|ii|i|VII|VI|V|IV|III|II|I)(.*)$")


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0 = C) and a mode name from MODES."""

    tonic: int
    mode: str

    @property
    def name(self) -> str:
        """Readable name such as 'F# minor'."""
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    @property
    def is_minor(self) -> bool:
        """True when the third above the tonic is minor."""
        return MODES[self.mode][2] == 3

    def scale_pcs(self) -> tuple[int, ...]:
        """Pitch classes of the scale, tonic first."""
        return tuple((self.tonic + s) % 12 for s in MODES[self.mode])


@dataclass(frozen=True)
class Chord:
    """A chord as a root pitch class, a quality name and its intervals."""

    root: int
    quality: str
    intervals: tuple[int, ...]

    @property
    def symbol(self) -> str:
        """Lead-sheet symbol such as 'Ebmaj7'."""
        return NOTE_NAMES[self.root] + self.quality

    def pcs(self) -> tuple[int, ...]:
        """Pitch classes of the chord tones, root first."""
        return tuple((self.root + i) % 12 for i in self.intervals)


def parse_roman(symbol: str, key: Key) -> Chord:
    """Turn a roman-numeral symbol ('bVII', 'ii7', 'Imaj9', 'v', 'iv6') into a Chord in `key`.

    Numerals count scale steps of the major scale from the tonic (so 'bVI' is a minor sixth
    above it, whatever the mode); upper case is major, lower case minor unless a suffix
    names the quality.
    """
    match = _SYMBOL.match(symbol)
    if match is None:
        raise ValueError(f"not a roman-numeral chord: {symbol!r}")
    accidental, numeral, suffix = match.groups()
    root = key.tonic + _MAJOR_STEPS[_ROMAN[numeral.lower()]]
    root += {"b": -1, "#": 1, "": 0}[accidental]
    lower = numeral.islower()
    if suffix in ("", "7", "9", "6", "add9", "11") and lower:
        quality = {"": "m", "7": "m7", "9": "m9", "6": "m6", "add9": "madd9", "11": "m11"}[suffix]
    elif suffix == "o":
        quality = "dim"
    elif suffix == "o7":
        quality = "dim7"
    elif suffix == "ø7":
        quality = "m7b5"
    else:
        quality = suffix
    if quality not in QUALITIES:
        raise ValueError(f"unknown chord quality {suffix!r} in {symbol!r}")
    return Chord(root % 12, quality, QUALITIES[quality])


def parse_progression(text: str, key: Key) -> list[Chord]:
    """Parse a progression like 'i-bVI-bIII-bVII' into chords of `key`."""
    return [parse_roman(s.strip(), key) for s in text.split("-")]


def nearest_pitch(pc: int, target: float) -> int:
    """The MIDI pitch with pitch class `pc` nearest to `target`."""
    base = round(target) - ((round(target) - pc) % 12)
    return base + 12 if target - base > 6 else base


def voice_chord(
    chord: Chord, center: float, style: str, rng: np.random.Generator, previous: list[int] | None
) -> list[int]:
    """MIDI pitches for `chord` around `center` in a voicing `style`.

    Styles: 'close' (stacked tones, inversion nearest the previous chord: voice leading),
    'open' (drop-2 spread), 'shell' (root, third, seventh), 'power' (root, fifth, octave),
    'triad' (three top tones only), 'cluster' (extensions kept, tight).
    """
    ivs = list(chord.intervals)
    if style == "power":
        root = nearest_pitch(chord.root, center - 7)
        return [root, root + 7, root + 12]
    if style == "shell" and len(ivs) >= 4:
        ivs = [ivs[0], ivs[1], ivs[3]]
    elif style == "triad":
        ivs = ivs[:3]
    pcs = sorted({(chord.root + i) % 12 for i in ivs})
    candidates = []
    for inversion in range(len(pcs)):
        order = pcs[inversion:] + pcs[:inversion]
        notes = [nearest_pitch(order[0], center - 4)]
        for pc in order[1:]:
            notes.append(notes[-1] + ((pc - notes[-1]) % 12 or 12))
        candidates.append(notes)
    if previous:
        prev_center = float(np.mean(previous))
        chosen = min(candidates, key=lambda n: abs(np.mean(n) - prev_center) + 0.3 * rng.random())
    else:
        chosen = candidates[int(rng.integers(len(candidates)))]
    if style == "open" and len(chosen) >= 3:
        chosen = sorted([chosen[-2] - 12, *chosen[:-2], chosen[-1]])
    return chosen
