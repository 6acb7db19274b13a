"""MMA (Musical MIDI Accompaniment, Debian's `mma`, GPL-2+) as the mma recipe's accompanist.

For a composed song's chords, `write_mma` writes an .mma file (tempo, time signature, key,
one groove per section, one chord per MMA beat), `run_mma` runs MMA's own Python program on it
(from a `stemloom data fetch mma` folder, else the system's /usr/share/mma) and `accompaniment`
turns the MIDI it writes into notes per stem family.

Which grooves a genre gets, per meter, is the stated table GENRE_GROOVES (files of MMA's
stdlib); a file's named grooves are all used except intros, endings, fills and breaks. MMA
writes a bar of `Time` beats of one MIDI quarter each; the notes are rescaled so that its bar
is our bar (a 6/8 groove in 6 eighths or 2 dotted quarters becomes 3 quarter notes).
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido

from engine.corpus.song import METER_BEATS, ChordSpan, Note
from engine.corpus.theory import Key

SYSTEM_MMA = Path("/usr/share/mma")
FETCHED_MMA = Path("mma/usr/share/mma")  # under a `stemloom data fetch mma --dest DIR` folder
# MMA's start script reads MMAdir and platform from __main__; this launcher sets both.
LAUNCHER = ("import sys; MMAdir = sys.argv[1]; platform = 'Linux'; sys.path.insert(0, MMAdir); "
            "sys.argv = ['mma'] + sys.argv[2:]; import MMA.main")
TIMEOUT_S = 60

# Genre -> meter -> MMA stdlib groove files. Chosen by name and documentation to sit near the
# genre (MMA has no trap, techno or drum-and-bass grooves: trance and fusion stand in).
GENRE_GROOVES: dict[str, dict[str, tuple[str, ...]]] = {
    "lo-fi hip hop": {"4/4": ("rb", "slowjazz", "mellowjazz", "evansish", "rb-ballad")},
    "boom bap": {"4/4": ("rb", "dsoul", "strut")},
    "trap": {"4/4": ("trance", "dsoul")},
    "house": {"4/4": ("trance", "boneym")},
    "techno": {"4/4": ("trance",)},
    "drum and bass": {"4/4": ("trance", "lfusion")},
    "synthwave": {"4/4": ("8beat", "softrock")},
    "funk": {"4/4": ("bvfunk", "dsoul", "strut")},
    "disco": {"4/4": ("boneym", "8beat")},
    "rock": {"4/4": ("basicrock", "50srock", "60srock", "folkrock", "bubblerock", "softrock"),
             "3/4": ("rockwaltz",), "6/8": ("blues68",)},
    "pop ballad": {"4/4": ("popballad", "ballad", "rockballad", "pianoballad", "stringballad",
                           "guitarballad"),
                   "3/4": ("waltz", "countrywaltz"), "6/8": ("arpeggio68", "68swing")},
    "jazz": {"4/4": ("swing", "jazzcombo", "bebop", "easyswing", "fastswing", "jazzguitar",
                     "modernjazz", "nitejazz"),
             "3/4": ("jazzwaltz", "modernjazzwaltz", "fastjazzwaltz")},
    "bossa nova": {"4/4": ("bossanova",)},
    "reggae": {"4/4": ("ska", "calypso")},
    "ambient": {"4/4": ("arpeggio44", "lullaby", "hymn"), "3/4": ("arpeggiowaltz",)},
    "cinematic": {"4/4": ("broadway", "stringballad", "hymn"),
                  "3/4": ("vienesewaltz", "broadwaywaltz"), "6/8": ("68march", "arpeggio68")},
    "metal": {"4/4": ("basicrock", "60srock", "jazzrock"), "3/4": ("rockwaltz",),
              "6/8": ("blues68",)},
    "r&b": {"4/4": ("rb", "rb-ballad", "dsoul"), "6/8": ("blues68", "arpeggio68")},
}
# MMA beats per bar that fit each of our meters (6/8 grooves come in 6 eighths or 2 beats).
METER_TIMES = {"4/4": (4,), "3/4": (3,), "6/8": (6, 2)}
SWING_MIN_NOTES = 8
SWUNG = 0.58  # a measured off-beat position from here on is a swing feel
SKIPPED = re.compile(r"intro|end|fill|break|-44|count|metronome", re.I)
# Our chord qualities that MMA spells otherwise.
MMA_QUALITIES = {"madd9": "m(add9)", "6/9": "69"}
# GM program ranges (0-based, end exclusive) -> the family of a pitched accompaniment track.
PROGRAM_FAMILIES = ((0, 24, "keys"), (24, 32, "guitar"), (32, 40, "bass"), (40, 80, "strings"),
                    (80, 88, "keys"), (88, 104, "pad"), (104, 112, "guitar"),
                    (112, 120, "keys"))
ACCOMPANIMENT = ("keys", "guitar", "strings", "pad")
# The style words an accompaniment stem gets from the kind of its busiest MMA track.
TRACK_STYLES = {"drum": "steady groove", "walk": "walking", "bass": "groove bass line",
                "chord": "groove chords", "arpeggio": "arpeggio", "plectrum": "strum",
                "scale": "scale runs", "aria": "arpeggio", "solo": "countermelody",
                "melody": "countermelody"}


class MmaError(RuntimeError):
    """MMA is missing or refused a file (the message says which and why)."""


@dataclass(frozen=True)
class Groove:
    """A named MMA groove: its file (relative to MMA's lib folder) and beats per bar."""

    name: str
    file: str
    time: int


def locate(midi_root: Path | None) -> Path | None:
    """MMA's folder (the one holding MMA/ and lib/): fetched under `midi_root`, else the
    system's; None when neither is there."""
    for folder in ([midi_root / FETCHED_MMA] if midi_root else []) + [SYSTEM_MMA]:
        if (folder / "MMA" / "main.py").is_file() and (folder / "lib").is_dir():
            return folder
    return None


@functools.lru_cache(maxsize=4)
def library(mma_dir: Path) -> dict[str, Groove]:
    """Every named groove of MMA's stdlib, by lower-case name (read from the DefGroove lines
    and the Time in force where each is defined)."""
    grooves: dict[str, Groove] = {}
    for path in sorted((mma_dir / "lib" / "stdlib").glob("*.mma")):
        time = 4
        for line in path.read_text(encoding="latin-1").splitlines():
            words = line.split("//")[0].split()
            if len(words) < 2:
                continue
            command = words[0].lower()
            if command == "time" and words[1].split("/")[0].isdigit():
                time = int(words[1].split("/")[0])
            elif command == "defgroove":
                grooves[words[1].lower()] = Groove(words[1], f"stdlib/{path.stem}", time)
    return grooves


def grooves_for(genre: str, meter: str, mma_dir: Path) -> list[Groove]:
    """The named grooves GENRE_GROOVES gives `genre` in `meter` (fitting beats per bar, no
    intros, endings, fills or breaks), in a fixed order."""
    files = {f"stdlib/{name}" for name in GENRE_GROOVES[genre].get(meter, ())}
    return [g for g in library(mma_dir).values()
            if g.file in files and g.time in METER_TIMES[meter] and not SKIPPED.search(g.name)]


def mma_chord(symbol_root: str, quality: str) -> str:
    """A chord symbol spelled as MMA reads it."""
    return symbol_root + MMA_QUALITIES.get(quality, quality)


def write_mma(bpm: float, meter: str, key: Key, bars: int, chords: list[ChordSpan],
              grooves: list[tuple[int, Groove]], seed: int) -> str:
    """The .mma text for a song: `grooves` are (first bar, groove) pairs in bar order; each
    bar lists one chord per MMA beat ('/' repeats the one before)."""
    from engine.corpus.theory import NOTE_NAMES

    numerator, denominator = meter.split("/")
    bar_beats = METER_BEATS[meter]
    lines = [f"// stemloom mma recipe, seed {seed}", f"RndSeed {seed}",
             f"Tempo {bpm * grooves[0][1].time / bar_beats:g}",
             f"KeySig {NOTE_NAMES[key.tonic]} {'Minor' if key.is_minor else 'Major'}"]
    starts = dict(grooves)
    for bar in range(bars):
        if bar in starts:
            groove = starts[bar]
            lines += [f"Use {groove.file}", f"Groove {groove.name}",
                      f"TimeSig {numerator} {denominator}"]
        time = max(g.time for b, g in grooves if b <= bar)
        tokens, last = [], ""
        for beat in range(time):
            position = (bar + beat / time) * bar_beats + 1e-6
            span = next((c for c in chords if c.start <= position < c.start + c.length),
                        chords[-1])
            name = mma_chord(NOTE_NAMES[span.chord.root], span.chord.quality)
            tokens.append(name if name != last else "/")
            last = name
        lines.append(f"{bar + 1} " + " ".join(tokens))
    return "\n".join(lines) + "\n"


def run_mma(text: str, mma_dir: Path) -> mido.MidiFile:
    """Run MMA on .mma `text`; the MIDI file it writes. MmaError with MMA's own message when
    it refuses the file."""
    with tempfile.TemporaryDirectory(prefix="stemloom-mma-") as work:
        source, target = Path(work) / "song.mma", Path(work) / "song.mid"
        source.write_text(text, encoding="utf-8")
        settings = Path(work) / "mmarc"  # empty: ~/.mmarc or /etc/mmarc must not change a song
        settings.write_text("", encoding="utf-8")
        try:
            result = subprocess.run([sys.executable, "-c", LAUNCHER, str(mma_dir), "-i",
                                     str(settings), str(source), "-f", str(target)],
                                    capture_output=True, text=True,
                                    timeout=TIMEOUT_S, check=False, cwd=work)
        except subprocess.TimeoutExpired as err:
            raise MmaError(f"MMA ran over {TIMEOUT_S} s") from err
        said = result.stdout + result.stderr
        error = said.find("Error")  # MMA's message runs on over the next lines
        if result.returncode != 0 or error >= 0 or not target.is_file():
            words = " ".join(said[max(error, 0):].split())
            raise MmaError(f"MMA refused the file: {words[:400]}")
        return mido.MidiFile(target)


def track_family(name: str, program: int | None, channel: int) -> str | None:
    """The stem family of an MMA track, from its name (Drum-*, Bass-*, Walk-*) or, for
    pitched accompaniment (Chord-*, Arpeggio-*, Plectrum-*, Scale-*, Aria-*, ...), from its
    GM program; None for sound effects (programs 120-127)."""
    kind = name.split("-")[0].strip().lower()
    if kind == "drum" or channel == 9:
        return "drums"
    if kind in ("bass", "walk"):
        return "bass"
    if program is None:
        return "keys"  # MMA's default voice is a piano
    return next((family for low, high, family in PROGRAM_FAMILIES if low <= program < high),
                None)


@dataclass
class TrackNotes:
    """One MMA track's notes in our beats, with its name and family."""

    name: str
    family: str
    notes: list[Note]


def accompaniment(midi: mido.MidiFile, time: int, bar_beats: float,
                  total_beats: float) -> list[TrackNotes]:
    """The note tracks of MMA's MIDI with their families; MMA's bar of `time` beats becomes
    `bar_beats` quarter notes; notes are cut at `total_beats`."""
    scale = bar_beats / time / midi.ticks_per_beat
    tracks: list[TrackNotes] = []
    for track in midi.tracks:
        name, program, channel = "", None, 0
        now = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}
        notes: list[Note] = []
        for message in track:
            now += message.time
            if message.type == "track_name":
                name = message.name
            elif message.type == "program_change" and program is None:
                program = message.program
            elif message.type == "note_on" and message.velocity > 0:
                channel = message.channel
                sounding[(message.channel, message.note)] = (now, message.velocity)
            elif message.type in ("note_on", "note_off"):
                begun = sounding.pop((message.channel, message.note), None)
                if begun is not None:
                    start = begun[0] * scale
                    if start < total_beats:
                        end = min(now * scale, total_beats)
                        notes.append(Note(start, max(0.02, end - start), message.note,
                                          begun[1]))
        family = track_family(name, program, channel)
        if notes and family is not None:
            tracks.append(TrackNotes(name or f"track {len(tracks) + 1}", family, notes))
    return tracks


def measured_swing(tracks: list[TrackNotes]) -> float:
    """Where the off-beat eighths fall within the beat (median; 0.5 straight, about 0.67 for
    a triplet swing), measured on what MMA played: MMA writes swing into its patterns'
    note positions, not as a setting. 0.5 when fewer than SWING_MIN_NOTES off-beats."""
    offbeats = sorted(n.start % 1.0 for t in tracks for n in t.notes
                      if 0.4 < n.start % 1.0 < 0.72)  # 16ths at 0.75 are not swing
    if len(offbeats) < SWING_MIN_NOTES:
        return 0.5
    return round(float(offbeats[len(offbeats) // 2]), 3)


def style_of(tracks: list[TrackNotes]) -> str:
    """The style words of a stem made of MMA `tracks`: those of its busiest track's kind."""
    busiest = max(tracks, key=lambda t: len(t.notes))
    return TRACK_STYLES.get(busiest.name.split("-")[0].strip().lower(), "groove chords")
