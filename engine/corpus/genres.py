"""Genre definitions: data the composer reads, one entry per style a producer asks for."""

from __future__ import annotations

from dataclasses import dataclass

MINOR_POP = ("i-bVI-bIII-bVII", "i-iv-bVII-bIII", "i-bVII-bVI-bVII", "i-iv-v-i", "i-bVI-iv-v")
MAJOR_POP = ("I-V-vi-IV", "I-vi-IV-V", "vi-IV-I-V", "I-IV-vi-V", "I-iii-IV-V", "IV-I-V-vi")


@dataclass(frozen=True)
class Genre:
    """Everything that makes a genre: tempo, meter, feel, harmony, grooves, palette, words.

    `modes` and `meters` are weighted choices; `progressions` maps a mode to roman-numeral
    progressions; `palette` maps a stem family to instrument keys in instruments.INSTRUMENTS;
    `stems` gives each family's chance of appearing; `feel` is 'straight', 'swing' or
    'half-time'; `swing` is the long-short ratio range of offbeat steps (0.5 = straight) on
    the `swing_unit` grid (8 or 16).
    """

    name: str
    words: tuple[str, ...]
    tempo: tuple[int, int]
    meters: dict[str, float]
    feel: str
    swing: tuple[float, float]
    swing_unit: int
    modes: dict[str, float]
    progressions: dict[str, tuple[str, ...]]
    chord_bars: tuple[float, ...]
    voicings: tuple[str, ...]
    grooves: tuple[str, ...]
    busy_grooves: tuple[str, ...]
    fills: tuple[str, ...]
    kits: tuple[str, ...]
    bass: tuple[str, ...]
    comp: tuple[str, ...]
    lead: tuple[str, ...]
    palette: dict[str, tuple[str, ...]]
    stems: dict[str, float]
    energy: tuple[float, float]
    moods: tuple[str, ...]
    textures: tuple[str, ...]
    production: tuple[str, ...]


GENRES: dict[str, Genre] = {}


def _add(genre: Genre) -> None:
    GENRES[genre.name] = genre


_add(Genre(
    name="lo-fi hip hop", words=("lo-fi hip hop", "lofi", "chillhop", "lo-fi beat"),
    tempo=(68, 90), meters={"4/4": 1.0}, feel="swing", swing=(0.56, 0.64), swing_unit=16,
    modes={"minor": 0.4, "dorian": 0.3, "major": 0.3},
    progressions={
        "minor": ("i9-iv9-bVIImaj7-bIIImaj7", "i7-iv7-v7-i7", "i9-bVImaj7-iv7-v7"),
        "dorian": ("i9-IV9", "i7-IV7-i7-bVIImaj7", "ii7-V7-i9"),
        "major": ("Imaj9-vi9-ii9-V9", "IVmaj7-iii7-ii7-Imaj7", "Imaj7-ii7-iii7-IVmaj7"),
    },
    chord_bars=(1.0, 2.0), voicings=("close", "cluster"), grooves=("lofi", "lofi rim", "boom bap"),
    busy_grooves=("boom bap b",), fills=("sparse", "snare roll"), kits=("standard kit", "room kit"),
    bass=("follow kick", "root whole"), comp=("lazy chords", "sustain"), lead=("sparse", "lyrical"),
    palette={"drums": ("standard kit", "room kit"), "bass": ("acoustic bass", "fingered bass"),
             "keys": ("rhodes", "electric grand", "vibraphone"),
             "guitar": ("clean guitar", "jazz guitar", "nylon guitar"),
             "strings": ("slow strings",), "pad": ("warm pad", "halo pad"),
             "lead": ("flute", "muted trumpet", "alto sax", "voice oohs")},
    stems={"drums": 0.95, "bass": 0.8, "keys": 0.85, "guitar": 0.3, "pad": 0.3, "lead": 0.75,
           "strings": 0.1},
    energy=(0.2, 0.5), moods=("mellow", "nostalgic", "chill", "dreamy", "cozy", "melancholic"),
    textures=("dusty", "warm", "soft"), production=("lo-fi", "vinyl warmth", "dusty texture",
                                                   "tape-saturated", "relaxed pocket"),
))

_add(Genre(
    name="boom bap", words=("boom bap", "90s hip hop", "golden-era hip hop", "boom-bap beat"),
    tempo=(84, 98), meters={"4/4": 1.0}, feel="swing", swing=(0.54, 0.62), swing_unit=16,
    modes={"minor": 0.6, "dorian": 0.3, "phrygian": 0.1},
    progressions={"minor": ("i7-iv7", "i-bVI-i-v", "i7-i7-bVI7-v7"),
                  "dorian": ("i7-IV7", "i9-ii7"), "phrygian": ("i-bII-i-bVII",)},
    chord_bars=(1.0, 2.0), voicings=("close", "shell"), grooves=("boom bap", "boom bap b"),
    busy_grooves=("boom bap b",), fills=("sparse", "kick snare"), kits=("standard kit",),
    bass=("follow kick",), comp=("stabs", "lazy chords"), lead=("riff", "sparse"),
    palette={"drums": ("standard kit", "room kit"),
             "bass": ("acoustic bass", "fingered bass", "synth bass 2"),
             "keys": ("grand piano", "rhodes", "vibraphone", "drawbar organ"),
             "guitar": ("jazz guitar", "clean guitar"), "strings": ("string ensemble", "pizzicato"),
             "pad": ("warm pad",), "lead": ("tenor sax", "trumpet", "flute")},
    stems={"drums": 1.0, "bass": 0.85, "keys": 0.8, "guitar": 0.2, "strings": 0.25, "pad": 0.1,
           "lead": 0.6},
    energy=(0.4, 0.7), moods=("gritty", "confident", "moody", "head-nodding", "streetwise"),
    textures=("punchy", "raw", "sample-based"), production=("hard-hitting", "swung groove",
                                                           "crunchy", "sampled feel"),
))

_add(Genre(
    name="trap", words=("trap", "trap beat", "modern trap", "dark trap"),
    tempo=(130, 160), meters={"4/4": 1.0}, feel="half-time", swing=(0.5, 0.52), swing_unit=16,
    modes={"minor": 0.6, "harmonic minor": 0.25, "phrygian": 0.15},
    progressions={"minor": ("i-bVI-bVII-i", "i-iv-bVI-v", "i-i-bVI-bVII"),
                  "harmonic minor": ("i-bVI-V-i", "i-iv-V-i"), "phrygian": ("i-bII-i-bII",)},
    chord_bars=(1.0, 2.0), voicings=("close", "triad"), grooves=("trap", "trap b"),
    busy_grooves=("trap b",), fills=("hat roll", "sparse"), kits=("808 kit", "electronic kit"),
    bass=("808",), comp=("sustain", "arpeggio"), lead=("riff", "sparse"),
    palette={"drums": ("808 kit", "electronic kit"), "bass": ("synth bass 1", "synth bass 2"),
             "keys": ("grand piano", "music box", "fm piano", "marimba"),
             "guitar": ("nylon guitar",), "strings": ("string ensemble", "choir", "pizzicato"),
             "pad": ("halo pad", "atmosphere", "choir pad"),
             "lead": ("square lead", "flute", "synth voice", "saw lead")},
    stems={"drums": 1.0, "bass": 0.95, "keys": 0.6, "guitar": 0.15, "strings": 0.35, "pad": 0.45,
           "lead": 0.6},
    energy=(0.55, 0.9), moods=("dark", "menacing", "hypnotic", "braggadocious", "ominous"),
    textures=("booming", "spacious", "heavy low end"),
    production=("booming low end", "rolling hi-hats", "hard-panned hats", "sub-heavy mix"),
))

_add(Genre(
    name="house", words=("house", "deep house", "house music", "club house"),
    tempo=(118, 128), meters={"4/4": 1.0}, feel="straight", swing=(0.5, 0.56), swing_unit=16,
    modes={"minor": 0.45, "dorian": 0.35, "major": 0.2},
    progressions={"minor": ("i7-iv7", "i9-bVII-bVI-bVII"), "dorian": ("i7-IV9", "i9-ii7-i9-IV7"),
                  "major": ("Imaj7-vi7-ii7-V7", "IVmaj7-Imaj7")},
    chord_bars=(1.0, 2.0), voicings=("close", "cluster"),
    grooves=("four on the floor", "house shuffle"), busy_grooves=("house shuffle",),
    fills=("snare roll", "hat roll"), kits=("electronic kit", "808 kit"),
    bass=("offbeat", "octave"), comp=("stabs", "sustain"), lead=("riff", "hook"),
    palette={"drums": ("electronic kit", "808 kit"),
             "bass": ("synth bass 1", "synth bass 2", "fingered bass"),
             "keys": ("rhodes", "grand piano", "drawbar organ", "fm piano"),
             "guitar": ("muted guitar", "clean guitar"), "strings": ("synth strings",),
             "pad": ("warm pad", "polysynth", "sweep pad"),
             "lead": ("saw lead", "voice lead", "synth voice", "square lead")},
    stems={"drums": 1.0, "bass": 0.9, "keys": 0.8, "guitar": 0.15, "strings": 0.2, "pad": 0.5,
           "lead": 0.55},
    energy=(0.55, 0.85), moods=("groovy", "uplifting", "soulful", "hypnotic", "euphoric"),
    textures=("smooth", "warm", "glossy"), production=("four-on-the-floor pulse", "club-ready",
                                                      "sidechained feel", "clean low end"),
))

_add(Genre(
    name="techno", words=("techno", "minimal techno", "warehouse techno", "peak-time techno"),
    tempo=(124, 140), meters={"4/4": 1.0}, feel="straight", swing=(0.5, 0.52), swing_unit=16,
    modes={"minor": 0.5, "phrygian": 0.3, "dorian": 0.2},
    progressions={"minor": ("i-i-bVI-bVII", "i-iv", "i"), "phrygian": ("i-bII", "i"),
                  "dorian": ("i-IV", "i7")},
    chord_bars=(2.0, 4.0), voicings=("triad", "power"), grooves=("techno", "techno b"),
    busy_grooves=("techno b",), fills=("hat roll", "sparse"), kits=("electronic kit", "808 kit"),
    bass=("pedal",), comp=("stabs", "arpeggio"), lead=("riff",),
    palette={"drums": ("electronic kit", "808 kit"), "bass": ("synth bass 1", "synth bass 2"),
             "keys": ("fm piano", "percussive organ"), "guitar": ("muted guitar",),
             "strings": ("synth strings",), "pad": ("sweep pad", "atmosphere", "polysynth"),
             "lead": ("saw lead", "square lead", "calliope lead")},
    stems={"drums": 1.0, "bass": 0.9, "keys": 0.3, "guitar": 0.05, "strings": 0.15, "pad": 0.6,
           "lead": 0.6},
    energy=(0.6, 0.95), moods=("hypnotic", "relentless", "dark", "mechanical", "trance-like"),
    textures=("minimal", "industrial", "metallic"), production=("pounding pulse", "repetitive",
                                                               "warehouse reverb",
                                                               "tight groove"),
))

_add(Genre(
    name="drum and bass", words=("drum and bass", "DnB", "liquid drum and bass", "jungle-tinged"),
    tempo=(165, 178), meters={"4/4": 1.0}, feel="straight", swing=(0.5, 0.53), swing_unit=16,
    modes={"minor": 0.6, "dorian": 0.4},
    progressions={"minor": ("i9-bVImaj7-bIIImaj7-bVII", "i7-iv7-bVIImaj7-bIIImaj7"),
                  "dorian": ("i9-IV9-i9-bVIImaj7", "ii7-i9")},
    chord_bars=(2.0, 4.0), voicings=("cluster", "open"), grooves=("two step", "amen"),
    busy_grooves=("amen",), fills=("snare roll", "toms"), kits=("standard kit", "electronic kit"),
    bass=("sub",), comp=("sustain", "arpeggio"), lead=("lyrical", "riff"),
    palette={"drums": ("standard kit", "electronic kit", "room kit"),
             "bass": ("synth bass 1", "synth bass 2"), "keys": ("rhodes", "grand piano"),
             "guitar": ("clean guitar",), "strings": ("string ensemble", "synth strings"),
             "pad": ("new age pad", "warm pad", "halo pad"),
             "lead": ("voice lead", "saw lead", "flute", "synth voice")},
    stems={"drums": 1.0, "bass": 0.95, "keys": 0.4, "guitar": 0.1, "strings": 0.3, "pad": 0.6,
           "lead": 0.5},
    energy=(0.65, 0.95), moods=("propulsive", "euphoric", "urgent", "rolling", "atmospheric"),
    textures=("chopped breakbeats", "deep sub", "airy"),
    production=("rolling breaks", "deep low end", "crisp snares", "wide pads"),
))

_add(Genre(
    name="synthwave", words=("synthwave", "retrowave", "80s synth-pop", "outrun"),
    tempo=(84, 118), meters={"4/4": 1.0}, feel="straight", swing=(0.5, 0.5), swing_unit=16,
    modes={"minor": 0.7, "major": 0.2, "dorian": 0.1},
    progressions={"minor": MINOR_POP, "major": MAJOR_POP, "dorian": ("i-IV-i-bVII",)},
    chord_bars=(1.0, 2.0), voicings=("close", "open"), grooves=("synthwave", "synthwave drive"),
    busy_grooves=("synthwave drive",), fills=("toms", "snare roll"),
    kits=("electronic kit", "power kit"), bass=("octave", "root eighths"),
    comp=("arpeggio", "sustain"), lead=("lyrical", "hook"),
    palette={"drums": ("electronic kit", "power kit"), "bass": ("synth bass 1", "synth bass 2"),
             "keys": ("fm piano", "electric grand"), "guitar": ("clean guitar", "overdrive guitar"),
             "strings": ("synth strings",), "pad": ("polysynth", "sweep pad", "synth brass",
                                                     "warm pad"),
             "lead": ("saw lead", "square lead", "voice lead")},
    stems={"drums": 1.0, "bass": 0.95, "keys": 0.35, "guitar": 0.15, "strings": 0.25, "pad": 0.8,
           "lead": 0.75},
    energy=(0.45, 0.8), moods=("nostalgic", "neon-lit", "cinematic", "bittersweet", "cruising"),
    textures=("lush", "glossy", "shimmering"), production=("gated reverb", "analog warmth",
                                                          "retro", "wide stereo chorus"),
))

_add(Genre(
    name="funk", words=("funk", "funky groove", "70s funk", "P-funk"),
    tempo=(96, 116), meters={"4/4": 1.0}, feel="swing", swing=(0.5, 0.57), swing_unit=16,
    modes={"dorian": 0.5, "mixolydian": 0.4, "minor": 0.1},
    progressions={"dorian": ("i7-IV7", "i9", "i7-IV9-i7-bVII"),
                  "mixolydian": ("I7-IV7", "I9-bVII-IV-I9", "I7"), "minor": ("i7-iv7",)},
    chord_bars=(1.0, 2.0), voicings=("shell", "triad"), grooves=("funk", "funk b"),
    busy_grooves=("funk",), fills=("snare roll", "kick snare"), kits=("standard kit", "room kit"),
    bass=("syncopated",), comp=("chops", "stabs"), lead=("riff", "hook"),
    palette={"drums": ("standard kit", "room kit"), "bass": ("slap bass", "fingered bass",
                                                            "synth bass 2"),
             "keys": ("clavinet", "rhodes", "drawbar organ"), "guitar": ("clean guitar",
                                                                         "muted guitar"),
             "strings": ("string ensemble",), "pad": ("synth brass",),
             "lead": ("alto sax", "trumpet", "tenor sax", "square lead")},
    stems={"drums": 1.0, "bass": 1.0, "keys": 0.7, "guitar": 0.65, "strings": 0.1, "pad": 0.15,
           "lead": 0.55},
    energy=(0.6, 0.9), moods=("groovy", "playful", "sweaty", "tight", "joyful"),
    textures=("syncopated", "percussive", "bouncy"), production=("ghost-note grooves",
                                                                 "tight pocket", "live band feel",
                                                                 "dry and tight"),
))

_add(Genre(
    name="disco", words=("disco", "nu-disco", "70s disco", "disco groove"),
    tempo=(110, 126), meters={"4/4": 1.0}, feel="straight", swing=(0.5, 0.52), swing_unit=16,
    modes={"minor": 0.4, "major": 0.4, "dorian": 0.2},
    progressions={"minor": ("i7-iv7-bVII7-bIIImaj7", "i7-iv7"),
                  "major": ("Imaj7-vi7-ii7-V7", "IVmaj7-iii7-ii7-Imaj7"),
                  "dorian": ("i7-IV7",)},
    chord_bars=(1.0, 2.0), voicings=("close", "open"), grooves=("disco",), busy_grooves=("disco",),
    fills=("snare roll", "toms"), kits=("standard kit", "room kit"), bass=("octave",),
    comp=("stabs", "chops"), lead=("hook", "riff"),
    palette={"drums": ("standard kit", "room kit"), "bass": ("fingered bass", "picked bass",
                                                            "synth bass 1"),
             "keys": ("grand piano", "rhodes", "clavinet"), "guitar": ("muted guitar",
                                                                      "clean guitar"),
             "strings": ("string ensemble", "violin"), "pad": ("synth brass", "polysynth"),
             "lead": ("trumpet", "alto sax", "flute", "saw lead")},
    stems={"drums": 1.0, "bass": 1.0, "keys": 0.5, "guitar": 0.6, "strings": 0.6, "pad": 0.2,
           "lead": 0.5},
    energy=(0.6, 0.9), moods=("joyful", "glamorous", "danceable", "euphoric", "sunny"),
    textures=("lush", "shimmering", "bright"), production=("offbeat sizzle",
                                                                   "octave-bounce groove",
                                                                   "lush swells",
                                                                   "polished"),
))

_add(Genre(
    name="rock", words=("rock", "indie rock", "alt-rock", "classic rock"),
    tempo=(100, 150), meters={"4/4": 0.85, "6/8": 0.1, "3/4": 0.05}, feel="straight",
    swing=(0.5, 0.52), swing_unit=8, modes={"major": 0.45, "minor": 0.35, "mixolydian": 0.2},
    progressions={"major": ("I-IV-V-IV", "I-V-vi-IV", "I-bVII-IV-I", "vi-IV-I-V"),
                  "minor": ("i-bVII-bVI-bVII", "i-bIII-bVII-iv", "i-iv-bVI-bVII"),
                  "mixolydian": ("I-bVII-IV-I", "I-IV-bVII-IV")},
    chord_bars=(0.5, 1.0, 2.0), voicings=("power", "triad"), grooves=("rock", "rock b",
                                                                     "six eight rock", "waltz"),
    busy_grooves=("rock b",), fills=("toms", "kick snare"), kits=("power kit", "room kit",
                                                                 "standard kit"),
    bass=("root eighths",), comp=("strum", "power chug"), lead=("hook", "riff"),
    palette={"drums": ("power kit", "room kit", "standard kit"),
             "bass": ("picked bass", "fingered bass"), "keys": ("rock organ", "grand piano",
                                                                "bright piano"),
             "guitar": ("overdrive guitar", "distortion guitar", "clean guitar", "steel guitar"),
             "strings": ("string ensemble",), "pad": ("warm pad",),
             "lead": ("lead guitar", "distortion lead", "voice oohs")},
    stems={"drums": 1.0, "bass": 0.95, "keys": 0.35, "guitar": 0.95, "strings": 0.1, "pad": 0.1,
           "lead": 0.6},
    energy=(0.6, 0.95), moods=("anthemic", "raw", "rebellious", "defiant", "uplifting"),
    textures=("riff-driven", "loud", "full-band"), production=("live feel", "crunchy tones",
                                                                 "room sound", "arena-sized"),
))

_add(Genre(
    name="pop ballad", words=("pop ballad", "piano ballad", "power ballad", "emotional pop"),
    tempo=(62, 84), meters={"4/4": 0.75, "6/8": 0.15, "3/4": 0.1}, feel="straight",
    swing=(0.5, 0.5), swing_unit=8, modes={"major": 0.7, "minor": 0.3},
    progressions={"major": ("I-V-vi-IV", "I-vi-IV-V", "IV-V-iii-vi", "I-iii-vi-IV",
                            "Iadd9-V-vi-IVmaj7"),
                  "minor": ("i-bVI-bIII-bVII", "i-iv-bVII-bIII")},
    chord_bars=(1.0,), voicings=("open", "close"), grooves=("ballad", "ballad b", "six eight",
                                                          "waltz ballad"),
    busy_grooves=("ballad b",), fills=("toms", "sparse"), kits=("standard kit", "room kit"),
    bass=("root whole", "root eighths"), comp=("ballad piano", "sustain"), lead=("lyrical",),
    palette={"drums": ("standard kit", "room kit"), "bass": ("fingered bass", "fretless bass"),
             "keys": ("grand piano", "bright piano", "rhodes"),
             "guitar": ("steel guitar", "nylon guitar", "clean guitar"),
             "strings": ("string ensemble", "slow strings", "cello", "violin"),
             "pad": ("warm pad", "new age pad"),
             "lead": ("voice oohs", "flute", "clarinet", "voice lead")},
    stems={"drums": 0.6, "bass": 0.75, "keys": 0.95, "guitar": 0.3, "strings": 0.65, "pad": 0.3,
           "lead": 0.8},
    energy=(0.25, 0.7), moods=("emotional", "heartfelt", "tender", "bittersweet", "hopeful"),
    textures=("intimate", "lush", "swelling"), production=("big reverb", "gradual build",
                                                          "song-like", "polished"),
))

_add(Genre(
    name="jazz", words=("jazz", "swing jazz", "small-combo jazz", "bebop-flavoured jazz"),
    tempo=(90, 200), meters={"4/4": 0.85, "3/4": 0.15}, feel="swing", swing=(0.6, 0.68),
    swing_unit=8, modes={"major": 0.55, "minor": 0.3, "dorian": 0.15},
    progressions={"major": ("ii7-V7-Imaj7-Imaj7", "Imaj7-vi7-ii7-V7", "iii7-vi7-ii7-V7",
                            "Imaj7-IV7-iii7-VI7"),
                  "minor": ("iiø7-V7b9-i6-i6", "i7-iv7-bVII7-bIIImaj7", "i6-iiø7-V7b9-i6"),
                  "dorian": ("i7-IV7", "ii7-V7-i7")},
    chord_bars=(1.0, 2.0), voicings=("shell", "open"), grooves=("jazz ride", "jazz brushes",
                                                              "jazz waltz"),
    busy_grooves=("jazz ride",), fills=("snare roll", "sparse"), kits=("jazz kit", "brush kit"),
    bass=("walking",), comp=("jazz comp",), lead=("bebop", "lyrical"),
    palette={"drums": ("jazz kit", "brush kit"), "bass": ("acoustic bass",),
             "keys": ("grand piano", "vibraphone", "rhodes", "drawbar organ"),
             "guitar": ("jazz guitar",), "strings": ("cello",), "pad": ("warm pad",),
             "lead": ("tenor sax", "alto sax", "trumpet", "muted trumpet", "trombone",
                      "clarinet")},
    stems={"drums": 0.95, "bass": 0.95, "keys": 0.85, "guitar": 0.35, "strings": 0.05,
           "pad": 0.05, "lead": 0.8},
    energy=(0.35, 0.8), moods=("smoky", "sophisticated", "late-night", "swinging", "playful"),
    textures=("acoustic", "organic", "intimate"), production=("swing pocket", "acoustic warmth",
                                                              "live room", "small combo"),
))

_add(Genre(
    name="bossa nova", words=("bossa nova", "bossa", "Brazilian bossa", "samba-jazz"),
    tempo=(120, 145), meters={"4/4": 1.0}, feel="straight", swing=(0.5, 0.53), swing_unit=16,
    modes={"major": 0.6, "minor": 0.4},
    progressions={"major": ("Imaj7-ii7-V7-Imaj7", "Imaj7-II7-ii7-V7", "Imaj9-vi9-ii9-V13"),
                  "minor": ("i7-iv7-V7b9-i6", "iiø7-V7-i7-i6")},
    chord_bars=(1.0, 2.0), voicings=("shell", "close"), grooves=("bossa", "samba light"),
    busy_grooves=("samba light",), fills=("sparse",), kits=("brush kit", "jazz kit"),
    bass=("two feel",), comp=("bossa",), lead=("lyrical",),
    palette={"drums": ("brush kit", "jazz kit"), "bass": ("acoustic bass", "fretless bass"),
             "keys": ("grand piano", "rhodes", "vibraphone"), "guitar": ("nylon guitar",),
             "strings": ("string ensemble",), "pad": ("warm pad",),
             "lead": ("flute", "alto sax", "voice oohs", "clarinet")},
    stems={"drums": 0.85, "bass": 0.9, "keys": 0.5, "guitar": 0.95, "strings": 0.2, "pad": 0.05,
           "lead": 0.75},
    energy=(0.3, 0.6), moods=("breezy", "romantic", "sunny", "relaxed", "sensual"),
    textures=("gentle", "airy", "acoustic"), production=("gentle syncopation", "soft touch",
                                                        "intimate mix", "light percussion"),
))

_add(Genre(
    name="reggae", words=("reggae", "roots reggae", "dub-tinged reggae", "one-drop reggae"),
    tempo=(66, 84), meters={"4/4": 1.0}, feel="swing", swing=(0.54, 0.6), swing_unit=16,
    modes={"major": 0.5, "minor": 0.5},
    progressions={"major": ("I-IV", "I-IV-V-IV", "I-vi-IV-V"),
                  "minor": ("i-iv", "i-bVII", "i-bVI-bVII-i")},
    chord_bars=(1.0, 2.0), voicings=("triad", "close"), grooves=("one drop", "steppers"),
    busy_grooves=("steppers",), fills=("sparse", "toms"), kits=("standard kit", "room kit"),
    bass=("reggae",), comp=("skank",), lead=("lyrical", "hook"),
    palette={"drums": ("standard kit", "room kit"), "bass": ("fingered bass", "synth bass 2"),
             "keys": ("drawbar organ", "percussive organ", "grand piano"),
             "guitar": ("clean guitar", "muted guitar"), "strings": ("string ensemble",),
             "pad": ("warm pad",), "lead": ("trombone", "trumpet", "alto sax", "pan flute")},
    stems={"drums": 1.0, "bass": 1.0, "keys": 0.6, "guitar": 0.8, "strings": 0.05, "pad": 0.1,
           "lead": 0.55},
    energy=(0.4, 0.65), moods=("easygoing", "positive", "sunny", "rootsy", "meditative"),
    textures=("bass-heavy", "spacious", "dubby"), production=("offbeat skank", "one-drop pocket",
                                                             "deep bass", "spring reverb"),
))

_add(Genre(
    name="ambient", words=("ambient", "ambient soundscape", "drone ambient", "chill ambient"),
    tempo=(60, 90), meters={"4/4": 0.7, "3/4": 0.3}, feel="straight", swing=(0.5, 0.5),
    swing_unit=8, modes={"major": 0.3, "lydian": 0.35, "minor": 0.2, "dorian": 0.15},
    progressions={"major": ("Imaj7-IVmaj7", "Iadd9-vi7-IVmaj7-Iadd9"), "lydian": ("Imaj7-II",
                                                                               "Imaj9-II7"),
                  "minor": ("i9-bVImaj7", "i-bVII-bVI"), "dorian": ("i9-IV", "i9")},
    chord_bars=(2.0, 4.0), voicings=("open", "cluster"), grooves=("ambient pulse", "waltz"),
    busy_grooves=("ambient pulse",), fills=("sparse",), kits=("electronic kit",),
    bass=("root whole",), comp=("sustain", "arpeggio"), lead=("sparse", "lyrical"),
    palette={"drums": ("electronic kit",), "bass": ("fretless bass", "synth bass 2"),
             "keys": ("grand piano", "music box", "vibraphone", "fm piano"),
             "guitar": ("clean guitar",), "strings": ("slow strings", "choir", "harp"),
             "pad": ("new age pad", "halo pad", "bowed pad", "atmosphere", "sweep pad",
                     "choir pad"),
             "lead": ("flute", "pan flute", "voice oohs", "whistle")},
    stems={"drums": 0.15, "bass": 0.4, "keys": 0.6, "guitar": 0.1, "strings": 0.6, "pad": 1.0,
           "lead": 0.6},
    energy=(0.05, 0.35), moods=("serene", "meditative", "ethereal", "floating", "peaceful"),
    textures=("evolving", "airy", "washed-out"), production=("long reverb tails", "gentle swells",
                                                            "drones", "spacious mix"),
))

_add(Genre(
    name="cinematic", words=("cinematic", "film score", "epic orchestral", "trailer music"),
    tempo=(70, 130), meters={"4/4": 0.75, "3/4": 0.1, "6/8": 0.15}, feel="straight",
    swing=(0.5, 0.5), swing_unit=8, modes={"minor": 0.6, "harmonic minor": 0.2, "major": 0.2},
    progressions={"minor": ("i-bVI-bIII-bVII", "i-bVI-iv-V", "i-i-bVI-bVII"),
                  "harmonic minor": ("i-bVI-V-i", "i-iv-V-bVI"),
                  "major": ("I-V-vi-IV", "I-bVI-bVII-I")},
    chord_bars=(1.0, 2.0), voicings=("open",), grooves=("cinematic toms", "cinematic march",
                                                       "six eight"),
    busy_grooves=("cinematic march",), fills=("toms", "snare roll"), kits=("orchestra kit",),
    bass=("root whole", "root eighths"), comp=("sustain", "ostinato"), lead=("lyrical",),
    palette={"drums": ("orchestra kit",), "bass": ("acoustic bass",),
             "keys": ("grand piano", "church organ", "marimba"),
             "guitar": ("nylon guitar",), "strings": ("string ensemble", "cello", "choir",
                                                      "slow strings", "pizzicato", "violin"),
             "pad": ("synth brass", "bowed pad", "choir pad"),
             "lead": ("french horn", "trumpet", "oboe", "flute",
                      "voice oohs")},
    stems={"drums": 0.7, "bass": 0.6, "keys": 0.35, "guitar": 0.05, "strings": 1.0, "pad": 0.5,
           "lead": 0.8},
    energy=(0.35, 0.95), moods=("epic", "heroic", "tense", "triumphant", "dramatic"),
    textures=("orchestral", "sweeping", "massive"), production=("huge hall reverb",
                                                                "thunderous hits",
                                                                "soaring themes",
                                                                "wide orchestral mix"),
))

_add(Genre(
    name="metal", words=("metal", "heavy metal", "thrash metal", "metalcore"),
    tempo=(100, 190), meters={"4/4": 0.85, "6/8": 0.1, "3/4": 0.05}, feel="straight",
    swing=(0.5, 0.5), swing_unit=8, modes={"minor": 0.45, "phrygian": 0.35,
                                           "harmonic minor": 0.2},
    progressions={"minor": ("i-bVI-bVII-i", "i-bIII-bVII-bVI", "i-i-bVI-bVII"),
                  "phrygian": ("i-bII-i-bVII", "i-bII"), "harmonic minor": ("i-bVI-V-i",)},
    chord_bars=(0.5, 1.0), voicings=("power",), grooves=("metal", "metal half", "six eight rock"),
    busy_grooves=("metal",), fills=("toms", "kick snare"), kits=("power kit",),
    bass=("root sixteenths",), comp=("power chug",), lead=("riff",),
    palette={"drums": ("power kit", "standard kit"), "bass": ("picked bass", "fingered bass"),
             "keys": ("church organ", "rock organ"), "guitar": ("distortion guitar",
                                                                "overdrive guitar"),
             "strings": ("string ensemble", "choir"), "pad": ("synth brass",),
             "lead": ("distortion lead", "lead guitar")},
    stems={"drums": 1.0, "bass": 0.95, "keys": 0.1, "guitar": 1.0, "strings": 0.15, "pad": 0.05,
           "lead": 0.55},
    energy=(0.8, 1.0), moods=("aggressive", "furious", "dark", "relentless", "heavy"),
    textures=("wall of guitars", "dense", "crushing"), production=("double-kick assault",
                                                                   "chugging riffs",
                                                                   "tight and loud",
                                                                   "high-gain guitars"),
))

_add(Genre(
    name="r&b", words=("R&B", "neo-soul", "contemporary R&B", "quiet storm"),
    tempo=(64, 98), meters={"4/4": 0.85, "6/8": 0.15}, feel="swing", swing=(0.52, 0.6),
    swing_unit=16, modes={"minor": 0.4, "major": 0.35, "dorian": 0.25},
    progressions={"minor": ("i9-iv9-bVIImaj7-bIIImaj7", "i7-bVImaj7-iv7-V7"),
                  "major": ("Imaj9-iii7-vi9-IVmaj7", "IVmaj7-V7-iii7-vi7"),
                  "dorian": ("i9-IV13", "ii9-V13-Imaj9")},
    chord_bars=(1.0, 2.0), voicings=("cluster", "close"), grooves=("lofi", "ballad", "six eight"),
    busy_grooves=("boom bap b",), fills=("snare roll", "sparse"), kits=("standard kit", "808 kit"),
    bass=("follow kick", "syncopated"), comp=("lazy chords", "sustain"), lead=("lyrical", "hook"),
    palette={"drums": ("standard kit", "808 kit"), "bass": ("fingered bass", "synth bass 2",
                                                           "fretless bass"),
             "keys": ("rhodes", "fm piano", "grand piano"), "guitar": ("clean guitar",),
             "strings": ("string ensemble",), "pad": ("warm pad", "polysynth"),
             "lead": ("voice lead", "voice oohs", "alto sax", "synth voice")},
    stems={"drums": 0.95, "bass": 0.9, "keys": 0.9, "guitar": 0.25, "strings": 0.15, "pad": 0.35,
           "lead": 0.8},
    energy=(0.3, 0.65), moods=("sensual", "smooth", "soulful", "intimate", "late-night"),
    textures=("silky", "warm", "lush chords"), production=("extended chords", "soft touch",
                                                          "smooth low end", "polished"),
))
