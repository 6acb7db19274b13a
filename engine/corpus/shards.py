"""The corpus format: tar shards of examples, a JSONL index beside each, one manifest.

    ROOT/manifest.json           format, version, sample rate, shard list with split and counts
    ROOT/train-000000.tar        members KEY.mix.flac, KEY.<stem>.flac, KEY.hum.flac, KEY.mid,
    ROOT/train-000000.jsonl      KEY.json (WebDataset-style); the .jsonl holds the same metadata
                                 one example per line, so stats never open a tar

An example with stems may leave KEY.mix.flac out (v2 builds do): the mix is exactly the sum
of the stems, and the readers derive it (engine.corpus.mixdown).

Shards are written to a temporary name and renamed when complete, so a crash never leaves a
half-written shard, and a rebuild skips the shards already there.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bridge.atomic import atomic_write_bytes
from engine.codec.config import SAMPLE_RATE
from engine.corpus.mixdown import with_mix

FORMAT = "stemloom-corpus"
VERSION = 1
SPLITS = ("train", "validation", "test")


def split_of(seed: int, index: int, fractions: tuple[float, float, float]) -> str:
    """The split of example `index` in a corpus built with `seed`: a stable hash draw."""
    u = np.random.default_rng([seed, index, 7]).random()
    if u < fractions[0]:
        return "train"
    return "validation" if u < fractions[0] + fractions[1] else "test"


def source_key(source: str, shown: str) -> str:
    """A short stable name for one imported source (a file, a song folder): ``shown`` made
    safe and cut to 40 characters, and 6 hex digits of a hash of ``source``, its identity."""
    safe = re.sub(r"[^A-Za-z0-9]+", "-", shown).strip("-")[:40]
    return f"{safe}-{hashlib.sha256(source.encode()).hexdigest()[:6]}"


def source_split(source: str, seed: int, fractions: tuple[float, float, float]) -> str:
    """The split of everything cut from one imported source: a stable draw on its identity,
    so a whole song, module or project lands in one split."""
    return split_of(seed, int(hashlib.sha256(source.encode()).hexdigest()[:8], 16), fractions)


class ShardWriter:
    """Collects examples into one tar (reproducible bytes: fixed times and owners) and its
    JSONL index, and publishes both only on `close`."""

    def __init__(self, path: Path) -> None:
        """Start a shard that will appear at `path` (a .tar)."""
        self.path = path
        self._buffer = io.BytesIO()
        # Open across add() calls by design; close() finishes it.
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._buffer, mode="w", format=tarfile.USTAR_FORMAT)
        self._lines: list[str] = []

    def add(self, key: str, meta: dict, files: dict[str, bytes]) -> None:
        """Add example `key` with its metadata and files (name → bytes)."""
        meta = {**meta, "key": key, "shard": self.path.name}
        members = {**files, "json": json.dumps(meta, sort_keys=True).encode()}
        for name in sorted(members):
            info = tarfile.TarInfo(f"{key}.{name}")
            info.size = len(members[name])
            info.mtime = 0
            info.mode = 0o644
            self._tar.addfile(info, io.BytesIO(members[name]))
        self._lines.append(json.dumps(meta, sort_keys=True))

    def close(self) -> None:
        """Finish the tar, then publish the tar and then its index (the index marks done)."""
        self._tar.close()
        atomic_write_bytes(self.path, self._buffer.getvalue())
        atomic_write_bytes(self.path.with_suffix(".jsonl"), "".join(f"{x}\n" for x in self._lines)
                     .encode())


def shard_done(path: Path) -> bool:
    """True when the shard and its index were both published."""
    return path.exists() and path.with_suffix(".jsonl").exists()


def read_index(root: Path) -> Iterator[dict]:
    """Every example's metadata, shard by shard in name order (no audio is read)."""
    for index in sorted(Path(root).glob("*.jsonl")):
        with index.open() as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def write_manifest(root: Path, extra: dict | None = None) -> dict:
    """Rebuild ROOT/manifest.json from the shard indexes present, keeping the fields an
    earlier manifest had (a build's seed survives a later ingest into the same folder)."""
    root = Path(root)
    previous = root / "manifest.json"
    kept = json.loads(previous.read_text()) if previous.is_file() else {}
    shards = []
    for index in sorted(root.glob("*.jsonl")):
        rows = [json.loads(x) for x in index.read_text().splitlines() if x.strip()]
        splits = {r.get("split", "train") for r in rows}
        shards.append({"name": index.with_suffix(".tar").name,
                       "split": splits.pop() if len(splits) == 1 else "mixed",
                       "examples": len(rows),
                       "seconds": round(sum(r["seconds"] for r in rows), 3)})
    manifest = {**kept, **(extra or {}), "format": FORMAT, "version": VERSION,
                "sample_rate": SAMPLE_RATE, "shards": shards}
    atomic_write_bytes(root / "manifest.json",
                       json.dumps(manifest, indent=1, sort_keys=True).encode())
    return manifest


def read_manifest(root: Path) -> dict:
    """The manifest of a corpus (raises FileNotFoundError when there is none)."""
    manifest = json.loads((Path(root) / "manifest.json").read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{root} is not a {FORMAT} directory")
    return manifest


def _decode(name: str, data: bytes) -> object:
    if name.endswith(".flac"):
        import soundfile as sf

        audio, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return audio.T  # (channels, frames)
    if name == "json":
        return json.loads(data)
    return data


def _read_shard(path: Path, decode: bool, derive_mix: bool) -> Iterator[dict]:
    finish = (lambda e: with_mix(e, decode)) if derive_mix else (lambda e: e)
    with tarfile.open(path) as tar:
        current: dict = {}
        key = None
        for member in tar:
            name_key, _, name = member.name.partition(".")
            if key is not None and name_key != key:
                yield finish(current)
                current = {}
            key = name_key
            data = tar.extractfile(member).read()
            current[name] = _decode(name, data) if decode else data
            current["key"] = key
        if current:
            yield finish(current)


def iter_examples(root: Path, split: str | None = "train", seed: int = 0, epoch: int = 0,
                  shuffle_buffer: int = 64, rank: int = 0, world_size: int = 1,
                  decode: bool = True, derive_mix: bool = True) -> Iterator[dict]:
    """Stream examples of `split` (None: all) in a shuffled order fixed by (seed, epoch).

    Shards are shuffled, dealt round-robin to `rank` of `world_size` readers (DDP workers
    never see the same shard), and examples pass a shuffle buffer of `shuffle_buffer`.
    Each example is a dict: 'key', 'json' (metadata), and decoded audio per FLAC member as
    float32 (channels, frames) (raw bytes when `decode` is False). An example with stems
    whose mix was not stored gets 'mix.flac' derived from them, exactly (mixdown.py), unless
    `derive_mix` is False (for readers that sum only the stretch they read).
    """
    manifest = read_manifest(root)
    names = [s["name"] for s in manifest["shards"] if split is None or s["split"] == split]
    rng = np.random.default_rng([seed, epoch])
    names = [names[i] for i in rng.permutation(len(names))][rank::world_size]
    buffer: list[dict] = []
    for name in names:
        for example in _read_shard(Path(root) / name, decode, derive_mix):
            buffer.append(example)
            if len(buffer) >= max(1, shuffle_buffer):
                yield buffer.pop(int(rng.integers(len(buffer))))
    while buffer:
        yield buffer.pop(int(rng.integers(len(buffer))))
