"""Build the frozen real-tune set (``evals/real_tunes``) from its reserved sources.

    python -m engine.generator.real_tunes_build [--out evals/real_tunes] [--downloads DIR]
                                                 [--force]

The rules, the same for every source:

* **Which tunes**: OpenMSX files in name order, at most ``GAME_TUNES``; folk tunes in the
  sources' fixed pseudo-random order, two per (meter, mode) cell — 4/4, 3/4 and 6/8, major
  and minor — so the set spans meters and modes.
* **Which bars**: bar-aligned windows from the first downbeat, in steps of 4 bars; the first
  window that passes the gates below. 8 bars, or 4 where 8 would last over ``MAX_SECONDS``.
* **Which line**: in the window, the part ``bridge.midi_melody`` picks (the picker the engine
  uses on a producer's clip: a part named as the tune, else the highest single-voiced part
  that moves, never drums), reduced to its top notes (chords drop to the top note).
* **Gates**: the part mostly single-voiced (``MAX_POLYPHONY``), at least ``MIN_NOTES_PER_BAR``
  notes per bar, ``MIN_PITCHES`` distinct pitches, notes in all bars but one, a range of at
  most two octaves.
* **Tempo and key**: the source's tempo at the window's start; the key its source names
  (ABC K:, a MIDI key signature), else the excerpt's best-fitting key (Krumhansl-Kessler).

A set already written is frozen: the builder refuses to write into a folder that holds
anything unless ``--force`` is given, and writes a new set beside it before one rename.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import mido

from bridge.limits import MAX_BPM, MIN_BPM
from bridge.midi_melody import TickNote, choose_part, chord_spread, polyphony, read_parts, skyline
from engine.data.fetch import FetchError
from engine.generator.real_tunes import MANIFEST, TUNES_DIR, sha256_bytes
from engine.generator.real_tunes_sources import (
    ABC2MIDI_FLAGS,
    Candidate,
    bar_ticks,
    folk_candidates,
    game_candidates,
    gather,
)
from engine.melody.from_midi import tick_clock
from engine.melody.key import melody_key
from engine.melody.tokens import MelodyNote

GAME_TUNES = 12
PER_CELL = 2  # folk tunes per (meter, mode): 3 meters x 2 modes x 2 = 12
FOLK_TUNES = 12
BARS, SHORT_BARS, STEP_BARS = 8, 4, 4
MAX_SECONDS = 20.0
MAX_POLYPHONY = 0.25
MIN_NOTES_PER_BAR = 1.5
MIN_PITCHES = 5
MAX_RANGE = 24
MIN_TUNES = 24


class BuildError(RuntimeError):
    """The set cannot be built or written (the message says why)."""


@dataclass(frozen=True)
class Excerpt:
    """A tune's excerpt: its line in ticks from the window's start, and what it is."""

    candidate: Candidate
    notes: list[TickNote]
    start_bar: int
    bars: int
    tempo: int  # µs per quarter note at the window's start
    part: str

    @property
    def bpm(self) -> float:
        """The excerpt's tempo in quarter notes per minute."""
        return round(min(MAX_BPM, max(MIN_BPM, float(mido.tempo2bpm(self.tempo)))), 2)

    def key(self) -> tuple[str, str]:
        """The excerpt's key and where it came from ("source" or "estimated")."""
        if self.candidate.key:
            return self.candidate.key, "source"
        beat = 60.0 / self.bpm / self.candidate.midi.ticks_per_beat
        notes = [MelodyNote(n.start * beat, n.end * beat, n.pitch) for n in self.notes]
        return melody_key(notes), "estimated"


def excerpt(candidate: Candidate) -> Excerpt | None:
    """The first window of `candidate` whose picked line passes the gates, or None."""
    midi = candidate.midi
    bar = bar_ticks(midi.ticks_per_beat, candidate.meter)
    spread = chord_spread(midi.ticks_per_beat)
    parts = read_parts(midi.tracks)
    end = max((n.end for p in parts for n in p.notes), default=0)
    seconds = tick_clock(midi)
    start = candidate.downbeat
    while start + SHORT_BARS * bar <= end:
        bars = BARS if seconds(start + BARS * bar) - seconds(start) <= MAX_SECONDS else SHORT_BARS
        stop = start + bars * bar
        cut = [replace(p, notes=tuple(_cut(p.notes, start, stop))) for p in parts]
        chosen = choose_part([p for p in cut if p.notes], spread)
        if chosen is not None:
            line = skyline(chosen.notes, spread)
            if passes(line, polyphony(chosen.notes, spread), bars, bar):
                return Excerpt(candidate, line, (start - candidate.downbeat) // bar, bars,
                               _tempo_at(midi, start), chosen.label)
        start += STEP_BARS * bar
    return None


def passes(line: Sequence[TickNote], chords: float, bars: int, bar: int) -> bool:
    """Whether a window's line is a tune to follow (the gates in the module's docstring)."""
    if not line or chords > MAX_POLYPHONY or len(line) < MIN_NOTES_PER_BAR * bars:
        return False
    pitches = [n.pitch for n in line]
    sounding_bars = {n.start // bar for n in line}
    return (len(set(pitches)) >= MIN_PITCHES and len(sounding_bars) >= bars - 1
            and max(pitches) - min(pitches) <= MAX_RANGE)


def _cut(notes: Iterable[TickNote], start: int, stop: int) -> list[TickNote]:
    """The notes that start in [start, stop), moved to start at 0, cut at the window's end."""
    return [TickNote(n.start - start, min(n.end, stop) - start, n.channel, n.pitch, n.velocity)
            for n in notes if start <= n.start < stop]


def _tempo_at(midi: mido.MidiFile, tick: int) -> int:
    """µs per quarter note in force at `tick` (the last change at or before it)."""
    changes = sorted((now, m.tempo) for now, m in _timed(midi) if m.type == "set_tempo")
    tempo = 500000
    for now, value in changes:
        if now > tick:
            break
        tempo = value
    return tempo


def _timed(midi: mido.MidiFile) -> Iterable[tuple[int, mido.Message]]:
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            yield now, message


def choose(candidates: Iterable[Candidate], limit: int, per_cell: int | None = None
           ) -> list[Excerpt]:
    """Excerpts of the first candidates that yield one, at most `limit`; with `per_cell`, at
    most that many per (meter, mode)."""
    chosen: list[Excerpt] = []
    taken: Counter[tuple[str, str]] = Counter()
    for candidate in candidates:
        cell = (candidate.meter, candidate.key.split(" ")[-1])
        if per_cell is not None and taken[cell] >= per_cell:
            continue
        found = excerpt(candidate)
        if found is None:
            continue
        chosen.append(found)
        taken[cell] += 1
        if len(chosen) >= limit:
            break
    return chosen


def excerpt_midi(found: Excerpt) -> bytes:
    """A type-0 MIDI file of the excerpt: its meter, tempo and line, ending on its last bar."""
    tpb = found.candidate.midi.ticks_per_beat
    numerator, denominator = (int(x) for x in found.candidate.meter.split("/"))
    events = sorted([(n.start, 1, n.pitch, n.velocity) for n in found.notes]
                    + [(n.end, 0, n.pitch, 0) for n in found.notes])
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name="melody", time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator,
                         time=0),
        mido.MetaMessage("set_tempo", tempo=found.tempo, time=0)])
    now = 0
    for tick, on, pitch, velocity in events:
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    end = found.bars * bar_ticks(tpb, found.candidate.meter)
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    out = mido.MidiFile(type=0, ticks_per_beat=tpb)
    out.tracks.append(track)
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


def manifest_row(found: Excerpt, data: bytes) -> dict:
    """The manifest's row for one excerpt written as `data`."""
    candidate = found.candidate
    key, key_from = found.key()
    pitches = [n.pitch for n in found.notes]
    return {"id": candidate.id, "file": f"tunes/{candidate.id}.mid", "sha256": sha256_bytes(data),
            "kind": candidate.kind, "source": candidate.source, "licence": candidate.licence,
            "bars": found.bars, "start_bar": found.start_bar + 1, "meter": candidate.meter,
            "bpm": found.bpm, "key": key, "key_from": key_from, "part": found.part,
            "notes": len(found.notes), "range": max(pitches) - min(pitches)}


def write_set(excerpts: Sequence[Excerpt], out: Path, header: dict, force: bool = False
              ) -> Path:
    """Write the excerpts and their manifest as the set `out`: built in a sibling folder and
    renamed into place, so a reader never sees half a set. A folder that holds anything is
    frozen: BuildError unless `force`."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise BuildError(f"{out} already holds a frozen set: pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's folder is private; the set is for everyone to read
    try:
        (staging / "tunes").mkdir()
        rows = []
        for found in excerpts:
            data = excerpt_midi(found)
            row = manifest_row(found, data)
            (staging / row["file"]).write_bytes(data)
            rows.append(row)
        manifest = {**header, "tunes": rows}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def build(out: Path, downloads: Path, force: bool = False) -> dict:
    """Fetch the sources, choose the excerpts and write the set; a short summary."""
    if out.exists() and any(out.iterdir()) and not force:  # refuse before downloading
        raise BuildError(f"{out} already holds a frozen set: pass --force to replace it")
    with tempfile.TemporaryDirectory() as scratch:
        material = gather(downloads, Path(scratch))
        excerpts = (choose(game_candidates(material), GAME_TUNES)
                    + choose(folk_candidates(material), FOLK_TUNES, PER_CELL))
    if len(excerpts) < MIN_TUNES:
        raise BuildError(f"only {len(excerpts)} excerpts passed the gates (want {MIN_TUNES})")
    header = {"name": "real_tunes", "purpose": "evaluation only: melody following on real "
              "tunes (never train, tune or choose settings on it)",
              "built_by": "python -m engine.generator.real_tunes_build",
              "sources": material.versions, "rules": {
                  "described_in": "engine/generator/real_tunes_build.py",
                  "game_tunes": GAME_TUNES, "folk_tunes": FOLK_TUNES, "per_cell": PER_CELL,
                  "bars": BARS, "short_bars": SHORT_BARS, "step_bars": STEP_BARS,
                  "max_seconds": MAX_SECONDS, "max_polyphony": MAX_POLYPHONY,
                  "min_notes_per_bar": MIN_NOTES_PER_BAR, "min_pitches": MIN_PITCHES,
                  "max_range": MAX_RANGE, "abc2midi": " ".join(ABC2MIDI_FLAGS)}}
    write_set(excerpts, out, header, force)
    kinds = [e.candidate.kind for e in excerpts]
    return {"out": str(out), "tunes": len(excerpts), "game": kinds.count("game"),
            "folk": kinds.count("folk")}


def main(argv: list[str] | None = None) -> int:
    """Command line: build the set (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m engine.generator.real_tunes_build",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=TUNES_DIR, help="the set's folder "
                        "(default: evals/real_tunes)")
    parser.add_argument("--downloads", type=Path, default=Path("runs/real_tunes_downloads"),
                        help="where the .debs and the wheel are kept (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="replace a set already there")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(build(args.out, args.downloads, args.force)))
    except (BuildError, FetchError) as error:
        print(f"real_tunes_build: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
