"""Bring a user's own audio, with captions, into the corpus format.

The folder holds audio (WAV, FLAC, MP3, OGG, AIFF) and a captions table, `captions.csv` or
`captions.jsonl` (or one named on the command line). A row names its audio in `file`
(or `path`/`audio`) and its text in `caption` (or `text`/`description`); optional `genre`,
`bpm`, `key` and `mode` are kept. Stems are optional: JSONL `"stems": {"drums": "a.wav"}` or
CSV columns `stem_drums`, `stem_bass`, ...; with stems the mix is their sum, as in synthetic
examples. Every audio file not named in the table becomes an uncaptioned example.

Corrupt, empty, missing and odd-rate files are reported one by one; odd rates are
resampled to 32 kHz with soxr and kept, and so is every good file.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.corpus.example import encode_flac
from engine.corpus.render import SAMPLE_RATE, balance
from engine.corpus.shards import ShardWriter, split_of, write_manifest

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".aif", ".aiff"}
FILE_KEYS = ("file", "path", "audio")
CAPTION_KEYS = ("caption", "text", "description", "prompt")
KEPT_FIELDS = ("genre", "bpm", "key", "mode")


@dataclass
class IngestReport:
    """What an ingest kept and what it had to say about each file."""

    kept: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, what happened)
    notes: list[tuple[str, str]] = field(default_factory=list)  # kept, with a remark

    def summary(self) -> str:
        """A readable multi-line report."""
        lines = [f"kept {len(self.kept)} example(s)"]
        lines += [f"  skipped {path}: {why}" for path, why in self.problems]
        lines += [f"  note {path}: {what}" for path, what in self.notes]
        return "\n".join(lines)


class AudioProblem(Exception):
    """A file that cannot become training audio (corrupt, empty, missing)."""


def load_audio(path: Path, report: IngestReport) -> np.ndarray:
    """Read `path` as float32 stereo (2, frames) at 32 kHz; notes resampling and channel
    changes in `report`, raises AudioProblem for files that cannot be used."""
    import soundfile as sf

    if not path.is_file():
        raise AudioProblem("missing")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile reports every unreadable file its own way
        raise AudioProblem(f"corrupt or unreadable ({type(err).__name__}: {err})") from err
    if audio.shape[0] == 0:
        raise AudioProblem("empty (no audio frames)")
    if not np.isfinite(audio).all():
        raise AudioProblem("corrupt (non-finite samples)")
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    elif audio.shape[1] > 2:
        report.notes.append((path.name, f"kept the first 2 of {audio.shape[1]} channels"))
        audio = audio[:, :2]
    if rate != SAMPLE_RATE:
        import soxr

        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
        report.notes.append((path.name, f"resampled from {rate} Hz to {SAMPLE_RATE} Hz"))
    return np.ascontiguousarray(audio.T)


def read_table(path: Path) -> list[dict]:
    """Rows of a captions table (.csv or .jsonl) as dicts."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return [dict(row) for row in csv.DictReader(f)]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _first(row: dict, keys: tuple[str, ...]) -> str:
    return next((str(row[k]).strip() for k in keys if row.get(k)), "")


def _stems_of(row: dict) -> dict[str, str]:
    stems = row.get("stems") or {}
    if isinstance(stems, str):  # a JSON object inside a CSV cell
        stems = json.loads(stems)
    stems = dict(stems)
    stems.update({k[5:]: v for k, v in row.items() if k.startswith("stem_") and v})
    return {re.sub(r"[^a-z0-9_]+", "_", name.lower()): str(p) for name, p in stems.items()}


def _find_table(folder: Path) -> Path | None:
    for name in ("captions.jsonl", "captions.csv", "metadata.jsonl", "metadata.csv"):
        if (folder / name).is_file():
            return folder / name
    return None


def _entries(folder: Path, table: Path | None, report: IngestReport) -> list[dict]:
    """Rows from the table, then an uncaptioned row for every audio file it does not name."""
    rows = read_table(table) if table else []
    named: set[str] = set()
    entries = []
    for row in rows:
        stems = _stems_of(row)
        entry = {"file": _first(row, FILE_KEYS), "caption": _first(row, CAPTION_KEYS),
                 "stems": stems, **{k: row[k] for k in KEPT_FIELDS if row.get(k)}}
        if not entry["file"] and not stems:
            report.problems.append((json.dumps(row)[:80], "row names no audio file"))
            continue
        named.update([entry["file"], *stems.values()])
        entries.append(entry)
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.suffix.lower() in AUDIO_SUFFIXES and relative not in named:
            report.notes.append((relative, "no caption in the table: kept uncaptioned"))
            entries.append({"file": relative, "caption": "", "stems": {}})
    return entries


def _load_entry(folder: Path, entry: dict,
                report: IngestReport) -> tuple[list[str], np.ndarray] | None:
    """(stem names, audio (stems, 2, frames)) for one entry; stems that fail are reported and
    left out. Without stems the single 'mix' is the file itself."""
    sources = entry["stems"] or {"mix": entry["file"]}
    names, tracks = [], []
    for name, relative in sources.items():
        try:
            tracks.append(load_audio(folder / relative, report))
            names.append(name)
        except AudioProblem as problem:
            report.problems.append((relative, str(problem)))
    if not tracks:
        return None
    frames = max(t.shape[1] for t in tracks)
    audio = np.zeros((len(tracks), 2, frames), dtype=np.float32)
    for i, track in enumerate(tracks):
        audio[i, :, : track.shape[1]] = track
    return names, audio


def ingest(folder: Path, out: Path, table: Path | None = None, seed: int = 0,
           shard_size: int = 16, fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
           bits: int = 16, prefix: str = "ingest-") -> IngestReport:
    """Ingest `folder` into the corpus at `out` (created, or added to) and report."""
    folder, out = Path(folder), Path(out)
    report = IngestReport()
    table = Path(table) if table else _find_table(folder)
    entries = _entries(folder, table, report)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, ShardWriter] = {}
    counts: dict[str, int] = {}
    for index, entry in enumerate(entries):
        loaded = _load_entry(folder, entry, report)
        if loaded is None:
            continue
        names, audio = loaded
        has_stems = bool(entry["stems"])
        stems, mix = balance(audio, bits, normalize=False)
        label = entry["file"] or next(iter(entry["stems"].values()))
        key = f"u{index:06d}_" + re.sub(r"[^A-Za-z0-9_-]+", "_", Path(label).stem)[:40]
        split = split_of(seed, index, fractions)
        meta = {"source": "user", "file": entry["file"], "captions": [entry["caption"]]
                if entry["caption"] else [], "seconds": round(mix.shape[1] / SAMPLE_RATE, 4),
                "frames": int(mix.shape[1]), "sample_rate": SAMPLE_RATE, "bits": bits,
                "split": split,
                "stems": [{"name": n, "family": n, "file": entry["stems"][n]} for n in names]
                if has_stems else [],
                **{k: entry[k] for k in KEPT_FIELDS if k in entry}}
        files = {"mix.flac": encode_flac(mix, bits)}
        if has_stems:
            files.update({f"{n}.flac": encode_flac(s, bits) for n, s in zip(names, stems,
                                                                            strict=True)})
        writer = _writer(writers, counts, out, prefix, split, shard_size)
        writer.add(key, meta, files)
        report.kept.append(label)
    for writer in writers.values():
        writer.close()
    write_manifest(out)
    return report


def _writer(writers: dict[str, ShardWriter], counts: dict[str, int], out: Path, prefix: str,
            split: str, shard_size: int) -> ShardWriter:
    """The open shard of `split`, starting a new one every `shard_size` examples."""
    n = counts.get(split, 0)
    if n % shard_size == 0:
        if split in writers:
            writers[split].close()
        writers[split] = ShardWriter(out / f"{prefix}{split}-{n // shard_size:06d}.tar")
    counts[split] = n + 1
    return writers[split]
