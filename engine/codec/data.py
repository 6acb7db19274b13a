"""Training and evaluation clips from corpus shards, by random access.

The batch for a training step is a pure function of (seed, rank, step): resuming a run at
step N reads exactly the clips an uninterrupted run would have read, with no reader state to
checkpoint. Clips are cut from the mix or from single stems (the codec codes both), decoded
straight from the FLAC member inside the tar (seeking, so a 1 s clip decodes 1 s). Where a
corpus left an example's mix out, its clip is the exact sum of the same stretch of its stems.
"""

from __future__ import annotations

import io
import queue
import tarfile
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from engine.corpus.mixdown import MIX, stem_members, sum_stems
from engine.corpus.shards import read_manifest


@dataclass(frozen=True)
class Track:
    """One FLAC member of a shard: where its bytes are; or a mix that was not stored, the
    sum of its `parts` (the example's stem tracks)."""

    shard: Path
    name: str
    offset: int
    size: int
    parts: tuple[Track, ...] = ()


def index_tracks(root: Path, split: str) -> list[Track]:
    """Every mix and stem FLAC (not the hum) of the `split` shards, in a stable order; a
    mix left out of the shard is listed under its usual name, as the sum of the stems."""
    manifest = read_manifest(root)
    tracks: list[Track] = []
    for shard in manifest["shards"]:
        if shard["split"] != split:
            continue
        path = Path(root) / shard["name"]
        by_key: dict[str, dict[str, Track]] = {}
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                key, _, name = m.name.partition(".")
                if name == MIX or stem_members([name]):
                    by_key.setdefault(key, {})[name] = Track(path, m.name, m.offset_data,
                                                             m.size)
        for key, members in by_key.items():
            tracks += members.values()
            if MIX not in members:
                parts = tuple(members[n] for n in stem_members(members))
                tracks.append(Track(path, f"{key}.{MIX}", 0, 0, parts))
    if not tracks:
        raise ValueError(f"no {split} audio in the corpus at {root}")
    return sorted(tracks, key=lambda t: (t.shard.name, t.name))


def read_track(track: Track, start: int | None = None, frames: int = -1) -> np.ndarray:
    """Decode (part of) a track: float32 (channels, frames); `start` None reads it all."""
    if track.parts:
        return sum_stems([read_track(part, start, frames) for part in track.parts])
    with track.shard.open("rb") as f:
        f.seek(track.offset)
        data = f.read(track.size)
    with sf.SoundFile(io.BytesIO(data)) as snd:
        if start:
            snd.seek(start)
        return snd.read(frames, dtype="float32", always_2d=True).T


def track_frames(track: Track) -> int:
    """Length of a track in samples (reads only the FLAC header)."""
    if track.parts:
        return track_frames(track.parts[0])
    with track.shard.open("rb") as f:
        f.seek(track.offset)
        head = f.read(min(track.size, 1 << 16))
    return sf.info(io.BytesIO(head)).frames


class ClipSampler:
    """Random stereo clips of `segment` samples from a corpus split."""

    def __init__(self, root: Path, split: str, segment: int, seed: int, rank: int = 0,
                 mix_prob: float = 0.35, min_rms: float = 1e-3, gain_db: float = 12.0) -> None:
        """Index the split; clips come from the mix with `mix_prob`, else from a stem, are
        re-drawn while quieter than `min_rms` and get a random gain in [-gain_db, 0] dB."""
        self.tracks = index_tracks(root, split)
        self.mixes = [i for i, t in enumerate(self.tracks) if t.name.endswith(f".{MIX}")]
        self.stems = [i for i, t in enumerate(self.tracks) if not t.name.endswith(f".{MIX}")]
        self.segment, self.seed, self.rank = segment, seed, rank
        self.mix_prob, self.min_rms, self.gain_db = mix_prob, min_rms, gain_db
        self._frames: dict[int, int] = {}

    def _length(self, i: int) -> int:
        if i not in self._frames:
            self._frames[i] = track_frames(self.tracks[i])
        return self._frames[i]

    def clip(self, rng: np.random.Generator) -> np.ndarray:
        """One (2, segment) float32 clip drawn with `rng`."""
        clip = np.zeros((2, self.segment), np.float32)
        for _ in range(8):
            pool = self.mixes if rng.random() < self.mix_prob or not self.stems else self.stems
            i = pool[int(rng.integers(len(pool)))]
            start = int(rng.integers(max(1, self._length(i) - self.segment)))
            audio = read_track(self.tracks[i], start, self.segment)
            clip = np.zeros((2, self.segment), np.float32)
            clip[:, :audio.shape[1]] = audio if audio.shape[0] == 2 else audio[:1]
            if np.sqrt(np.mean(clip ** 2)) >= self.min_rms:
                break
        if rng.random() < 0.5:
            clip = clip[::-1].copy()  # left/right swap
        return clip * np.float32(10 ** (-self.gain_db * rng.random() / 20))

    def batch(self, step: int, size: int) -> np.ndarray:
        """The (size, 2, segment) batch of `step` for this rank."""
        rng = np.random.default_rng([self.seed, self.rank, step])
        return np.stack([self.clip(rng) for _ in range(size)])


class BatchSource(Protocol):
    """Anything that makes the batch of a step (a ClipSampler, a MixedSampler)."""

    def batch(self, step: int, size: int) -> np.ndarray:
        """The (size, channels, samples) batch of `step`."""
        ...


def prefetch(sampler: BatchSource, start: int, size: int, depth: int = 4
             ) -> Generator[np.ndarray, None, None]:
    """Batches for steps start, start+1, ... made in a background thread (FLAC decoding
    releases the GIL, so it overlaps the training step). Closing the generator stops and joins
    the thread: a worker still decoding while the interpreter exits can abort the process."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        step = start
        try:
            while not stop.is_set():
                hand_over(sampler.batch(step, size))
                step += 1
        except Exception as error:  # handed to the consumer, which raises it
            hand_over(error)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
