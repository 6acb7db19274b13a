"""Musical keys: the one parser and spelling of key names for the whole project.

A key is a tonic pitch class and a mode. The model knows two modes, so church modes fold onto
the one that shares their third (D dorian is read as D minor, G mixolydian as G major), and
enharmonic spellings are one key (Cb major is B major). Every key leaves this module spelled
from ``NOTE_NAMES``: "C# major", "Eb minor".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
ACCIDENTALS = {"#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1, "": 0}
MODES = {
    "major": "major", "maj": "major", "ionian": "major", "lydian": "major",
    "mixolydian": "major",
    "minor": "minor", "min": "minor", "m": "minor", "aeolian": "minor", "dorian": "minor",
    "phrygian": "minor", "locrian": "minor", "harmonic minor": "minor",
    "melodic minor": "minor", "natural minor": "minor",
}
# Longest first, so "harmonic minor" wins over "minor" and "minor" over "m".
MODE_PATTERN = "|".join(sorted(map(re.escape, MODES), key=len, reverse=True))
ACCIDENTAL_PATTERN = r"(?:[#♯♭b]|\s*-?\s*sharp|\s*-?\s*flat)?"
_NAME = re.compile(
    rf"^\s*([a-g])({ACCIDENTAL_PATTERN})\s*(?:({MODE_PATTERN})\b)?\s*$", re.IGNORECASE
)


class UnknownKey(ValueError):
    """A key name that names no key."""


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (C = 0) and a mode ("major" or "minor")."""

    tonic: int
    mode: str

    @property
    def name(self) -> str:
        """The canonical spelling, e.g. "F# minor"."""
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    @property
    def index(self) -> int:
        """tonic * 2 + 1 for minor: the model's key condition."""
        return self.tonic * 2 + (self.mode == "minor")

    @property
    def relative(self) -> Key:
        """The relative major of a minor key, or the relative minor of a major one."""
        if self.mode == "major":
            return Key((self.tonic + 9) % 12, "minor")
        return Key((self.tonic + 3) % 12, "major")


def pitch_class(letter: str, accidental: str = "") -> int:
    """The pitch class (C = 0) of a note letter and an accidental ("#", "♭", "flat", ...)."""
    spelled = accidental.strip(" -").lower() if len(accidental) > 1 else accidental
    return (LETTERS[letter.lower()] + ACCIDENTALS[spelled]) % 12


def parse_key(text: str) -> Key:
    """The key named by ``text``: "A minor", "F# major", "Bb", "Ebm", "c sharp minor",
    "A♭ major", "D dorian" (a name without a mode is major). Raises UnknownKey (a ValueError)
    that says what a key looks like for anything else."""
    match = _NAME.match(text)
    if not match:
        raise UnknownKey(f"unknown key {text!r}: give a key like \"A minor\", \"F# major\", "
                        "\"Bb\" or \"Ebm\"")
    letter, accidental, mode = match.groups()
    if mode == "M":  # "CM" is C major in chord shorthand; "Cm" is C minor
        mode = "major"
    return Key(pitch_class(letter, accidental), MODES[(mode or "major").lower()])


def canonical_key(text: str) -> str:
    """``text``'s key spelled canonically ("" stays "": no key); UnknownKey if it is none."""
    return parse_key(text).name if text.strip() else ""
