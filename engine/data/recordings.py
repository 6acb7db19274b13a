"""Fetched real recordings → labelled, loudness-normalised windows in the corpus format.

For each package of a `stemloom data fetch` folder (read through its manifest, which refuses
reserved packages): take its music files (only those under a folder named like "music" when
the package has one, and none shorter than MIN_FILE_SECONDS: the rest are sound effects),
decode each once to 32 kHz stereo, cut it into WINDOW_SECONDS windows, skip near-silent ones,
normalise each to TARGET_LUFS without letting its peak pass PEAK_CEILING_DB, label it
(engine.data.labels) and write it as a `mix.flac` example into shards
``OUT/real__<package>__<split>-NNNNNN.tar``.

Splits: the HELD_OUT packages, whole, are the "test" split (the project's own real-music
test set); every other file goes to "train" or, by a stable draw on its sha256, "validation".
A package is redone only when its files or the settings changed: its done marker
``OUT/.recordings/<package>.json`` records both; shards and markers are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bridge.atomic import atomic_write_bytes
from bridge.loudness import integrated_lufs
from engine.corpus.example import encode_flac
from engine.corpus.ingest import AudioProblem, IngestReport, load_audio
from engine.corpus.render import SAMPLE_RATE
from engine.corpus.shards import ShardWriter, split_of, write_manifest
from engine.data.fetch import read_manifest
from engine.data.labels import label
from engine.data.reserved import refuse_reserved

#: Window length. The generator's cache takes up to 12 s from each example, starting on a
#: bar line, so 15 s leaves room to find one; 15 s also holds 12+ beats at 50 BPM for the
#: tempo and meter estimates and keeps one key per window more likely than a minute would.
WINDOW_SECONDS = 15.0
#: A shorter last stretch of a file is kept as a window ending at the file's end (it
#: overlaps the one before) when it is at least this long.
MIN_TAIL_SECONDS = 7.5
MIN_FILE_SECONDS = 30.0
SILENCE_LUFS = -45.0  # windows quieter than this are near silent: skipped
TARGET_LUFS = -16.0  # a streaming-like level that leaves most windows room under the ceiling
PEAK_CEILING_DB = -1.0  # sample peak after normalisation
BITS = 16
SHARD_WINDOWS = 32  # 8 minutes of audio per shard
VALIDATION_FRACTION = 0.05
#: The project's own real-music test set: two whole packages by different composers and
#: games (about 0.95 h together), never trained on.
HELD_OUT = ("pushover-data", "openclonk-data")
STATE = ".recordings"
AUDIO_SUFFIXES = (".ogg", ".oga", ".opus", ".flac", ".wav", ".mp3")
_MUSIC_FOLDER = re.compile(r"music|soundtrack|songs", re.IGNORECASE)


@dataclass
class PackageSummary:
    """What preparing one package did."""

    package: str
    status: str  # "prepared", "already prepared", "no music"
    split: str = ""
    files: int = 0
    file_hours: float = 0.0
    windows: int = 0
    silent_windows: int = 0
    window_hours: float = 0.0
    shard_bytes: int = 0
    wall_seconds: float = 0.0
    licences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def settings(held_out: tuple[str, ...] = HELD_OUT) -> dict:
    """Everything that changes the output: a marker with other settings is redone."""
    from engine.data.labels import LABELLER

    return {"window": WINDOW_SECONDS, "min_tail": MIN_TAIL_SECONDS,
            "min_file": MIN_FILE_SECONDS, "silence_lufs": SILENCE_LUFS,
            "target_lufs": TARGET_LUFS, "ceiling_db": PEAK_CEILING_DB, "bits": BITS,
            "rate": SAMPLE_RATE, "validation": VALIDATION_FRACTION, "labeller": LABELLER,
            "held_out": list(held_out)}


def music_files(rows: Iterable[dict]) -> dict[str, list[dict]]:
    """The music files of each package (manifest rows), by package, in path order."""
    by_package: dict[str, list[dict]] = {}
    for row in rows:
        path = str(row["path"])
        if not path.lower().endswith(AUDIO_SUFFIXES):
            continue
        seconds = row.get("seconds")
        if seconds is not None and float(seconds) < MIN_FILE_SECONDS:
            continue
        by_package.setdefault(str(row["package"]), []).append(row)
    chosen = {}
    for package, files in by_package.items():
        in_music = [r for r in files if _MUSIC_FOLDER.search(_folder(str(r["path"])))]
        chosen[package] = sorted(in_music or files, key=lambda r: str(r["path"]))
    return chosen


def _folder(path: str) -> str:
    """The folder of a manifest path inside its package (the package's name left out)."""
    return path.split("/", 1)[-1].rpartition("/")[0]


def decode(path: Path) -> np.ndarray:
    """float32 (2, frames) at 32 kHz: libsndfile (with soxr), else ffmpeg."""
    try:
        audio: np.ndarray = load_audio(path, IngestReport())
        return audio
    except AudioProblem as problem:
        if not path.is_file():
            raise
        first = problem
    try:
        done = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "f32le", "-ac", "2",
             "-ar", str(SAMPLE_RATE), "-"], capture_output=True, check=False)
    except FileNotFoundError:
        raise AudioProblem(f"{first}; and ffmpeg is not installed") from None
    if done.returncode != 0 or not done.stdout:
        raise AudioProblem(f"{first}; ffmpeg: {done.stderr.decode(errors='replace')[-200:]}")
    return np.frombuffer(done.stdout, dtype=np.float32).reshape(-1, 2).T.copy()


def window_starts(frames: int, rate: int = SAMPLE_RATE) -> list[int]:
    """Start frames of the windows of a file `frames` long (see MIN_TAIL_SECONDS)."""
    size = int(WINDOW_SECONDS * rate)
    starts = list(range(0, frames - size + 1, size))
    covered = starts[-1] + size if starts else 0
    if frames - covered >= int(MIN_TAIL_SECONDS * rate) and frames >= size:
        starts.append(frames - size)
    return starts


def normalise(window: np.ndarray) -> tuple[np.ndarray, dict] | None:
    """The window at TARGET_LUFS (less where the peak would pass the ceiling) and its
    loudness facts; None for a near-silent window."""
    before = integrated_lufs(window, SAMPLE_RATE)
    if not np.isfinite(before) or before < SILENCE_LUFS:
        return None
    peak = float(np.max(np.abs(window)))
    peak_db = 20 * np.log10(max(peak, 1e-9))
    gain_db = min(TARGET_LUFS - before, PEAK_CEILING_DB - peak_db)
    out = (window * 10 ** (gain_db / 20)).astype(np.float32)
    return out, {"loudness_before": round(before, 2),
                 "loudness_after": round(before + gain_db, 2),
                 "gain_db": round(gain_db, 2), "peak_db": round(peak_db + gain_db, 2)}


def split_of_file(package: str, sha256: str, seed: int,
                  held_out: tuple[str, ...] = HELD_OUT) -> str:
    """'test' for a held-out package, else 'train' or 'validation' by a stable draw."""
    if package in held_out:
        return "test"
    draw = split_of(seed, int(sha256[:12], 16), (1 - VALIDATION_FRACTION,
                                                 VALIDATION_FRACTION, 0.0))
    return "train" if draw == "test" else draw


def _fingerprint(rows: list[dict], seed: int, held_out: tuple[str, ...]) -> str:
    text = json.dumps([settings(held_out), seed, [r["sha256"] for r in rows]], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)


class _Shards:
    """The open shard of each split of one package."""

    def __init__(self, out: Path, package: str) -> None:
        self.out, self.package = out, package
        self.writers: dict[str, ShardWriter] = {}
        self.counts: dict[str, int] = {}
        self.paths: list[Path] = []

    def add(self, split: str, key: str, meta: dict, files: dict[str, bytes]) -> None:
        n = self.counts.get(split, 0)
        if n % SHARD_WINDOWS == 0:
            if split in self.writers:
                self.writers[split].close()
            path = self.out / f"real__{self.package}__{split}-{n // SHARD_WINDOWS:06d}.tar"
            self.writers[split] = ShardWriter(path)
            self.paths.append(path)
        self.counts[split] = n + 1
        self.writers[split].add(key, meta, files)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def prepare_package(package: str, rows: list[dict], data: Path, out: Path, seed: int = 0,
                    held_out: tuple[str, ...] = HELD_OUT) -> PackageSummary:
    """Prepare one package's files (see the module's docstring)."""
    start = time.monotonic()
    refuse_reserved(package)
    marker = out / STATE / f"{package}.json"
    fingerprint = _fingerprint(rows, seed, held_out)
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("fingerprint") == fingerprint:
            return PackageSummary(**done["summary"] | {"status": "already prepared"})
    marker.unlink(missing_ok=True)
    for old in out.glob(f"real__{package}__*"):
        old.unlink()
    summary = PackageSummary(package, "prepared", licences=sorted({str(r["licence"])
                                                                  for r in rows}))
    shards = _Shards(out, package)
    size = int(WINDOW_SECONDS * SAMPLE_RATE)
    splits = set()
    for index, row in enumerate(rows):
        try:
            audio = decode(data / str(row["path"]))
        except AudioProblem as problem:
            summary.problems.append(f"{row['path']}: {problem}")
            continue
        split = split_of_file(package, str(row["sha256"]), seed, held_out)
        splits.add(split)
        summary.files += 1
        summary.file_hours += audio.shape[1] / SAMPLE_RATE / 3600
        for number, first in enumerate(window_starts(audio.shape[1])):
            done = normalise(audio[:, first: first + size])
            if done is None:
                summary.silent_windows += 1
                continue
            window, loudness = done
            meta = {"source": "real", "package": package, "file": row["path"],
                    "file_sha256": row["sha256"], "version": row.get("version"),
                    "licence": row["licence"], "split": split,
                    "window_start": round(first / SAMPLE_RATE, 3),
                    "seconds": WINDOW_SECONDS, "frames": size, "sample_rate": SAMPLE_RATE,
                    "bits": BITS, "captions": [], "stems": [], **loudness,
                    **label(window, SAMPLE_RATE).to_meta()}
            key = f"r_{_slug(package)}_{index:04d}_{number:04d}"
            shards.add(split, key, meta, {"mix.flac": encode_flac(window, BITS)})
            summary.windows += 1
    shards.close()
    summary.split = "/".join(sorted(splits))
    summary.window_hours = summary.windows * WINDOW_SECONDS / 3600
    summary.shard_bytes = sum(p.stat().st_size + p.with_suffix(".jsonl").stat().st_size
                              for p in shards.paths)
    summary.wall_seconds = time.monotonic() - start
    marker.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(marker, json.dumps({"fingerprint": fingerprint,
                                           "shards": [p.name for p in shards.paths],
                                           "summary": asdict(summary)}, indent=1).encode())
    return summary


def prepare(data: Path, out: Path, packages: list[str] | None = None, seed: int = 0,
            held_out: tuple[str, ...] = HELD_OUT,
            progress: Callable[[PackageSummary], None] | None = None) -> list[PackageSummary]:
    """Prepare every package of the fetched folder `data` (or those named) into `out`, then
    rebuild the corpus manifest. A reserved name raises ReservedSourceError first."""
    for name in packages or []:
        refuse_reserved(name)
    chosen = music_files(read_manifest(Path(data)))
    names = packages if packages else sorted(chosen)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    for name in names:
        if name not in chosen:
            summary = PackageSummary(name, "no music")
        else:
            summary = prepare_package(name, chosen[name], Path(data), out, seed, held_out)
        summaries.append(summary)
        if progress is not None:
            progress(summary)
    write_manifest(out, {"real_recordings": settings(held_out)})
    return summaries
