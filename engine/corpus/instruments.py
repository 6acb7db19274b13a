"""General MIDI instruments the composer draws from, grouped into stem families."""

from __future__ import annotations

from dataclasses import dataclass

# Stem families; an example holds at most one stem of each.
FAMILIES = ("drums", "bass", "keys", "guitar", "strings", "pad", "lead")


@dataclass(frozen=True)
class Instrument:
    """A GM program (0-based; bank 128 for drum kits) with the words a caption uses for it."""

    program: int
    family: str
    name: str
    low: int  # comfortable MIDI range for the part written for it
    high: int
    drum_kit: bool = False


def _i(program: int, family: str, name: str, low: int, high: int) -> Instrument:
    return Instrument(program, family, name, low, high)


def _kit(program: int, name: str) -> Instrument:
    return Instrument(program, "drums", name, 35, 81, drum_kit=True)


INSTRUMENTS: dict[str, Instrument] = {
    # Drum kits (bank 128 in a GM soundfont).
    "standard kit": _kit(0, "acoustic drum kit"),
    "room kit": _kit(8, "roomy drum kit"),
    "power kit": _kit(16, "big rock drum kit"),
    "electronic kit": _kit(24, "electronic drum kit"),
    "808 kit": _kit(25, "808 drum machine"),
    "jazz kit": _kit(32, "jazz drum kit"),
    "brush kit": _kit(40, "brushed drums"),
    "orchestra kit": _kit(48, "orchestral percussion"),
    # Bass.
    "acoustic bass": _i(32, "bass", "upright bass", 28, 55),
    "fingered bass": _i(33, "bass", "fingered electric bass", 28, 55),
    "picked bass": _i(34, "bass", "picked bass", 28, 55),
    "fretless bass": _i(35, "bass", "fretless bass", 28, 55),
    "slap bass": _i(36, "bass", "slap bass", 28, 55),
    "synth bass 1": _i(38, "bass", "analog synth bass", 24, 50),
    "synth bass 2": _i(39, "bass", "warm synth bass", 24, 50),
    # Keys.
    "grand piano": _i(0, "keys", "grand piano", 45, 84),
    "bright piano": _i(1, "keys", "bright piano", 45, 84),
    "electric grand": _i(2, "keys", "electric grand piano", 45, 84),
    "rhodes": _i(4, "keys", "Rhodes electric piano", 45, 81),
    "fm piano": _i(5, "keys", "FM electric piano", 45, 84),
    "harpsichord": _i(6, "keys", "harpsichord", 45, 84),
    "clavinet": _i(7, "keys", "clavinet", 48, 84),
    "vibraphone": _i(11, "keys", "vibraphone", 53, 89),
    "marimba": _i(12, "keys", "marimba", 48, 84),
    "drawbar organ": _i(16, "keys", "drawbar organ", 45, 81),
    "percussive organ": _i(17, "keys", "percussive organ", 45, 81),
    "rock organ": _i(18, "keys", "rock organ", 45, 81),
    "church organ": _i(19, "keys", "pipe organ", 36, 84),
    "music box": _i(10, "keys", "music box", 60, 96),
    # Guitar.
    "nylon guitar": _i(24, "guitar", "nylon-string guitar", 40, 76),
    "steel guitar": _i(25, "guitar", "acoustic guitar", 40, 76),
    "jazz guitar": _i(26, "guitar", "hollow-body jazz guitar", 40, 76),
    "clean guitar": _i(27, "guitar", "clean electric guitar", 40, 79),
    "muted guitar": _i(28, "guitar", "palm-muted guitar", 40, 72),
    "overdrive guitar": _i(29, "guitar", "overdriven guitar", 40, 76),
    "distortion guitar": _i(30, "guitar", "distorted guitar", 36, 72),
    # Strings and choir.
    "violin": _i(40, "strings", "violin", 55, 88),
    "cello": _i(42, "strings", "cello", 36, 67),
    "pizzicato": _i(45, "strings", "pizzicato strings", 43, 79),
    "harp": _i(46, "strings", "harp", 40, 84),
    "string ensemble": _i(48, "strings", "string section", 43, 84),
    "slow strings": _i(49, "strings", "legato strings", 43, 84),
    "synth strings": _i(50, "strings", "synth strings", 43, 84),
    "choir": _i(52, "strings", "choir", 48, 76),
    # Pads and synths.
    "new age pad": _i(88, "pad", "shimmering pad", 43, 79),
    "warm pad": _i(89, "pad", "warm pad", 43, 79),
    "polysynth": _i(90, "pad", "polysynth", 45, 81),
    "choir pad": _i(91, "pad", "airy choir pad", 45, 79),
    "bowed pad": _i(92, "pad", "bowed glass pad", 45, 79),
    "halo pad": _i(94, "pad", "halo pad", 45, 79),
    "sweep pad": _i(95, "pad", "sweeping pad", 45, 79),
    "atmosphere": _i(99, "pad", "atmospheric synth", 45, 79),
    "synth brass": _i(62, "pad", "synth brass", 45, 79),
    # Leads: synth, brass, woodwind, voice-like.
    "square lead": _i(80, "lead", "square-wave lead", 60, 88),
    "saw lead": _i(81, "lead", "sawtooth lead", 60, 88),
    "calliope lead": _i(82, "lead", "calliope lead", 60, 88),
    "voice lead": _i(85, "lead", "vocal synth lead", 55, 81),
    "trumpet": _i(56, "lead", "trumpet", 58, 82),
    "trombone": _i(57, "lead", "trombone", 45, 70),
    "muted trumpet": _i(59, "lead", "muted trumpet", 58, 82),
    "french horn": _i(60, "lead", "French horn", 48, 74),
    "alto sax": _i(65, "lead", "alto sax", 56, 80),
    "tenor sax": _i(66, "lead", "tenor sax", 50, 75),
    "oboe": _i(68, "lead", "oboe", 60, 86),
    "clarinet": _i(71, "lead", "clarinet", 52, 84),
    "flute": _i(73, "lead", "flute", 62, 93),
    "pan flute": _i(75, "lead", "pan flute", 62, 88),
    "voice oohs": _i(53, "lead", "wordless voice", 55, 79),
    "synth voice": _i(54, "lead", "synth voice", 55, 79),
    "whistle": _i(78, "lead", "whistle", 67, 91),
    "steel drums": _i(114, "lead", "steel drums", 60, 84),
    "lead guitar": _i(29, "lead", "overdriven lead guitar", 52, 84),
    "distortion lead": _i(30, "lead", "screaming lead guitar", 52, 84),
}
