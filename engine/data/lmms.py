"""LMMS demo projects into multi-stem corpus examples: `stemloom data prepare-lmms`.

The projects are the ones Debian's lmms-common ships under /usr/share/lmms/projects (LMMS
itself comes from scripts/install-system-deps). For each project:
1. render it whole and track by track, headless (`lmms render` / `lmms rendertracks`,
   44.1 kHz 32-bit float, resampled to 32 kHz), and measure how far the tracks' sum is from
   the full render: exact (below -130 dB) without master limiters, sidechain (peak
   controller) effects or noise-based DrumSynth samples (new noise at every load);
2. map every sounding track to a stem family (`map_track`: its name, its sample file, the
   names of the beat+bassline tracks it plays in, a soundfont's GM program, its plugin, then
   the sound by engine/data/stem_families.py's rules as for tracker channels, with LMMS's
   own lead/pad/keys thresholds) and sum the tracks of one family into one stem;
3. cut windows as `stemloom data prepare-modules` does (engine/data/modules.py) and write
   them into one shard per project, with the project's tempo and meter as exact labels and
   the key from engine/data/labels.py.

A project's windows all go to one split. A project whose shard exists is skipped. Each
file's package, version, licence (its own DEP-5 paragraph) and sha256 are recorded;
OUT/lmms-tracks.json holds every track's evidence and family, OUT/lmms-report.json the
per-project report.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath

import numpy as np

from bridge.atomic import atomic_write_bytes
from engine.corpus.example import encode_flac
from engine.corpus.render import balance
from engine.corpus.shards import (
    ShardWriter,
    shard_done,
    source_key,
    split_of,
    write_manifest,
)
from engine.data.fetch import sha256_of
from engine.data.lmms_project import ProjectError, TrackInfo, project_tracks, read_xml
from engine.data.module_labels import Score
from engine.data.modules import MIN_SECONDS, RATE, SILENT_DB, WINDOW_SECONDS, rms_db, windows
from engine.data.stem_families import Evidence, channel_evidence, map_family, name_family

PROJECTS = Path("/usr/share/lmms/projects")
PACKAGE = "lmms-common"
COPYRIGHT = Path("/usr/share/doc/lmms-common/copyright")
SOURCE_PREFIX = "data/projects/"  # where the copyright file's patterns put the projects
RENDER_RATE = 44_100  # the lowest rate LMMS renders at
OVERSAMPLING = 1  # lmms' default is 2; 1 renders twice as fast
SUFFIXES = (".mmp", ".mmpz")
TRACKS_FILE = "lmms-tracks.json"
REPORT_FILE = "lmms-report.json"
PREFIX = "lmms-"
RENDER_TIMEOUT = 3600.0
EVIDENCE_SECONDS = 24  # sound features from at most this many 1 s blocks of a track
EXACT_DB = -200.0  # the residual of tracks that sum to the render exactly (not -inf: JSON)
BROKEN = 100.0  # a sample beyond 40 dB over full scale is a plugin's fault, not music
#: Instrument plugins that play one family whatever their settings (kicker is a drum
#: synth; lb302 a TB-303 bass line clone).
PLUGIN_FAMILY = {"kicker": "drums", "lb302": "bass"}
DEFAULT_BB = re.compile(r"Beat/Bassline \d+")
#: map_family's last three rules with thresholds set on the tuning half of LMMS tracks
#: (evals/lmms_track_labels.json): note density here counts every note of a track.
MELODIC_RULES = ("busy-line", "long-notes", "default")
LEAD_LOW = 0.45  # stem_families: 0.35, 2.5, 0.8; a grid on the tuning half chose these
LEAD_DENSITY = 4.0
PAD_DENSITY = 2.0
#: General MIDI program ranges (sf2player's patch) -> family.
GM_RANGES = ((8, "keys"), (24, "keys"), (32, "guitar"), (40, "bass"), (56, "strings"),
             (88, "lead"), (104, "pad"), (112, "keys"), (120, "drums"), (128, "pad"))


class LmmsMissing(RuntimeError):
    """LMMS is not installed."""


@dataclass
class TrackResult:
    """One rendered track: its level, what it is and the family it went to."""

    index: int
    name: str
    plugin: str
    source: str
    program: int | None
    bank: int | None
    bb_names: dict[str, int]
    level_db: float
    family: str | None  # None: silent, left out
    rule: str
    evidence: dict
    broken: int = 0  # NaN/inf or absurdly large samples the render had, set to 0


@dataclass
class ProjectResult:
    """What became of one project."""

    path: str
    status: str  # "written", "already done", "skipped"
    why: str = ""
    licence: str = ""
    bpm: float = 0.0
    meter: str = ""
    tracks: int = 0
    seconds: float = 0.0
    residual_db: float = 0.0  # RMS of (sum of tracks - full render), relative to the render
    level_dbfs: float = 0.0
    families: dict[str, list[int]] = field(default_factory=dict)
    examples: int = 0
    example_seconds: float = 0.0
    split: str = ""
    shard: str = ""
    render_seconds: float = 0.0


def lmms_binary() -> str:
    """The lmms executable; LmmsMissing (saying how to install it) when there is none."""
    found = shutil.which("lmms")
    if found is None:
        raise LmmsMissing("lmms is not installed: run scripts/install-system-deps "
                          "(it installs Debian's lmms, which ships the demo projects)")
    return found


def gm_family(program: int, bank: int) -> str:
    """The family of a General MIDI program (bank 128: drum kits)."""
    if bank == 128:
        return "drums"
    return next(f for top, f in GM_RANGES if program < top)


def source_words(source: str) -> str:
    """The part of a sample path that names its sound: its folder and file name. LMMS keeps
    every DrumSynth file under 'drumsynth/', effects and instruments too, so that word is
    left out."""
    return " ".join(p for p in PurePosixPath(source).parts[-2:] if p.lower() != "drumsynth")


def map_track(track: dict, evidence: Evidence) -> tuple[str, str]:
    """(family, rule) of a track from its row (name, source, bb_names, plugin, program,
    bank) and evidence: its name, then its sample/soundfont file, then the names of the BB
    tracks most of its notes play in, then a GM program, then its plugin, then the sound
    rules of stem_families.map_family."""
    for rule, name in (("track name", track["name"]),
                       ("sample file", source_words(track["source"]))):
        family = name_family(name) if name else None
        if family is not None:
            return family, rule
    if track["bb_names"]:
        votes: dict[str, int] = {}
        for name, count in track["bb_names"].items():
            # LMMS's default name ("Beat/Bassline 3") says nothing: its words are no clue
            family = None if DEFAULT_BB.fullmatch(name) else name_family(name)
            if family is not None:
                votes[family] = votes.get(family, 0) + count
        if votes and max(votes.values()) * 2 >= sum(track["bb_names"].values()):
            best: str = max(votes, key=lambda f: votes[f])
            return best, "beat+bassline name"
    if track["plugin"] == "sf2player" and track["program"] is not None:
        return gm_family(track["program"], track["bank"] or 0), "gm program"
    if track["plugin"] in PLUGIN_FAMILY:
        return PLUGIN_FAMILY[track["plugin"]], "plugin"
    family, rule = map_family(evidence)
    if rule not in MELODIC_RULES:
        return family, rule
    # Unnamed synth tracks: lead, pad or keys by their own thresholds (see LEAD_LOW).
    if evidence.low_share < LEAD_LOW and evidence.density >= LEAD_DENSITY:
        return "lead", "busy-line"
    if evidence.density <= PAD_DENSITY:
        return "pad", "long-notes"
    return "keys", "default"


def licence_of(relative: str, copyright_file: Path = COPYRIGHT) -> str:
    """The licence the DEP-5 copyright file gives project `relative` (its last matching
    Files paragraph, as DEP-5 says)."""
    if not copyright_file.is_file():
        return "unknown (no copyright file)"
    found = "unknown (see copyright)"
    target = SOURCE_PREFIX + relative
    for paragraph in re.split(r"\n\s*\n", copyright_file.read_text(errors="replace")):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", paragraph, re.M)
        licence = re.search(r"^License:[ \t]*(\S.*)$", paragraph, re.M)
        if files is None or licence is None:
            continue
        if any(fnmatch.fnmatchcase(target, p) for p in files.group(1).split()):
            found = licence.group(1).strip()
    return found


def package_version(package: str = PACKAGE) -> str | None:
    """The installed version of a Debian package (None when it is not installed)."""
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def render(project: Path, dest: Path, tracks: bool, timeout: float = RENDER_TIMEOUT) -> None:
    """Render `project` headless into file `dest` (whole) or folder `dest` (tracks)."""
    action = "rendertracks" if tracks else "render"
    target = f"{dest}{os.sep}" if tracks else str(dest)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        done = subprocess.run([lmms_binary(), "--allowroot", action, str(project), "-f", "wav",
                               "-a", "-s", str(RENDER_RATE), "-x", str(OVERSAMPLING),
                               "-o", target], env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise ProjectError(f"lmms {action} ran past {timeout:.0f} s") from error
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ProjectError(f"lmms {action} failed ({done.returncode}): {tail[0][-200:]}")


@dataclass
class Analysis:
    """A project rendered: its full render, family stems and tracks."""

    bpm: float
    meter: tuple[int, int]
    tempo_automated: bool
    mix: np.ndarray  # (2, frames) at RATE, the full render
    stems: dict[str, np.ndarray]
    tracks: list[TrackResult]
    residual_dbfs: float
    level_dbfs: float


def load(path: Path) -> tuple[np.ndarray, int]:
    """(float32 (2, frames) at RATE, count of broken samples set to 0) of an LMMS render:
    some plugins (seen with the SID emulation) put a few NaN or 1e30-sized samples into a
    track, which would swamp every measure."""
    import soundfile as sf
    import soxr

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    bad = ~np.isfinite(audio) | (np.abs(audio) > BROKEN)
    audio[bad] = 0.0
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    if rate != RATE:
        audio = soxr.resample(audio[:, :2], rate, RATE, quality="HQ")
    return np.ascontiguousarray(audio.T, dtype=np.float32), int(bad.sum())


def track_evidence(notes: list[tuple[float, int]], audio: np.ndarray,
                   blocks: int = EVIDENCE_SECONDS) -> Evidence:
    """stem_families.channel_evidence of a track, its sound measured on at most `blocks`
    evenly spaced sounding 1 s blocks (the full measure costs ~10 s a track here), and its
    sounding time and note density counted over all of it (blocks above -50 dB of the
    loudest)."""
    frames = audio.shape[1] // RATE
    levels = np.sqrt(np.square(audio[:, :frames * RATE].reshape(2, frames, RATE),
                               dtype=np.float64).mean(axis=(0, 2)))
    peak = float(levels.max()) if frames else 0.0
    sounding = np.flatnonzero(levels > peak * 10 ** (-50 / 20)) if peak > 0 else levels[:0]
    if sounding.size > blocks:
        sounding = sounding[np.linspace(0, sounding.size - 1, blocks).astype(int)]
    part = np.concatenate([audio[:, i * RATE:(i + 1) * RATE] for i in sounding], axis=1) \
        if frames > blocks and sounding.size else audio
    evidence = channel_evidence([(s, n, 0) for s, n in notes], {}, part, RATE)
    if part is audio:
        return evidence
    seconds = float(np.count_nonzero(levels > peak * 10 ** (-50 / 20)))
    return replace(evidence, sounding=seconds, density=len(notes) / seconds)


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    out = np.zeros((2, frames), dtype=np.float32)
    out[:, :min(frames, audio.shape[1])] = audio[:, :frames]
    return out


def track_row(info: TrackInfo) -> dict:
    """The fields of a track that map_track reads."""
    return {"name": info.name, "source": info.source, "bb_names": info.bb_names,
            "plugin": info.plugin, "program": info.program, "bank": info.bank}


def analyse(path: Path, work: Path) -> Analysis:
    """Render `path` whole and track by track in folder `work` (emptied after) and map its
    tracks to families."""
    project = project_tracks(read_xml(path))
    shutil.rmtree(work, ignore_errors=True)
    (work / "tracks").mkdir(parents=True)
    try:
        render(path, work / "full.wav", tracks=False)
        render(path, work / "tracks", tracks=True)
        if not (work / "full.wav").is_file():
            raise ProjectError("lmms render wrote no file")
        mix, _ = load(work / "full.wav")
        frames = mix.shape[1]
        by_index = {t.index: t for t in project.tracks}
        total = np.zeros_like(mix)
        stems: dict[str, np.ndarray] = {}
        results = []
        for file in sorted((work / "tracks").glob("*.wav"),
                           key=lambda f: int(f.name.split("_", 1)[0])):
            index = int(file.name.split("_", 1)[0])
            info = by_index.get(index) or TrackInfo(index, file.stem.split("_", 1)[-1], "?")
            audio, broken = load(file)
            audio = _fit(audio, frames)
            file.unlink()  # tracks of a long project take gigabytes at 44.1 kHz float
            total += audio
            level = rms_db(audio)
            evidence = track_evidence(info.notes, audio)
            row = track_row(info)
            family, rule = map_track(row, evidence) if level >= SILENT_DB else (None, "silent")
            results.append(TrackResult(index, info.name, info.plugin, info.source, info.program,
                                       info.bank, info.bb_names, round(level, 2), family,
                                       rule, evidence.as_dict(), broken))
            if family is not None:
                stems[family] = stems.get(family, 0) + audio
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not results:
        raise ProjectError("lmms rendertracks wrote no track")
    return Analysis(project.bpm, project.meter, project.tempo_automated, mix, stems, results,
                    round(max(rms_db(total - mix), EXACT_DB), 2), round(rms_db(mix), 2))


def beat_grid(bpm: float, meter: tuple[int, int], start: float,
              seconds: float) -> tuple[list[float], list[float]]:
    """Exact beat and downbeat times (from the window's start) of a constant tempo."""
    period = 60.0 / bpm
    first = int(np.ceil(start / period - 1e-9))
    beats = [round(b * period - start, 4) for b in range(first, int((start + seconds) / period)
                                                             + 1) if b * period < start + seconds]
    downs = [t for b, t in zip(range(first, first + len(beats)), beats, strict=True)
             if b % max(1, meter[0]) == 0]
    return beats, downs


def write_examples(analysis: Analysis, row: dict, shard: Path, split: str,
                   window_seconds: float = WINDOW_SECONDS, bits: int = 16) -> tuple[int, float]:
    """Write the windows of one analysed project into `shard`; (examples, seconds)."""
    from engine.data.labels import label

    writer = ShardWriter(shard)
    count, seconds = 0, 0.0
    base = {"source": "lmms", "package": PACKAGE, "version": row["version"],
            "licence": row["licence"], "file": row["path"], "file_sha256": row["sha256"],
            "title": Path(row["path"]).stem, "sample_rate": RATE, "bits": bits,
            "split": split, "captions": [], "meter": f"{analysis.meter[0]}/{analysis.meter[1]}",
            "bpm": analysis.bpm, "bpm_source": "the project's tempo"
            + (" (automated: may change)" if analysis.tempo_automated else ""),
            "render": f"LMMS rendertracks, {RENDER_RATE} Hz float, oversampling "
                      f"{OVERSAMPLING}, resampled to {RATE} Hz"}
    families = sorted(analysis.stems)
    for number, (a, b) in enumerate(windows(analysis.mix.shape[1], window_seconds)):
        names = [f for f in families if rms_db(analysis.stems[f][:, a:b]) >= SILENT_DB]
        if not names:
            continue
        stems, mix = balance(np.stack([analysis.stems[f][:, a:b] for f in names]), bits,
                             normalize=False)
        key = label(mix, RATE)
        beats, downbeats = beat_grid(analysis.bpm, analysis.meter, a / RATE, (b - a) / RATE)
        meta = {**base, "start_s": round(a / RATE, 4), "seconds": round((b - a) / RATE, 4),
                "frames": b - a, "window": number, "beats": beats, "downbeats": downbeats,
                "key_name": key.key_name, "key_tonic": key.key_tonic, "mode": key.mode,
                "label_confidence": {"key": round(key.key_confidence, 3)},
                "stems": [{"name": f, "family": f,
                           "tracks": [t.index for t in analysis.tracks if t.family == f],
                           "instruments": list(dict.fromkeys(
                               t.name for t in analysis.tracks if t.family == f))[:8]}
                          for f in names]}
        files = {f"{f}.flac": encode_flac(s, bits) for f, s in zip(names, stems, strict=True)}
        files["mix.flac"] = encode_flac(mix, bits)
        writer.add(f"{shard.stem}-{number:03d}", meta, files)
        count, seconds = count + 1, seconds + (b - a) / RATE
    if count:
        writer.close()
    return count, seconds


def project_key(relative: str) -> str:
    """A short stable name for a project: its file name made safe, and a hash of its path."""
    return source_key(relative, Path(relative).stem)


def find_projects(folder: Path) -> list[str]:
    """Project files under `folder`, relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.suffix.lower() in SUFFIXES and p.is_file())


def prepare_lmms(projects: Path, out: Path, only: list[str] | None = None, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
                 window_seconds: float = WINDOW_SECONDS, force: bool = False,
                 copyright_file: Path = COPYRIGHT,
                 progress: Callable[[ProjectResult], None] | None = None
                 ) -> list[ProjectResult]:
    """Turn the LMMS projects under `projects` into corpus shards under `out`."""
    if not window_seconds >= MIN_SECONDS:
        raise ValueError(f"windows must be at least {MIN_SECONDS:g} s")
    out.mkdir(parents=True, exist_ok=True)
    found = _read_json(out / TRACKS_FILE, {})
    track_rows: dict[str, list[dict]] = found if isinstance(found, dict) else {}
    earlier = {r["path"]: r for r in _read_json(out / REPORT_FILE, [])}
    version = package_version()
    results = []
    for relative in find_projects(projects):
        if only and not any(o in relative for o in only):
            continue
        path = projects / relative
        sha = sha256_of(path)
        key = project_key(relative)
        split: str = split_of(seed, int(sha[:8], 16), fractions)
        shard = out / f"{PREFIX}{split}-{key}.tar"
        result = ProjectResult(relative, "already done", licence=licence_of(relative,
                                                                            copyright_file),
                               split=split, shard=shard.name)
        if shard_done(shard) and not force:
            if relative in earlier:
                result = ProjectResult(**{**earlier[relative], "status": "already done"})
            results.append(_notify(result, progress))
            continue
        start = time.perf_counter()
        try:
            analysis = analyse(path, out / ".render" / key)
        except ProjectError as error:
            result.status, result.why = "skipped", str(error)
            results.append(_notify(result, progress))
            continue
        result.render_seconds = round(time.perf_counter() - start, 1)
        row = {"path": relative, "version": version, "licence": result.licence, "sha256": sha}
        result.examples, result.example_seconds = write_examples(analysis, row, shard, split,
                                                                 window_seconds)
        result.status = "written" if result.examples else "skipped"
        result.why = "" if result.examples else "no window above the silence level"
        result.bpm, result.meter = analysis.bpm, f"{analysis.meter[0]}/{analysis.meter[1]}"
        result.tracks, result.seconds = len(analysis.tracks), round(analysis.mix.shape[1] / RATE,
                                                                    3)
        result.level_dbfs = float(analysis.level_dbfs)
        result.residual_db = round(float(analysis.residual_dbfs - analysis.level_dbfs), 2)
        result.families = {f: [t.index for t in analysis.tracks if t.family == f]
                           for f in sorted(analysis.stems)}
        track_rows[key] = [{"project": key, "path": relative, **asdict(t)}
                           for t in analysis.tracks]
        atomic_write_bytes(out / TRACKS_FILE, json.dumps(track_rows, indent=0).encode())
        results.append(_notify(result, progress))
        _write_report(out / REPORT_FILE, results, earlier)
    _write_report(out / REPORT_FILE, results, earlier)
    write_manifest(out, {"lmms": {"window_seconds": window_seconds, "rate": RATE,
                                  "seed": seed}})
    return results


def _write_report(path: Path, results: list[ProjectResult], earlier: dict[str, dict]) -> None:
    """The report: this run's rows, then earlier rows of projects it has not reached."""
    seen = {r.path for r in results}
    rows = [asdict(r) for r in results] + [r for p, r in earlier.items() if p not in seen]
    atomic_write_bytes(path, json.dumps(rows, indent=1).encode())


def _notify(result: ProjectResult,
            progress: Callable[[ProjectResult], None] | None) -> ProjectResult:
    if progress is not None:
        progress(result)
    return result


def _read_json(path: Path, empty: dict | list) -> dict | list:
    """A JSON file written by an earlier run (`empty` when absent or unreadable)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return empty
    return found if isinstance(found, type(empty)) else empty


def score_tracks(labels: list[dict], tracks_file: Path) -> list[Score]:
    """Scores of the 'tune' and 'test' halves of hand labels (rows naming project key and
    track index) against the evidence a run stored in `tracks_file`, with the rules as they
    are now. Silent tracks (in no stem) count as missing."""
    rows = {}
    for project in json.loads(Path(tracks_file).read_text()).values():
        for row in project:
            if row["family"] is not None:
                rows[(row["project"], row["index"])] = row
    scores = []
    for half in ("tune", "test"):
        confusion: dict[str, Counter[str]] = {}
        n = correct = missing = sure = sure_correct = 0
        for label in (r for r in labels if r["half"] == half):
            row = rows.get((label["project"], label["track"]))
            if row is None:
                missing += 1
                continue
            predicted, _ = map_track(row, Evidence(**row["evidence"]))
            confusion.setdefault(label["family"], Counter())[predicted] += 1
            n += 1
            correct += predicted == label["family"]
            if label.get("sure"):
                sure += 1
                sure_correct += predicted == label["family"]
        scores.append(Score(half, n, correct, {k: dict(v) for k, v in confusion.items()},
                            missing, (sure_correct, sure)))
    return scores
