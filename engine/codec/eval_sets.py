"""The clips ``stemloom eval codec`` scores, picked deterministically and never from a
package reserved for evaluation (engine.data.reserved): this evaluation steers codec work,
so it must not see the packages kept for the final word.

- held-out real music: the ``test`` split of a prepared recordings corpus (whole packages
  held out), or a folder of the user's own audio files, or without either the few real
  recordings this machine ships;
- held-out corpus clips: the validation and test splits of a (synthetic) corpus.
"""

from __future__ import annotations

import io as _io
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.codec import io
from engine.codec.config import SAMPLE_RATE
from engine.codec.data import index_tracks, read_track, track_frames
from engine.corpus.shards import iter_examples, read_index, read_manifest
from engine.data.reserved import ReservedSourceError, is_reserved, refuse_reserved

Clip = tuple[str, np.ndarray]  # (where it came from, float32 (2, samples))

# Real recordings that ship with software on Debian/pyenv machines; none is music proper.
REAL_CANDIDATES = (
    "/root/.pyenv/versions/3.11.7/lib/python3.11/test/audiodata/pluck-pcm32.wav",
)
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}
SEED = 1234  # the one draw behind every pick, so two runs score the same clips
QUIET_RMS = 3e-3  # about -50 dBFS: a clip this quiet says nothing about the codec


class EvalSetError(ValueError):
    """A set to evaluate on is missing or holds nothing usable."""


def row_packages(row: object) -> set[str]:
    """Every value a corpus row (its metadata, nested) carries under a key ``package``."""
    if isinstance(row, dict):
        found = {v for k, v in row.items() if k == "package" and isinstance(v, str)}
        return found.union(*(row_packages(v) for v in row.values()))
    if isinstance(row, list):
        return set().union(*(row_packages(v) for v in row))
    return set()


def _refuse_reserved_rows(rows: Iterable[dict]) -> None:
    for row in rows:
        for package in sorted(row_packages(row)):
            refuse_reserved(package)


def _split_rows(root: Path, splits: tuple[str, ...]) -> list[dict]:
    """The index rows of the shards the manifest puts in ``splits``."""
    shards = {s["name"] for s in read_manifest(root)["shards"] if s["split"] in splits}
    return [row for row in read_index(root) if row.get("shard") in shards]


def _middle(audio: np.ndarray, length: int) -> np.ndarray | None:
    """The middle ``length`` samples, or None when shorter or near silent."""
    if audio.shape[1] < length:
        return None
    start = audio.shape[1] // 2 - length // 2
    clip = np.ascontiguousarray(audio[:, start : start + length])
    return clip if np.sqrt(np.mean(np.square(clip, dtype=np.float64))) >= QUIET_RMS else None


def heldout_clips(root: Path, seconds: float, count: int,
                  splits: tuple[str, ...] = ("validation", "test")) -> list[Clip]:
    """Deterministic clips from a corpus's held-out splits: half mixes, half single stems,
    each the middle ``seconds`` of its track, near-silent ones skipped."""
    _refuse_reserved_rows(_split_rows(root, splits))
    tracks = []
    for split in splits:
        try:
            tracks += index_tracks(root, split)
        except ValueError:  # a small corpus may lack one held-out split
            continue
    if not tracks:
        raise EvalSetError(f"{root}: no held-out ({' or '.join(splits)}) audio in the corpus")
    mixes = [t for t in tracks if t.name.endswith(".mix.flac")]
    stems = [t for t in tracks if not t.name.endswith(".mix.flac")]
    rng = np.random.default_rng(SEED)
    length = round(seconds * SAMPLE_RATE)
    clips = []
    for pool, want in ((mixes, count // 2), (stems, count - count // 2)):
        taken = 0
        for i in rng.permutation(len(pool)):
            if taken == want:
                break
            track = pool[int(i)]
            frames = track_frames(track)
            if frames < length:
                continue
            clip = _middle(read_track(track, frames // 2 - length // 2, length), length)
            if clip is None:
                continue
            clips.append((f"{track.shard.stem}/{track.name}", clip))
            taken += 1
    return clips


def package_queues(rows: list[dict]) -> dict[str, list[str]]:
    """Per package (sorted by name), its example keys in pick order: its files in turn (in
    a seeded order), each file's windows in a seeded order, so a package's first N keys
    cover as many of its files as N allows."""
    rng = np.random.default_rng(SEED)
    by_package: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in sorted(rows, key=lambda r: r["key"]):
        by_package[str(row.get("package", ""))][str(row.get("file", row["key"]))].append(
            row["key"])
    queues = {}
    for package in sorted(by_package):
        files = [by_package[package][f] for f in sorted(by_package[package])]
        files = [[keys[i] for i in rng.permutation(len(keys))]
                 for keys in (files[j] for j in rng.permutation(len(files)))]
        queues[package] = [k for turn in itertools.zip_longest(*files) for k in turn
                           if k is not None]
    return queues


def recording_clips(root: Path, seconds: float, count: int) -> tuple[list[Clip], dict]:
    """Up to ``count`` clips, the middle ``seconds`` of examples' ``mix.flac`` in the
    ``test`` split of a prepared recordings corpus: packages take turns, each giving its
    next window (``package_queues``) that is long enough and not near silent; and how
    many clips each package gave."""
    rows = _split_rows(root, ("test",))
    if not rows:
        raise EvalSetError(f"{root}: the corpus has no test split (held-out packages)")
    _refuse_reserved_rows(rows)
    queues = package_queues(rows)
    # Each package's share plus room for skipped windows, so the split is never held whole.
    depth = 2 * -(-count // len(queues)) + 2
    wanted = {key for keys in queues.values() for key in keys[:depth]}
    found: dict[str, bytes] = {}
    for example in iter_examples(root, "test", shuffle_buffer=1, decode=False):
        if example["key"] in wanted and "mix.flac" in example:
            found[example["key"]] = example["mix.flac"]
    length = round(seconds * SAMPLE_RATE)
    pending = {package: [k for k in keys[:depth] if k in found]
               for package, keys in queues.items()}
    clips: list[Clip] = []
    taken: dict[str, int] = defaultdict(int)
    while len(clips) < count and any(pending.values()):
        for package, keys in pending.items():
            while keys and len(clips) < count:
                clip = _mix_clip(root, keys.pop(0), found, length)
                if clip is not None:
                    clips.append((f"{package}/{clip[0]}", clip[1]))
                    taken[package] += 1
                    break
    return clips, {"packages": dict(sorted(taken.items())), "windows_in_split": len(rows)}


def _mix_clip(root: Path, key: str, found: dict[str, bytes], length: int) -> Clip | None:
    audio, rate = sf.read(_io.BytesIO(found[key]), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE or audio.shape[1] != 2:
        raise EvalSetError(f"{root}: {key} is {rate} Hz, {audio.shape[1]} channels; the "
                           f"corpus format is {SAMPLE_RATE} Hz stereo")
    clip = _middle(audio.T, length)
    return None if clip is None else (key, clip)


def _audio_files(folder: Path) -> Iterator[Path]:
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        named = [part for part in path.resolve().parts[:-1] if is_reserved(part)]
        if named:
            raise ReservedSourceError(named[0])
        yield path


def folder_clips(folder: Path, seconds: float, count: int) -> list[Clip]:
    """The middle ``seconds`` of the first ``count`` audio files under ``folder`` (sorted by
    path; a file shorter than that is taken whole), refusing any under a folder named
    after a reserved package."""
    length = round(seconds * SAMPLE_RATE)
    clips = []
    for path in itertools.islice(_audio_files(folder), count):
        audio = io.read_audio(path, SAMPLE_RATE)
        start = max(0, audio.shape[1] // 2 - length // 2)
        clips.append((str(path), np.ascontiguousarray(audio[:, start : start + length])))
    if not clips:
        raise EvalSetError(f"{folder}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) "
                           "and no corpus manifest.json")
    return clips


def real_clips(real: Path | None, seconds: float, count: int) -> tuple[list[Clip], dict]:
    """Held-out real music and a note on where it came from: ``real`` is a prepared
    recordings corpus (it has a manifest.json) or a folder of audio files; without it, the
    real recordings this machine ships (whole; none is music proper)."""
    if real is None:
        clips = [(p, io.read_audio(Path(p), SAMPLE_RATE)) for p in REAL_CANDIDATES
                 if Path(p).is_file()]
        return clips, {"source": "no --real given: the only real (non-synthesised) "
                                 "recordings found on this machine, whole"}
    if not real.is_dir():
        raise EvalSetError(f"{real} is not a folder")
    if (real / "manifest.json").is_file():
        try:
            read_manifest(real)
        except ValueError as error:
            raise EvalSetError(str(error)) from error
        clips, taken = recording_clips(real, seconds, count)
        return clips, {"source": f"test split (whole held-out packages) of the recordings "
                                 f"corpus {real}: the middle {seconds:g} s of a window",
                       **taken}
    return folder_clips(real, seconds, count), {
        "source": f"the middle {seconds:g} s of the first {count} audio files under {real}"}
