"""Where the real tunes come from: the raw material ``real_tunes_build`` cuts excerpts from.

* ``openttd-openmsx`` (Debian): OpenTTD's MIDI game music, one candidate per file.
* music21's bundled corpus (its wheel from PyPI, read as a zip, never installed): folk tunes
  in ABC from O'Neill's collection and Ryan's Mammoth Collection, turned into MIDI by
  ``abc2midi`` (Debian's ``abcmidi``, unpacked, not installed), one candidate per tune.

Both sources are reserved for evaluation (``engine.data.reserved``): ``stemloom data fetch``
refuses them as training data. Building an evaluation set is what they are kept for, so this
module downloads them itself (``apt-get download``, ``pip download``) and nothing it writes
is ever read by training.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mido

from bridge.keys import UnknownKey, canonical_key
from engine.data.fetch import FetchError, apt_downloader, deb_field, licence_line

OPENMSX = "openttd-openmsx"
ABCMIDI = "abcmidi"
MUSIC21 = "music21==10.5.1"
MIDI_FOLDER = "usr/share/games/openttd/baseset/openmsx"
# The folk collections read: tunes printed in the 19th and early 20th century (public
# domain), transcribed to ABC by the people each tune's Z: field names.
FOLK_COLLECTIONS = ("oneills1850", "ryansMammoth")
MUSIC21_LICENCE = ("public-domain tune; ABC transcription distributed in music21's corpus "
                   "(music21/corpus/license.txt: out of copyright or licensed for use)")
# ABC meters kept, as the generator's meter condition names them (C is common time).
ABC_METERS = {"C": "4/4", "4/4": "4/4", "3/4": "3/4", "6/8": "6/8"}
# ABC's mode abbreviations, spelled out for bridge.keys.
ABC_MODES = {"dor": "dorian", "mix": "mixolydian", "lyd": "lydian", "phr": "phrygian",
             "loc": "locrian", "aeo": "aeolian", "ion": "ionian", "maj": "major",
             "min": "minor"}
# abc2midi: one file per tune, guitar chords, grace notes and fermatas left out (the tune
# itself, as someone would play or hum it), quarter = 100 where the tune gives no Q:.
ABC2MIDI_FLAGS = ("-NGUI", "-NGRA", "-NFER", "-silent", "-Q", "100")


@dataclass(frozen=True)
class Candidate:
    """One piece an excerpt may be cut from: its MIDI, meter, the tick of its first downbeat
    (after an ABC tune's pickup), the key its source names ("" when none) and where it came
    from."""

    id: str
    kind: str  # "game" or "folk"
    midi: mido.MidiFile
    meter: str
    downbeat: int
    key: str
    source: dict
    licence: str


@dataclass(frozen=True)
class Material:
    """The unpacked sources: the OpenMSX files, the music21 wheel, abc2midi and versions."""

    openmsx: Path
    openmsx_licence: str
    wheel: Path
    abc2midi: Path
    versions: dict[str, str]


def gather(downloads: Path, scratch: Path) -> Material:
    """Download (or reuse from `downloads`) the two .debs and the music21 wheel and unpack
    the .debs under `scratch`."""
    downloads.mkdir(parents=True, exist_ok=True)
    versions, roots = {}, {}
    for package in (OPENMSX, ABCMIDI):
        deb = apt_downloader(package, downloads)
        versions[package] = deb_field(deb, "Version")
        roots[package] = scratch / package
        subprocess.run(["dpkg-deb", "-x", str(deb), str(roots[package])], check=True)
    wheel = _music21_wheel(downloads)
    versions["music21"] = wheel.name.split("-")[1]
    licence = licence_line(roots[OPENMSX] / f"usr/share/doc/{OPENMSX}/copyright")
    return Material(roots[OPENMSX] / MIDI_FOLDER, licence, wheel,
                    roots[ABCMIDI] / "usr/bin/abc2midi", versions)


def _music21_wheel(downloads: Path) -> Path:
    """music21's wheel (``pip download``, no dependencies, nothing installed)."""
    name, version = MUSIC21.split("==")
    wheel = downloads / f"{name}-{version}-py3-none-any.whl"
    if not wheel.is_file():
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", MUSIC21, "-d", str(downloads)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wheel.is_file():
            raise FetchError(f"pip download {MUSIC21} failed: {done.stderr.strip()[-300:]}")
    return wheel


def game_candidates(material: Material) -> Iterator[Candidate]:
    """Every OpenMSX MIDI file (by name) in a meter the generator knows (4/4 when the file
    names none, as the MIDI standard says)."""
    version = material.versions[OPENMSX]
    for path in sorted(material.openmsx.glob("*.mid")):
        midi = mido.MidiFile(path)
        signatures = [m for t in midi.tracks for m in t if m.type == "time_signature"]
        meter = (f"{signatures[0].numerator}/{signatures[0].denominator}" if signatures
                 else "4/4")
        keys = [m.key for t in midi.tracks for m in t if m.type == "key_signature"]
        if meter in ABC_METERS.values():
            yield Candidate(f"openmsx-{path.stem}", "game", midi, meter, 0,
                            _key_or_empty(keys[0] if keys else ""),
                            {"package": OPENMSX, "version": version,
                             "file": f"{MIDI_FOLDER}/{path.name}"}, material.openmsx_licence)


def folk_candidates(material: Material) -> Iterator[Candidate]:
    """The tunes of the folk collections in a fixed pseudo-random order (sha256 of file and
    tune number: no collection's first pages dominate), in a kept meter and a named key."""
    with zipfile.ZipFile(material.wheel) as wheel:
        tunes = []
        for name in sorted(wheel.namelist()):
            parts = name.split("/")
            if len(parts) == 4 and parts[2] in FOLK_COLLECTIONS and name.endswith(".abc"):
                text = wheel.read(name).decode("latin-1")
                tunes += [(name, header, body) for header, body in split_abc(text)]
    tunes.sort(key=lambda t: hashlib.sha256(f"{t[0]}#{t[1]['X']}".encode()).hexdigest())
    for name, header, body in tunes:
        meter = ABC_METERS.get(header.get("M", "").replace(" ", ""))
        key = abc_key(header.get("K", ""))
        if meter is None or not key:
            continue
        with tempfile.TemporaryDirectory() as scratch:
            converted = abc_to_midi(material.abc2midi, header, body, Path(scratch))
            if converted is None:
                continue
            midi, downbeat = converted
        collection, stem = name.split("/")[2], Path(name).stem
        yield Candidate(f"{collection}-{stem}-x{header['X']}", "folk", midi, meter, downbeat, key,
                        {"package": "music21", "version": material.versions["music21"],
                         "file": name, "tune": f"X:{header['X']} {header.get('T', '')}".strip(),
                         "abc_key": header.get("K", ""), "abc_meter": header.get("M", "")},
                        MUSIC21_LICENCE)


def split_abc(text: str) -> list[tuple[dict[str, str], str]]:
    """The tunes of an ABC file: each one's header fields (the first of each letter, up to
    and including K:) and its body."""
    tunes = []
    for chunk in re.split(r"^(?=X:)", text, flags=re.M):
        if not chunk.startswith("X:"):
            continue
        header: dict[str, str] = {}
        lines = chunk.splitlines()
        for index, line in enumerate(lines):
            found = re.match(r"^([A-Za-z]):\s*(.*?)\s*$", line)
            if found is None:
                continue
            header.setdefault(found.group(1), found.group(2))
            if found.group(1) == "K":
                tunes.append((header, "\n".join(lines[index + 1:])))
                break
    return tunes


def abc_key(field: str) -> str:
    """An ABC K: field as a bridge key name ("Ador" -> "A minor"), "" for none or unknown."""
    found = re.match(r"^\s*([A-Ga-g][#b]?)\s*([A-Za-z]*)", field)
    if found is None:
        return ""
    mode = found.group(2).lower()
    return _key_or_empty(f"{found.group(1)} {ABC_MODES.get(mode[:3], mode) if mode else ''}")


def _key_or_empty(text: str) -> str:
    try:
        return canonical_key(text)
    except UnknownKey:
        return ""


def first_bar(body: str) -> str:
    """The notes of an ABC body's first bar (what stands before the first bar line, once
    leading bar lines and repeat marks are stepped over; comments and fields left out)."""
    music = " ".join(line.split("%")[0] for line in body.splitlines()
                     if not re.match(r"^[A-Za-z]:", line))
    music = re.sub(r'"[^"]*"|![^!]*!|\{[^}]*\}', " ", music)  # annotations, ornaments, graces
    music = music.lstrip(" \t|:[]1\\")
    return music.split("|")[0]


def abc_to_midi(abc2midi: Path, header: dict[str, str], body: str, scratch: Path
                ) -> tuple[mido.MidiFile, int] | None:
    """The tune as MIDI and the tick of its first downbeat (after the pickup, when the first
    bar is shorter than a bar), or None when abc2midi cannot read it."""
    head = "".join(f"{k}:{v}\n" for k, v in header.items() if k not in "XK") + f"K:{header['K']}\n"
    whole = _convert(abc2midi, head + body, scratch / "whole")
    # A marker note after the first bar: from the first onset to its onset is the bar's
    # length (note ends would not say it: staccato and the like shorten them).
    opening = _convert(abc2midi, head + first_bar(body) + "|C|\n", scratch / "first")
    if whole is None or opening is None:
        return None
    onsets = sorted(tick for tick, _ in _note_onsets(opening))
    if len(onsets) < 2:
        return None
    first = onsets[0] * whole.ticks_per_beat // opening.ticks_per_beat
    length = (onsets[-1] - onsets[0]) * whole.ticks_per_beat // opening.ticks_per_beat
    bar = bar_ticks(whole.ticks_per_beat, ABC_METERS[header["M"].replace(" ", "")])
    if length > bar:
        return None
    return whole, first + (length if length < bar else 0)


def bar_ticks(ticks_per_beat: int, meter: str) -> int:
    """Ticks in one bar of `meter`."""
    numerator, denominator = (int(x) for x in meter.split("/"))
    return int(Fraction(ticks_per_beat * 4 * numerator, denominator))


def _convert(abc2midi: Path, abc: str, stem: Path) -> mido.MidiFile | None:
    source, target = stem.with_suffix(".abc"), stem.with_suffix(".mid")
    source.write_text("X:1\n" + abc, encoding="latin-1")
    subprocess.run([str(abc2midi), str(source), "1", "-o", str(target), *ABC2MIDI_FLAGS],
                   capture_output=True, check=False, timeout=60)
    if not target.is_file():
        return None
    try:
        return mido.MidiFile(file=io.BytesIO(target.read_bytes()))
    except (OSError, EOFError, ValueError, KeyError, IndexError):
        return None


def _note_onsets(midi: mido.MidiFile) -> Iterator[tuple[int, int]]:
    """(absolute tick, note) of every sounding note-on in the file."""
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                yield now, message.note
