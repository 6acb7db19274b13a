"""Tunes in ABC notation from a fetched Debian package, turned into MIDI files the corpus reads.

    stemloom data prepare-abc DEST

`stemloom data fetch abcmidi --dest DEST` keeps the .abc files the source table names (a
source of kind "abc"). This step turns every tune of every fetched .abc file (one per X:
field) in a meter the corpus knows (4/4, 3/4, 6/8) into its own MIDI file, with the system's
abc2midi (Debian's abcmidi: scripts/install-system-deps installs it) and the flags the frozen
real-tune set used (real_tunes_sources.ABC2MIDI_FLAGS). A tune with a pickup is delayed so its
first downbeat falls on a bar line (a MIDI file's bars count from its first tick).

The MIDI file of tune X:n of ``DEST/P/.../f.abc`` is ``DEST/P/.../f.abc.d/xn.mid``; its
manifest row names the package, version and licence of the .abc, the MIDI file's own sha256,
and ``converted_from`` (the .abc's path and sha256, the tune's X: and title, abc2midi's
version and flags). The rows live in ``DEST/.state/P.abc2midi.rows.jsonl`` beside the fetch's
own, so ``read_manifest`` lists them (refusing reserved packages) and a rerun rewrites them.
After re-fetching a package, run this again.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mido

from engine.data.fetch import (
    ABC_STEP,
    STATE,
    read_manifest,
    refresh_manifest,
    sha256_of,
    write_atomic,
)
from engine.generator.real_tunes_sources import (
    ABC2MIDI_FLAGS,
    ABC_METERS,
    abc_to_midi,
    bar_ticks,
    split_abc,
)


class AbcError(RuntimeError):
    """The tunes cannot be converted (no abc2midi; the message says what to do)."""


@dataclass
class Converted:
    """What one run made: MIDI files by meter, and the tunes left out with why."""

    by_meter: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    sources: int = 0  # .abc files listed in the manifest


def find_abc2midi() -> Path:
    """The installed abc2midi; AbcError when there is none."""
    found = shutil.which("abc2midi")
    if found is None:
        raise AbcError("abc2midi is not installed (apt-get install abcmidi; "
                       "scripts/install-system-deps installs it)")
    return Path(found)


def abc2midi_version(abc2midi: Path) -> str:
    """abc2midi's version line ("4.84 January 20 2023"); AbcError when it does not run."""
    try:
        done = subprocess.run([str(abc2midi), "-ver"], capture_output=True, text=True,
                              check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AbcError(f"{abc2midi} does not run ({error})") from error
    return done.stdout.strip().removesuffix("abc2midi").strip()


def on_the_bar(midi: mido.MidiFile, downbeat: int, meter: str) -> mido.MidiFile:
    """`midi` delayed so that tick `downbeat` falls on a bar line: every track's events from
    its first non-meta message on move later by the same amount (a pickup ends bar 0). A
    downbeat a few ticks past a bar line is on it (abc2midi starts notes at tick 1)."""
    bar = bar_ticks(midi.ticks_per_beat, meter)
    past = downbeat % bar
    delay = 0 if past <= midi.ticks_per_beat // 32 else bar - past
    if delay:
        for track in midi.tracks:
            first = next((m for m in track if not m.is_meta), None)
            if first is not None:
                first.time += delay
    return midi


def tune_midi(abc2midi: Path, header: dict[str, str], body: str
              ) -> tuple[mido.MidiFile, str] | str:
    """One tune as MIDI on the bar and its meter, or why not (a meter the corpus does not
    know, abc2midi could not read it in time, or its first bar is longer than a bar)."""
    meter = ABC_METERS.get(header.get("M", "").replace(" ", ""))
    if meter is None:
        return f"meter {header.get('M', 'none')!r}"
    with tempfile.TemporaryDirectory() as scratch:
        try:
            converted = abc_to_midi(abc2midi, header, body, Path(scratch))
        except subprocess.TimeoutExpired:
            return "abc2midi took too long"
    if converted is None:
        return "abc2midi could not convert it (or its first bar is too long)"
    return on_the_bar(converted[0], converted[1], meter), meter


def convert(dest: Path, abc2midi: Path | None = None) -> Converted:
    """Convert every tune of every .abc file in `dest`'s manifest (see the module's
    docstring) and refresh the manifest."""
    abc2midi = find_abc2midi() if abc2midi is None else abc2midi
    credit = f"abc2midi {abc2midi_version(abc2midi)} {' '.join(ABC2MIDI_FLAGS)}"
    report = Converted()
    rows: dict[str, list[dict[str, object]]] = {}
    for row in list(read_manifest(dest)):
        path = str(row["path"])
        if not path.lower().endswith(".abc"):
            continue
        package = str(row["package"])
        source = dest / path
        report.sources += 1
        try:
            text = source.read_text(encoding="latin-1")  # ABC 2.1 allows any 8-bit text
        except OSError as error:
            report.skipped.append(f"{path}: cannot be read ({error.strerror})")
            continue
        folder = source.with_name(source.name + ".d")
        shutil.rmtree(folder, ignore_errors=True)
        for header, body in split_abc(text):
            tune = f"X:{header['X']} {header.get('T', '')}".strip()
            made = tune_midi(abc2midi, header, body)
            if isinstance(made, str):
                report.skipped.append(f"{path} {tune}: {made}")
                continue
            midi, meter = made
            target = folder / f"x{re.sub(r'[^0-9A-Za-z]', '_', header['X'])}.mid"
            if target.exists():
                report.skipped.append(f"{path} {tune}: a second tune numbered X:{header['X']}")
                continue
            folder.mkdir(exist_ok=True)
            midi.save(target)
            report.by_meter[meter] = report.by_meter.get(meter, 0) + 1
            rows.setdefault(package, []).append({
                "path": target.relative_to(dest).as_posix(), "package": package,
                "version": row.get("version"), "licence": row.get("licence"),
                "sha256": sha256_of(target), "bytes": target.stat().st_size, "seconds": None,
                "converted_from": {"path": path, "sha256": row.get("sha256"), "tune": tune,
                                   "converter": credit}})
    state = dest / STATE
    state.mkdir(parents=True, exist_ok=True)
    for package, made_rows in rows.items():
        write_atomic(state / f"{package}.{ABC_STEP}.rows.jsonl",
                     "".join(json.dumps(r, sort_keys=True) + "\n" for r in made_rows))
        write_atomic(state / f"{package}.{ABC_STEP}.done.json", json.dumps(
            {"package": package, "files": len(made_rows), "converter": credit}, indent=1) + "\n")
    for stale in state.glob(f"*.{ABC_STEP}.*"):
        if stale.name.split(f".{ABC_STEP}.")[0] not in rows:
            stale.unlink()  # packages whose .abc files are gone keep no rows
    refresh_manifest(dest)
    return report

