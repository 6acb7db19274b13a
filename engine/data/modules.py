"""Tracker modules into multi-stem corpus examples: `stemloom data prepare-modules`.

For each module that `stemloom data fetch` put in a data folder (kind "modules"):
1. render the whole module and each channel alone with libxmp at 32 kHz stereo, once
   through (no loop), and measure how far the channels' sum is from the full render;
2. map every sounding channel to a stem family (engine/data/stem_families.py) and sum the
   channels of one family into one stem;
3. cut the stems into windows of WINDOW_SECONDS (a last piece of at least MIN_SECONDS is
   kept; silent windows are dropped) and write them as corpus examples, one shard per
   module, `<family>.flac` per sounding stem and `mix.flac` = exactly their sum
   (engine.corpus.render.balance, level kept).

Every module's windows go to one split (a stable draw on its package and path), so no song
straddles train and test. A module whose shard exists is skipped (idempotent); shards
appear only complete. OUT/module-channels.json holds every channel's evidence and family
(for labelling and scoring) and OUT/modules-report.json the per-module report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bridge.atomic import atomic_write_bytes
from engine.corpus.example import encode_flac
from engine.corpus.render import balance
from engine.corpus.shards import (
    ShardWriter,
    shard_done,
    source_key,
    source_split,
    write_manifest,
)
from engine.data.fetch import read_manifest
from engine.data.libxmp import AMPLIFICATION, SEPARATION, Module, ModuleError, ModuleInfo
from engine.data.stem_families import channel_evidence, map_family

RATE = 32_000
WINDOW_SECONDS = 15.0  # as the real recordings (engine/data/recordings.py)
MIN_SECONDS = 5.0
SILENT_DB = -60.0  # a channel, stem or window quieter than this (RMS, dBFS) is left out
MODULE_SUFFIXES = (".mod", ".xm", ".it", ".s3m")
CHANNELS_FILE = "module-channels.json"  # not .jsonl: shard indexes are the .jsonl files
REPORT_FILE = "modules-report.json"
PREFIX = "modules-"
ROWS_PER_BEAT = 4  # the tracker convention the stated bpm assumes


def rms_db(audio: np.ndarray) -> float:
    """RMS level in dBFS (-inf for silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def musical_bpm(speed: int, tracker_bpm: int) -> float:
    """Beats per minute from a tracker's speed (ticks per row) and tempo, at ROWS_PER_BEAT
    rows a beat (a tick lasts 2.5/tempo s, so a row lasts speed * 2.5 / tempo s)."""
    return round(60.0 / (speed * 2.5 / tracker_bpm * ROWS_PER_BEAT), 3)


@dataclass
class ChannelResult:
    """One channel's level, evidence and family."""

    channel: int
    level_db: float
    family: str | None  # None: silent, left out
    rule: str
    evidence: dict


@dataclass
class ModuleResult:
    """What became of one module."""

    package: str
    path: str
    status: str  # "written", "already done", "skipped"
    why: str = ""
    title: str = ""
    format: str = ""
    channels: int = 0
    seconds: float = 0.0
    residual_db: float = 0.0  # RMS of (sum of channels - full render), relative to the render
    residual_dbfs: float = 0.0  # the same RMS in dB of full scale
    level_dbfs: float = 0.0  # RMS of the full render
    families: dict[str, list[int]] = field(default_factory=dict)
    examples: int = 0
    example_seconds: float = 0.0
    split: str = ""
    shard: str = ""


@dataclass
class Analysis:
    """A module rendered: its info, full render, channels and their families."""

    title: str
    format: str
    mix: np.ndarray  # (2, frames)
    stems: dict[str, np.ndarray]  # family -> (2, frames), the sum of its channels
    channels: list[ChannelResult]
    residual_dbfs: float
    level_dbfs: float
    speeds: list[tuple[float, int, int]]
    names: dict[str, list[str]]  # family -> instrument names heard in it


def _names_of(info: ModuleInfo) -> dict[int, str]:
    """Instrument index -> its name and its samples' names, joined."""
    names = {}
    for index, (name, samples) in enumerate(zip(info.instruments, info.instrument_samples,
                                                strict=True)):
        parts = [name, *(info.samples[s] for s in samples)]
        names[index] = " / ".join(dict.fromkeys(p for p in parts if p))
    return names


def analyse(path: Path, max_seconds: float = 600.0) -> Analysis:
    """Render `path` whole and channel by channel, and map its channels to families."""
    with Module(path) as module:
        info = module.info
        full = module.render(RATE, max_seconds=max_seconds)
        frames = full.audio.shape[1]
        if frames == 0:
            raise ModuleError(f"{path}: the module plays no audio")
        names_of = _names_of(info)
        total = np.zeros_like(full.audio)
        stems: dict[str, np.ndarray] = {}
        heard: dict[str, list[str]] = {}
        channels = []
        for channel in range(info.channels):
            solo = module.render(RATE, solo=channel, max_seconds=max_seconds).audio
            audio = np.zeros_like(full.audio)
            audio[:, :min(frames, solo.shape[1])] = solo[:, :frames]
            total += audio
            level = rms_db(audio)
            evidence = channel_evidence(full.notes[channel], names_of, audio, RATE)
            if level < SILENT_DB:
                channels.append(ChannelResult(channel, round(level, 2), None, "silent",
                                              evidence.as_dict()))
                continue
            family, rule = map_family(evidence)
            channels.append(ChannelResult(channel, round(level, 2), family, rule,
                                          evidence.as_dict()))
            stems[family] = stems.get(family, 0) + audio
            heard.setdefault(family, [])
            heard[family] += [n for n in evidence.names if n not in heard[family]]
    residual, level = rms_db(total - full.audio), rms_db(full.audio)
    return Analysis(info.title, info.format, full.audio, stems, channels, round(residual, 2),
                    round(level, 2), full.speeds, heard)


def windows(frames: int, seconds: float = WINDOW_SECONDS,
            min_seconds: float = MIN_SECONDS) -> list[tuple[int, int]]:
    """[start, end) frame ranges of consecutive windows; a last piece shorter than
    `min_seconds` is dropped."""
    size, least = int(seconds * RATE), int(min_seconds * RATE)
    return [(a, min(a + size, frames)) for a in range(0, frames, size)
            if min(a + size, frames) - a >= least]


def _tempo_at(speeds: list[tuple[float, int, int]], start: float,
              end: float) -> tuple[int, int, bool]:
    """(speed, tracker bpm) in force at `start`, and whether it changes before `end`."""
    current = [s for s in speeds if s[0] <= start] or speeds[:1]
    # a module that plays no row has no tempo: the trackers' default, speed 6 at 125
    speed, bpm = (current[-1][1], current[-1][2]) if current else (6, 125)
    changes = any(start < s[0] < end for s in speeds)
    return speed, bpm, changes


def module_key(package: str, relative: str) -> str:
    """A short stable name for a module: package and file name, made safe."""
    return f"{package}-{source_key(f'{package}/{relative}', Path(relative).stem)}"


def write_examples(analysis: Analysis, row: dict, shard: Path, split: str,
                   window_seconds: float = WINDOW_SECONDS, bits: int = 16) -> tuple[int, float]:
    """Write the windows of one analysed module into `shard`; (examples, seconds)."""
    writer = ShardWriter(shard)
    count, seconds = 0, 0.0
    base = {"source": "module", "package": row["package"], "version": row.get("version"),
            "licence": row.get("licence"), "file": row["path"], "file_sha256": row.get("sha256"),
            "title": analysis.title, "format": analysis.format, "sample_rate": RATE,
            "bits": bits, "split": split, "captions": [],
            "render": f"libxmp {RATE} Hz, stereo separation {SEPARATION}%, "
                      f"amplification {AMPLIFICATION}"}
    families = sorted(analysis.stems)
    for number, (a, b) in enumerate(windows(analysis.mix.shape[1], window_seconds)):
        if rms_db(analysis.mix[:, a:b]) < SILENT_DB:
            continue
        names = [f for f in families if rms_db(analysis.stems[f][:, a:b]) >= SILENT_DB]
        if not names:
            continue
        stems, mix = balance(np.stack([analysis.stems[f][:, a:b] for f in names]), bits,
                             normalize=False)
        speed, tracker_bpm, changes = _tempo_at(analysis.speeds, a / RATE, b / RATE)
        channels = {f: [c.channel for c in analysis.channels if c.family == f] for f in names}
        meta = {**base, "start_s": round(a / RATE, 4), "seconds": round((b - a) / RATE, 4),
                "frames": b - a, "window": number,
                "bpm": musical_bpm(speed, tracker_bpm),
                "bpm_source": f"tracker speed {speed}, tempo {tracker_bpm}, "
                              f"{ROWS_PER_BEAT} rows per beat assumed",
                "tracker": {"speed": speed, "bpm": tracker_bpm, "tempo_changes": changes},
                "stems": [{"name": f, "family": f, "channels": channels[f],
                           "instruments": analysis.names.get(f, [])[:8]} for f in names]}
        files = {f"{f}.flac": encode_flac(s, bits) for f, s in zip(names, stems, strict=True)}
        files["mix.flac"] = encode_flac(mix, bits)
        writer.add(f"{shard.stem}-{number:03d}", meta, files)
        count, seconds = count + 1, seconds + (b - a) / RATE
    if count:
        writer.close()
    return count, seconds


def find_modules(data: Path) -> list[dict]:
    """Manifest rows of module files in a fetched data folder (reserved packages raise)."""
    return [row for row in read_manifest(data)
            if str(row.get("path", "")).lower().endswith(MODULE_SUFFIXES)]


def prepare_modules(data: Path, out: Path, packages: list[str] | None = None, seed: int = 0,
                    fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
                    window_seconds: float = WINDOW_SECONDS, force: bool = False,
                    progress: Callable[[ModuleResult], None] | None = None
                    ) -> list[ModuleResult]:
    """Turn the modules of data folder `data` into corpus shards under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    results: list[ModuleResult] = []
    channel_rows = _read_channels(out / CHANNELS_FILE)
    earlier = _read_report(out / REPORT_FILE)
    for row in find_modules(data):
        package, relative = str(row["package"]), str(row["path"])
        if packages and package not in packages:
            continue
        key = module_key(package, relative)
        split = source_split(f"{package}/{relative}", seed, fractions)
        shard = out / f"{PREFIX}{split}-{key}.tar"
        result = ModuleResult(package, relative, "already done", split=split, shard=shard.name)
        if shard_done(shard) and not force:
            if relative in earlier:  # keep what the run that wrote the shard measured
                result = ModuleResult(**{**earlier[relative], "status": "already done"})
            results.append(_notify(result, progress))
            continue
        start = time.perf_counter()
        try:
            analysis = analyse(data / relative)
        except ModuleError as error:
            result.status, result.why = "skipped", str(error).replace(f"{data}/", "")
            results.append(_notify(result, progress))
            continue
        result.examples, result.example_seconds = write_examples(
            analysis, row, shard, split, window_seconds)
        result.status = "written" if result.examples else "skipped"
        result.why = "" if result.examples else "no window above the silence level"
        result.title, result.format = analysis.title, analysis.format
        result.channels = len(analysis.channels)
        result.seconds = round(analysis.mix.shape[1] / RATE, 3)
        result.residual_dbfs, result.level_dbfs = analysis.residual_dbfs, analysis.level_dbfs
        result.residual_db = round(analysis.residual_dbfs - analysis.level_dbfs, 2)
        result.families = {f: [c.channel for c in analysis.channels if c.family == f]
                           for f in sorted(analysis.stems)}
        result.why = result.why or f"{time.perf_counter() - start:.1f} s"
        channel_rows[key] = [{"module": key, "package": package, "path": relative,
                              **asdict(c)} for c in analysis.channels]
        results.append(_notify(result, progress))
    _write_channels(out / CHANNELS_FILE, channel_rows)
    # Modules this run did not look at (other packages) keep their earlier report rows.
    seen = {r.path for r in results}
    rows = [asdict(r) for r in results] + [r for p, r in earlier.items() if p not in seen]
    atomic_write_bytes(out / REPORT_FILE, json.dumps(rows, indent=1).encode())
    write_manifest(out, {"modules": {"window_seconds": window_seconds, "rate": RATE,
                                     "seed": seed}})
    return results


def _notify(result: ModuleResult,
            progress: Callable[[ModuleResult], None] | None) -> ModuleResult:
    if progress is not None:
        progress(result)
    return result


def _read_report(path: Path) -> dict[str, dict]:
    """An earlier run's report, by module path (empty when absent or unreadable)."""
    try:
        return {r["path"]: r for r in json.loads(path.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _read_channels(path: Path) -> dict[str, list[dict]]:
    """Channel rows grouped by module key (empty when the file is absent)."""
    grouped: dict[str, list[dict]] = {}
    if path.is_file():
        for row in json.loads(path.read_text()):
            grouped.setdefault(row["module"], []).append(row)
    return grouped


def _write_channels(path: Path, grouped: dict[str, list[dict]]) -> None:
    rows = [r for key in sorted(grouped) for r in grouped[key]]
    atomic_write_bytes(path, json.dumps(rows, indent=0, sort_keys=True).encode())
