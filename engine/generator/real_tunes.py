"""The frozen set of real tunes that melody following is measured on (``evals/real_tunes``).

Short monophonic excerpts of tunes no one here wrote — game melodies from ``openttd-openmsx``
and folk tunes from music21's corpus, both reserved for evaluation and never trained on —
stored as small MIDI files beside a manifest that names each one's source, licence, bars,
meter, tempo, key and sha256. ``engine.generator.real_tunes_build`` made them; this module
reads them back and refuses a set whose files are not the ones its manifest names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import mido

from bridge.timing import quarters_per_bar
from engine.melody.from_midi import midi_melody
from engine.melody.tokens import MelodyNote

TUNES_DIR = Path(__file__).resolve().parents[2] / "evals" / "real_tunes"
MANIFEST = "manifest.json"


class RealTunesError(ValueError):
    """A tune set that cannot be used: missing, unreadable, or not matching its manifest."""


@dataclass(frozen=True)
class Tune:
    """One tune of the set, as its manifest row describes it."""

    id: str
    kind: str  # "game" or "folk"
    path: Path
    bars: int
    meter: str
    bpm: float
    key: str
    source: dict

    def notes(self, bars: int | None = None) -> list[MelodyNote]:
        """The tune's notes in seconds at its own tempo, cut to its first `bars` bars."""
        midi = mido.MidiFile(self.path)
        length = min(bars or self.bars, self.bars) * quarters_per_bar(self.meter) * 60 / self.bpm
        return [MelodyNote(n.start, min(n.end, length), n.pitch)
                for n in midi_melody(midi, self.bpm) if n.start < length - 1e-9]


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def read_manifest(folder: Path) -> dict:
    """The set's manifest (RealTunesError when it is missing or not JSON)."""
    path = folder / MANIFEST
    try:
        manifest: dict = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RealTunesError(f"{folder} holds no {MANIFEST}: not a tune set") from None
    except (OSError, ValueError) as error:
        raise RealTunesError(f"{path} cannot be read: {error}") from None
    return manifest


def load_tunes(folder: Path = TUNES_DIR) -> list[Tune]:
    """Every tune of the set in manifest order, after checking that each file is there with
    the sha256 the manifest names and that no unlisted MIDI file lies beside them."""
    manifest = read_manifest(folder)
    rows = manifest.get("tunes") if isinstance(manifest, dict) else None
    if not isinstance(rows, list):
        raise RealTunesError(f"{folder / MANIFEST} has no list of tunes")
    tunes, problems, listed = [], [], set()
    for number, row in enumerate(rows, 1):
        try:
            path = folder / row["file"]
            listed.add(path)
            if folder.resolve() not in path.resolve().parents:
                problems.append(f"{row['file']} lies outside the set")
            elif not path.is_file():
                problems.append(f"{row['file']} is missing")
            elif sha256_bytes(path.read_bytes()) != row["sha256"]:
                problems.append(f"{row['file']} differs from the manifest (sha256)")
            else:
                tunes.append(Tune(row["id"], row["kind"], path, int(row["bars"]), row["meter"],
                                  float(row["bpm"]), row["key"], row["source"]))
        except (KeyError, TypeError, ValueError) as error:
            problems.append(f"tune {number} of the manifest is malformed ({error!r})")
    problems += [f"{p.relative_to(folder)} is not in the manifest"
                 for p in sorted(folder.rglob("*.mid")) if p not in listed]
    if problems:
        raise RealTunesError(f"the tune set {folder} is not as frozen: " + "; ".join(problems))
    if not tunes:
        raise RealTunesError(f"the tune set {folder} lists no tunes")
    return tunes
