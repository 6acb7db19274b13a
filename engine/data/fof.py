"""Frets on Fire songs into multi-stem, chart-labelled corpus examples: `stemloom data
prepare-fof`.

A Frets on Fire song folder (packages fretsonfire-songs-muldjord and -sectoid) holds
song.ogg (the backing: everything but the lead guitar), guitar.ogg (the lead guitar), at
times rhythm.ogg, notes.mid (the chart, with the song's tempo map) and song.ini (artist,
title and `delay`, in ms: the game reads chart time = audio time - delay).

For each song:
1. decode every stem to 32 kHz stereo (engine.data.recordings.decode) and map it to a stem:
   guitar.ogg -> "guitar"; rhythm.ogg -> "guitar" or "bass" (`rhythm_family`); song.ogg ->
   "backing", a stem of its own (family "backing"), because it is a mix of drums, bass,
   rhythm guitars and more that cannot be split: keeping it as a stem keeps the example's
   mix exactly the sum of its stems (engine.corpus.mixdown), so every reader derives the
   right mix, while readers that learn stem families (STEM_KINDS) skip a name they do not
   know;
2. cut the song into windows as engine.data.modules does (15 s, silent windows and silent
   stems left out, `mix.flac` = exactly the sum of the stems, level kept);
3. label each window: tempo, beats, downbeats and meter from notes.mid's tempo map and time
   signatures, shifted by song.ini's delay (ground truth: confidence 1); the key from the
   project's labeller (engine.data.labels) on the window's mix, with its confidence. The
   labeller's whole estimate is kept beside the truth (`labeller_estimate`) for
   `calibration`, which scores it against the chart.

Every song's windows go to one split (a stable draw on package and folder). A song whose
shard exists is skipped; shards appear only complete. A song with a missing stem, an
unreadable chart or song.ini is reported and nothing of it is written.
OUT/fof-report.json holds the per-song report, OUT/fof-calibration.json the calibration.
"""

from __future__ import annotations

import configparser
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from bridge.atomic import atomic_write_bytes
from engine.corpus.flac import encode_flac
from engine.corpus.render import balance
from engine.corpus.shards import (
    ShardWriter,
    read_index,
    shard_done,
    source_key,
    source_split,
    write_manifest,
)
from engine.data.fetch import (
    STATE,
    Downloader,
    PackageReport,
    check_request,
    fetch,
    read_manifest,
)
from engine.data.label_eval import auc, downbeat_f, separation
from engine.data.labels import label
from engine.data.modules import RATE, SILENT_DB, WINDOW_SECONDS, rms_db, windows
from engine.data.stem_families import LOW_SHARE, sound_features

FOF_PACKAGES = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
CHART = "notes.mid"
INI = "song.ini"
REQUIRED = ("song.ogg", "guitar.ogg", CHART)
OPTIONAL = ("rhythm.ogg",)
BACKING = "backing"  # the stem song.ogg becomes: a mix of the band without the lead guitar
PREFIX = "fof-"
REPORT_FILE = "fof-report.json"
CALIBRATION_FILE = "fof-calibration.json"
LABELS_FROM = "notes.mid tempo map and time signatures, shifted by song.ini delay"
TEMPO_TOLERANCE = 0.04
#: Tempo ratios (estimate / truth) the calibration names, nearest first within 4 %.
RATIOS = {"x1": 1.0, "x2": 2.0, "x1/2": 0.5, "x3/2": 1.5, "x2/3": 2 / 3, "x3": 3.0,
          "x1/3": 1 / 3}
THRESHOLDS = (0.2, 0.4, 0.5, 0.6)
# The confidence of a meter the chart does not state (MIDI's default 4/4, bars from tick 0):
# at the token cache's threshold, kept, but marked as not known.
ASSUMED_METER = 0.5  # 0.5: the token cache's meter threshold


class FofError(ValueError):
    """A song folder cannot be used (the message says why)."""


# --- the chart ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TempoMap:
    """A MIDI file's tempo changes and time signatures, in ticks."""

    ticks_per_beat: int
    tempos: tuple[tuple[int, int], ...]  # (tick, microseconds per quarter note), from tick 0
    signatures: tuple[tuple[int, int, int], ...]  # (tick, numerator, denominator), from 0
    track_names: tuple[str, ...]
    stated_signature: bool  # False: no time signature in the file, 4/4 is MIDI's default

    def seconds(self, tick: float) -> float:
        """Seconds from the chart's start to `tick`."""
        total, (last_tick, tempo) = 0.0, self.tempos[0]
        for at, next_tempo in self.tempos[1:]:
            if at >= tick:
                break
            total += (at - last_tick) * tempo / 1e6 / self.ticks_per_beat
            last_tick, tempo = at, next_tempo
        return total + (tick - last_tick) * tempo / 1e6 / self.ticks_per_beat

    def bar_ticks(self, until: int) -> list[int]:
        """Ticks of the bar lines before `until`; a time signature starts a new bar."""
        ticks: list[int] = []
        for i, (at, numerator, denominator) in enumerate(self.signatures):
            end = self.signatures[i + 1][0] if i + 1 < len(self.signatures) else until
            step = max(1, round(numerator * self.ticks_per_beat * 4 / denominator))
            ticks += range(at, min(end, until), step)
        return ticks

    def meter_at(self, tick: float) -> str:
        """The time signature in force at `tick`, as '4/4'."""
        current = [s for s in self.signatures if s[0] <= tick] or [self.signatures[0]]
        return f"{current[-1][1]}/{current[-1][2]}"


def read_tempo_map(path: Path) -> TempoMap:
    """The tempo map of a chart; FofError when it is no readable MIDI file."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except Exception as error:  # mido reports a broken file in many ways
        raise FofError(f"{path.name} is not a readable MIDI file "
                       f"({type(error).__name__}: {error})") from None
    if midi.ticks_per_beat <= 0 or not midi.tracks:
        raise FofError(f"{path.name} has no tracks or no tick resolution")
    tempos: dict[int, int] = {}
    signatures: dict[int, tuple[int, int]] = {}
    names = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                tempos[tick] = message.tempo  # a later event at the same tick wins
            elif message.type == "time_signature":
                signatures[tick] = (message.numerator, message.denominator)
            elif message.type == "track_name":
                names.append(str(message.name))
    tempos.setdefault(0, tempos[min(tempos)] if tempos else 500_000)  # MIDI: 120 BPM
    stated = bool(signatures)
    signatures.setdefault(0, signatures[min(signatures)] if signatures else (4, 4))
    return TempoMap(midi.ticks_per_beat, tuple(sorted(tempos.items())),
                    tuple((t, n, d) for t, (n, d) in sorted(signatures.items())),
                    tuple(names), stated)


def read_song_ini(path: Path | None) -> dict[str, str | float]:
    """Title, artist and delay (ms) of a song.ini (an absent file: no delay); FofError when it
    cannot be read or its delay is no number."""
    if path is None:
        return {"title": "", "artist": "", "delay_ms": 0.0}
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, configparser.Error) as error:
        raise FofError(f"{path.name} cannot be read ({type(error).__name__}: "
                       f"{str(error).splitlines()[0]})") from None
    section = parser["song"] if parser.has_section("song") else {}
    try:
        delay = float(section.get("delay", "0") or 0)
    except ValueError:
        raise FofError(f"{path.name}: delay {section.get('delay')!r} is no number of "
                       "milliseconds") from None
    return {"title": section.get("name", ""), "artist": section.get("artist", ""),
            "delay_ms": delay}


@dataclass(frozen=True)
class Grid:
    """A song's beats and bar lines in audio seconds (the chart shifted by the delay)."""

    beats: np.ndarray
    downbeats: np.ndarray
    tempo_map: TempoMap
    delay: float  # seconds

    def window(self, start: float, end: float) -> dict:
        """Labels of the window [start, end): beats and downbeats from its start, the BPM of
        the beats inside it (their median spacing), the meter in force at its start, and
        whether the tempo changes inside it."""
        inside = self.beats[(self.beats >= start) & (self.beats < end)]
        bars = self.downbeats[(self.downbeats >= start) & (self.downbeats < end)]
        gaps = np.diff(inside)
        # A window with under two beats: the tempo in force at its start.
        bpm = 60.0 / float(np.median(gaps)) if gaps.size else 60e6 / self._tempo_at(start)
        chart_start, chart_end = start - self.delay, end - self.delay
        changes = any(self.tempo_map.seconds(t) > chart_start
                      and self.tempo_map.seconds(t) < chart_end
                      for t, _ in self.tempo_map.tempos[1:])
        return {"bpm": round(bpm, 3), "meter": self.tempo_map.meter_at(self._tick_at(start)),
                "beats": [round(float(t - start), 4) for t in inside],
                "downbeats": [round(float(t - start), 4) for t in bars],
                "tempo_changes": changes}

    def _tick_at(self, seconds: float) -> float:
        """The chart tick heard at `seconds` of audio (by bisection on the tempo map)."""
        low, high = 0.0, float(self.tempo_map.ticks_per_beat)
        while self.tempo_map.seconds(high) < seconds - self.delay:
            high *= 2
        for _ in range(60):
            middle = (low + high) / 2
            low, high = (middle, high) if self.tempo_map.seconds(middle) < \
                seconds - self.delay else (low, middle)
        return high

    def _tempo_at(self, seconds: float) -> int:
        tick = self._tick_at(seconds)
        current = [t for t in self.tempo_map.tempos if t[0] <= tick]
        return current[-1][1]


def beat_grid(tempo_map: TempoMap, seconds: float, delay: float) -> Grid:
    """Every quarter-note beat and bar line of the chart heard within `seconds` of audio
    (the chart's time 0 is heard at `delay` s; beats before the audio starts are dropped)."""
    per_beat = tempo_map.ticks_per_beat
    ticks, tick = [], 0
    while tempo_map.seconds(tick) + delay < seconds:
        ticks.append(tick)
        tick += per_beat
    beats = np.array([tempo_map.seconds(t) + delay for t in ticks])
    bars = np.array([tempo_map.seconds(t) + delay for t in tempo_map.bar_ticks(tick)])
    return Grid(beats[beats >= 0], bars[(bars >= 0) & (bars < seconds)], tempo_map, delay)


# --- a song ----------------------------------------------------------------------------------

def rhythm_family(audio: np.ndarray, track_names: tuple[str, ...]) -> tuple[str, str]:
    """(family, why) of a rhythm.ogg: the chart's part name when it has one (PART BASS:
    bass, PART RHYTHM: a rhythm guitar), else its sound: bass when at least LOW_SHARE of its
    energy is below 250 Hz (the module channels' rule, engine.data.stem_families)."""
    upper = {n.strip().upper() for n in track_names}
    if "PART BASS" in upper and "PART RHYTHM" not in upper:
        return "bass", "notes.mid has PART BASS"
    if "PART RHYTHM" in upper:
        return "guitar", "notes.mid has PART RHYTHM"
    low = sound_features(audio, RATE)[1]
    if low >= LOW_SHARE:
        return "bass", f"{low:.0%} of its energy below 250 Hz"
    return "guitar", f"{low:.0%} of its energy below 250 Hz"


@dataclass
class Song:
    """A decoded song: its stems by name, where each came from, and its beat grid."""

    title: str
    artist: str
    delay_ms: float
    stems: dict[str, np.ndarray]  # name -> (2, frames)
    sources: dict[str, list[str]]  # stem name -> the song's files in it
    rhythm: str  # how rhythm.ogg was mapped ("" without one)
    grid: Grid

    @property
    def frames(self) -> int:
        """Length in frames at RATE."""
        return int(next(iter(self.stems.values())).shape[1])

    def mix(self) -> np.ndarray:
        """The sum of the stems."""
        total: np.ndarray = sum(self.stems.values())  # type: ignore[assignment]
        return total


def load_song(folder: Path) -> Song:
    """Decode and label one song folder; FofError for a missing or unreadable part."""
    from engine.corpus.ingest import AudioProblem
    from engine.data.recordings import decode

    missing = [n for n in REQUIRED if not (folder / n).is_file()]
    if missing:
        raise FofError(f"missing {', '.join(missing)}")
    tempo_map = read_tempo_map(folder / CHART)
    info = read_song_ini(folder / INI if (folder / INI).is_file() else None)
    audio = {}
    for name in (*REQUIRED[:2], *OPTIONAL):
        if (folder / name).is_file():
            try:
                audio[name] = decode(folder / name)
            except AudioProblem as problem:
                raise FofError(f"{name}: {problem}") from None
    frames = max(a.shape[1] for a in audio.values())
    audio = {n: np.pad(a, ((0, 0), (0, frames - a.shape[1]))) for n, a in audio.items()}
    stems = {"guitar": audio["guitar.ogg"], BACKING: audio["song.ogg"]}
    sources = {"guitar": ["guitar.ogg"], BACKING: ["song.ogg"]}
    rhythm = ""
    if "rhythm.ogg" in audio:
        family, why = rhythm_family(audio["rhythm.ogg"], tempo_map.track_names)
        rhythm = f"rhythm.ogg -> {family} ({why})"
        stems[family] = stems.get(family, 0) + audio["rhythm.ogg"]
        sources.setdefault(family, []).append("rhythm.ogg")
    delay = float(info["delay_ms"]) / 1000
    grid = beat_grid(tempo_map, frames / RATE, delay)
    return Song(str(info["title"]) or folder.name, str(info["artist"]), float(info["delay_ms"]),
                stems, sources, rhythm, grid)


def write_examples(song: Song, base: dict, shard: Path,
                   window_seconds: float = WINDOW_SECONDS, bits: int = 16
                   ) -> tuple[int, float]:
    """Write the windows of one song into `shard`; (examples, seconds)."""
    writer = ShardWriter(shard)
    count, seconds = 0, 0.0
    names = sorted(song.stems)
    mix = song.mix()
    for number, (a, b) in enumerate(windows(song.frames, window_seconds)):
        if rms_db(mix[:, a:b]) < SILENT_DB:
            continue
        present = [n for n in names if rms_db(song.stems[n][:, a:b]) >= SILENT_DB]
        stems, window_mix = balance(np.stack([song.stems[n][:, a:b] for n in present]), bits,
                                    normalize=False)
        estimate = label(window_mix, RATE)
        truth = song.grid.window(a / RATE, b / RATE)
        meta = {**base, **truth, "start_s": round(a / RATE, 4),
                "seconds": round((b - a) / RATE, 4), "frames": b - a, "window": number,
                "key_name": estimate.key_name, "key_tonic": estimate.key_tonic,
                "mode": estimate.mode,
                "label_confidence": {"bpm": 1.0,
                                     "meter": 1.0 if base["meter_stated"] else ASSUMED_METER,
                                     "key": round(estimate.key_confidence, 3)},
                "labeller_estimate": estimate.to_meta(),
                "stems": [{"name": n, "family": n, "files": song.sources[n]} for n in present]}
        files = {f"{n}.flac": encode_flac(s, bits) for n, s in zip(present, stems, strict=True)}
        files["mix.flac"] = encode_flac(window_mix, bits)
        writer.add(f"{shard.stem}-{number:03d}", meta, files)
        count, seconds = count + 1, seconds + (b - a) / RATE
    if count:
        writer.close()
    return count, seconds


# --- many songs -------------------------------------------------------------------------------

@dataclass
class SongResult:
    """What became of one song folder."""

    package: str
    folder: str
    status: str  # "written", "already done", "skipped"
    why: str = ""
    title: str = ""
    seconds: float = 0.0
    bpm: list[float] = field(default_factory=list)  # the chart's tempi
    meter: str = ""
    delay_ms: float = 0.0
    stems: dict[str, list[str]] = field(default_factory=dict)
    rhythm: str = ""
    examples: int = 0
    example_seconds: float = 0.0
    split: str = ""
    shard: str = ""


def find_songs(data: Path) -> dict[str, list[dict]]:
    """Manifest rows of each song folder (a folder holding a chart or a song.ini) of a
    fetched data folder, by folder (reserved packages raise, in read_manifest)."""
    folders: dict[str, list[dict]] = {}
    for row in read_manifest(data):
        path = PurePosixPath(str(row["path"]))
        folders.setdefault(str(path.parent), []).append(row)
    return {folder: rows for folder, rows in sorted(folders.items())
            if {PurePosixPath(str(r["path"])).name.lower() for r in rows} & {CHART, INI}}


def song_key(package: str, folder: str) -> str:
    """A short stable name for a song: package and folder name, made safe."""
    return f"{package}-{source_key(f'{package}/{folder}', PurePosixPath(folder).name)}"


def song_split(package: str, folder: str, seed: int,
               fractions: tuple[float, float, float]) -> str:
    """The split of a whole song: a stable draw on its package and folder."""
    return source_split(f"{package}/{folder}", seed, fractions)


def ensure_fetched(data: Path, packages: tuple[str, ...] = FOF_PACKAGES,
                   download: Downloader | None = None) -> list[PackageReport]:
    """Fetch those of `packages` that data folder `data` does not hold complete yet
    (engine.data.fetch: apt-get download, or `download`); the reports of what was fetched."""
    from engine.data.sources import load_sources

    missing = [p for p in packages if not (data / STATE / f"{p}.done.json").is_file()]
    if not missing:
        return []
    reports: list[PackageReport] = fetch(check_request(missing, load_sources()), data,
                                         data / ".cache", download)
    return reports


def licence_of(package: str, manifest_licence: str) -> str:
    """The source table's licence for a package where it names one (the copyright files
    of these packages have no machine-readable licence line), else the manifest's."""
    from engine.data.sources import load_sources

    source = load_sources().get(package)
    named: str = source.licence if source is not None else "check copyright"
    return manifest_licence if named == "check copyright" else named


def prepare_fof(data: Path, out: Path, seed: int = 0,
                fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
                window_seconds: float = WINDOW_SECONDS, force: bool = False,
                progress: Callable[[SongResult], None] | None = None) -> list[SongResult]:
    """Turn the Frets on Fire songs of data folder `data` into corpus shards under `out`.
    FofError when `out` was split with another seed or fractions (a song would land in two
    splits)."""
    settings = {"seed": seed, "fractions": list(fractions)}
    manifest = out / "manifest.json"
    if manifest.is_file():
        before = json.loads(manifest.read_text()).get("fof", {})
        if any(key in before and before[key] != value for key, value in settings.items()):
            raise FofError(f"{out} was split with seed {before.get('seed')} and fractions "
                           f"{before.get('fractions')}: use those, or another folder")
    out.mkdir(parents=True, exist_ok=True)
    earlier = _read_report(out / REPORT_FILE)
    results = []
    for folder, rows in find_songs(data).items():
        package = str(rows[0]["package"])
        key = song_key(package, folder)
        split = song_split(package, folder, seed, fractions)
        shard = out / f"{PREFIX}{split}-{key}.tar"
        result = SongResult(package, folder, "already done", split=split, shard=shard.name)
        if shard_done(shard) and not force:
            if folder in earlier:  # keep what the run that wrote the shard measured
                result = SongResult(**{**earlier[folder], "status": "already done"})
            results.append(_notify(result, progress))
            continue
        start = time.perf_counter()
        try:
            song = load_song(data / folder)
        except FofError as error:
            result.status, result.why = "skipped", str(error)
            results.append(_notify(result, progress))
            continue
        by_name = {PurePosixPath(str(r["path"])).name: r for r in rows}
        base = {"source": "fof", "package": package, "version": rows[0].get("version"),
                "licence": licence_of(package, str(rows[0].get("licence", ""))),
                "file": folder, "song": key, "title": song.title, "artist": song.artist,
                "files_sha256": {n: r.get("sha256") for n, r in sorted(by_name.items())},
                "delay_ms": song.delay_ms, "sample_rate": RATE, "bits": 16, "split": split,
                "captions": [], "labels_from": LABELS_FROM,
                "meter_stated": song.grid.tempo_map.stated_signature}
        result.examples, result.example_seconds = write_examples(song, base, shard,
                                                                 window_seconds)
        result.status = "written" if result.examples else "skipped"
        result.why = (f"{time.perf_counter() - start:.1f} s" if result.examples
                      else "no window above the silence level")
        result.title, result.seconds = song.title, round(song.frames / RATE, 3)
        result.bpm = sorted({round(60e6 / t, 3) for _, t in song.grid.tempo_map.tempos})
        result.meter = ", ".join(dict.fromkeys(f"{n}/{d}" for _, n, d in
                                               song.grid.tempo_map.signatures))
        result.delay_ms, result.stems, result.rhythm = song.delay_ms, song.sources, song.rhythm
        result.example_seconds = round(result.example_seconds, 3)
        results.append(_notify(result, progress))
    seen = {r.folder for r in results}
    report = [asdict(r) for r in results] + [r for f, r in earlier.items() if f not in seen]
    atomic_write_bytes(out / REPORT_FILE, json.dumps(report, indent=1).encode())
    write_manifest(out, {"fof": {"window_seconds": window_seconds, "rate": RATE,
                                 **settings}})
    return results


def _notify(result: SongResult, progress: Callable[[SongResult], None] | None) -> SongResult:
    if progress is not None:
        progress(result)
    return result


def _read_report(path: Path) -> dict[str, dict]:
    """An earlier run's report, by song folder (empty when absent or unreadable)."""
    try:
        return {r["folder"]: r for r in json.loads(path.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


# --- calibration -----------------------------------------------------------------------------

def tempo_ratio(estimate: float, truth: float) -> str:
    """The name of the ratio in RATIOS within 4 % of estimate / truth, else 'other'."""
    ratio = estimate / truth
    for name, factor in RATIOS.items():
        if abs(ratio / factor - 1.0) <= TEMPO_TOLERANCE:
            return name
    return "other"


def calibration_row(meta: dict) -> dict:
    """The labeller's estimate of one FoF window beside the chart's truth."""
    estimate = meta["labeller_estimate"]
    confidence = estimate["label_confidence"]
    row = {"key": meta["key"], "song": meta["song"], "bpm_true": meta["bpm"],
           "bpm": estimate["bpm"], "ratio": tempo_ratio(estimate["bpm"], meta["bpm"]),
           "bpm_confidence": confidence["bpm"],
           "meter_true": meta["meter"], "meter": estimate["meter"],
           "meter_confidence": confidence["meter"],
           "beat_f": downbeat_f(estimate["beats"], meta["beats"]),
           "downbeat_f": downbeat_f(estimate["downbeats"], meta["downbeats"]),
           "meter_stated": bool(meta.get("meter_stated", True))}
    # The bar grid the token cache would take from the labels (docs/data.md): tempo within
    # 4 %, the bar length right and the downbeats at F >= 0.5.
    row["grid_right"] = (row["ratio"] == "x1" and row["meter"] == row["meter_true"]
                         and row["downbeat_f"] >= 0.5)
    return row


def summarise(rows: list[dict]) -> dict:
    """Tempo ratios, meter, beat and downbeat F-measures and confidence separation."""
    n = len(rows)
    ratios = [r["ratio"] for r in rows]
    tempo_right = [r == "x1" for r in ratios]
    meter_right = [r["meter"] == r["meter_true"] for r in rows]
    downbeat_ok = [r["downbeat_f"] >= 0.5 for r in rows]
    grid = [r["grid_right"] for r in rows]
    songs = sorted({r["song"] for r in rows})

    def separated(confidence: str, right: list[bool]) -> dict:
        return separation([r[confidence] for r in rows], right, THRESHOLDS)

    return {
        "windows": n, "songs": len(songs),
        "tempo_ratio": {name: ratios.count(name) for name in [*RATIOS, "other"]},
        "tempo_within_4pct": round(float(np.mean(tempo_right)), 3),
        "tempo_confidence": separated("bpm_confidence", tempo_right),
        "meter_accuracy": round(float(np.mean(meter_right)), 3),
        "meter_confidence": separated("meter_confidence", meter_right),
        "beat_f_mean": round(float(np.mean([r["beat_f"] for r in rows])), 3),
        "downbeat_f_mean": round(float(np.mean([r["downbeat_f"] for r in rows])), 3),
        "downbeat_f_at_least_0.5": round(float(np.mean(downbeat_ok)), 3),
        "downbeat_confidence": separated("meter_confidence", downbeat_ok),
        "grid_right": round(float(np.mean(grid)), 3),
        "grid_meter_confidence": separated("meter_confidence", grid),
        "grid_tempo_confidence": {"auc": None if (a := auc(
            [r["bpm_confidence"] for r in rows], grid)) is None else round(a, 3)},
        "per_song": {song: {
            "windows": sum(r["song"] == song for r in rows),
            "bpm_true": sorted({r["bpm_true"] for r in rows if r["song"] == song}),
            "tempo_ratio": {k: v for k in [*RATIOS, "other"] if (v := sum(
                r["ratio"] == k for r in rows if r["song"] == song))},
            "downbeat_f_mean": round(float(np.mean([r["downbeat_f"] for r in rows
                                                    if r["song"] == song])), 3),
            "grid_right": sum(r["grid_right"] for r in rows if r["song"] == song)}
            for song in songs},
    }


def calibration(out: Path) -> tuple[list[dict], dict]:
    """Score the labeller's estimates stored in a FoF corpus against the charts; writes
    OUT/fof-calibration.json and returns (rows, summary)."""
    rows = [calibration_row(m) for m in read_index(out)
            if m.get("source") == "fof" and "labeller_estimate" in m]
    if not rows:
        raise FofError(f"{out}: no Frets on Fire example to calibrate on")
    summary = summarise(rows)
    # A chart without a time signature gets MIDI's 4/4 and bar lines from its first tick:
    # an assumption, so its windows are also scored apart from those of stated meters.
    for name, stated in (("meter_stated", True), ("meter_assumed", False)):
        part = [r for r in rows if r["meter_stated"] is stated]
        if part:
            summary[name] = {k: v for k, v in summarise(part).items() if k != "per_song"}
    atomic_write_bytes(out / CALIBRATION_FILE,
                       json.dumps({"summary": summary, "rows": rows}, indent=1).encode())
    return rows, summary
