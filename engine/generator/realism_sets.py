"""The clip sets the realism distance compares (``engine.generator.realism``), all as
float32 (2, samples) at 32 kHz, the same length, taken from the middle of their source:

* corpus mixes (real recordings or synthetic renders) picked from a corpus's index, packages
  and files taking turns (``engine.codec.eval_sets.package_queues``), read member by member
  so a 16-hour split is never decoded whole; stem-only examples get their mix derived
  (``engine.corpus.mixdown``);
* generated mixes of the evaluation prompts, rendered once per (prompt, seed) and cached as
  WAV files, so a rerun reads them back instead of generating again;
* degraded copies of clips (noise, low-pass, the codec's round trip) whose distance must grow.

Packages reserved for evaluation are refused before any audio is read.
"""

from __future__ import annotations

import tarfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import soxr

from engine.codec.config import SAMPLE_RATE
from engine.codec.eval_sets import QUIET_RMS, SEED, EvalSetError, package_queues, row_packages
from engine.corpus.flac import decode_flac
from engine.corpus.mixdown import MIX, with_mix
from engine.corpus.shards import read_index, read_manifest
from engine.data.reserved import refuse_reserved

if TYPE_CHECKING:
    from engine.generation import Generator
    from engine.generator.prompts import EvalPrompt

Clip = tuple[str, np.ndarray]  # (where it came from, float32 (2, samples) at SAMPLE_RATE)


def middle(audio: np.ndarray, length: int) -> np.ndarray | None:
    """The middle ``length`` samples of (channels, samples) audio as stereo, or None when it
    is shorter or near silent (under QUIET_RMS)."""
    if audio.shape[1] < length:
        return None
    start = audio.shape[1] // 2 - length // 2
    clip = audio[:, start : start + length]
    clip = np.ascontiguousarray(np.repeat(clip, 2, 0) if clip.shape[0] == 1 else clip[:2],
                                dtype=np.float32)
    return clip if np.sqrt(np.mean(np.square(clip, dtype=np.float64))) >= QUIET_RMS else None


def split_rows(root: Path, split: str | None, packages: Iterable[str] | None = None
               ) -> list[dict]:
    """Index rows of ``root``'s shards in ``split`` (None: all), of ``packages`` only when
    given; refuses a corpus that holds a package reserved for evaluation."""
    if not (Path(root) / "manifest.json").is_file():
        raise EvalSetError(f"{root}: no corpus here (no manifest.json)")
    shards = {s["name"] for s in read_manifest(root)["shards"]
              if split is None or s["split"] == split}
    wanted = set(packages) if packages is not None else None
    rows = [r for r in read_index(root) if r.get("shard") in shards
            and (wanted is None or r.get("package") in wanted)]
    for row in rows:
        for package in sorted(row_packages(row)):
            refuse_reserved(package)
    return rows


def halves_by_file(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """``rows`` split in two with every source file (all of its windows) in one half only,
    files dealt alternately within each package in a seeded order: a "real vs real" pair
    whose halves share no recording."""
    rng = np.random.default_rng(SEED)
    files: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        files[(str(row.get("package", "")), str(row.get("file", row["key"])))].append(row)
    halves: tuple[list[dict], list[dict]] = ([], [])
    for package in sorted({p for p, _ in files}):
        names = sorted(f for p, f in files if p == package)
        for turn, i in enumerate(rng.permutation(len(names))):
            halves[turn % 2].extend(files[(package, names[int(i)])])
    return halves


def pick_keys(rows: list[dict], count: int) -> list[str]:
    """Keys in pick order: packages take turns, each giving its next window
    (``package_queues``: files in turn), at most ``count`` times two (room for skips)."""
    queues = list(package_queues(rows).values())
    picked: list[str] = []
    depth = 0
    while len(picked) < 2 * count and any(depth < len(q) for q in queues):
        picked += [q[depth] for q in queues if depth < len(q)]
        depth += 1
    return picked[: 2 * count]


def read_mixes(root: Path, rows: list[dict], keys: Sequence[str]) -> dict[str, np.ndarray]:
    """The mix (float32 (channels, frames) at the corpus rate) of each of ``keys``, reading
    only their members from their shards; a mix left out is summed from the stems."""
    shard_of = {r["key"]: r["shard"] for r in rows}
    wanted: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        wanted[shard_of[key]].add(key)
    mixes = {}
    for shard, shard_keys in sorted(wanted.items()):
        members: dict[str, dict[str, bytes]] = defaultdict(dict)
        with tarfile.open(Path(root) / shard) as tar:
            for member in tar:
                key, _, name = member.name.partition(".")
                if key in shard_keys and name.endswith(".flac") and name != "hum.flac":
                    handle = tar.extractfile(member)
                    if handle is not None:
                        members[key][name] = handle.read()
        for key, found in members.items():
            # Decode the stored mix alone when there is one; else the stems it is summed from.
            names = [MIX] if MIX in found else list(found)
            example = {name: decode_flac(found[name])[0] for name in names}
            mixes[key] = with_mix(example, decoded=True)[MIX]
    return mixes


def corpus_clips(root: Path, rows: list[dict], count: int, seconds: float) -> list[Clip]:
    """Up to ``count`` clips, the middle ``seconds`` of mixes of ``rows`` in ``pick_keys``
    order, too short or near-silent ones skipped."""
    if not rows:
        raise EvalSetError(f"{root}: no examples to take clips from")
    rate = int(read_manifest(root).get("sample_rate", SAMPLE_RATE))
    keys = pick_keys(rows, count)
    mixes = read_mixes(root, rows, keys)
    length = round(seconds * rate)
    clips: list[Clip] = []
    for key in keys:
        clip = middle(mixes[key], length) if key in mixes else None
        if clip is not None:
            clips.append((key, to_rate(clip, rate)))
        if len(clips) == count:
            break
    return clips


def to_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    """(channels, samples) audio at ``rate`` -> float32 at SAMPLE_RATE."""
    if rate == SAMPLE_RATE:
        return np.ascontiguousarray(audio, dtype=np.float32)
    return np.ascontiguousarray(soxr.resample(audio.T, rate, SAMPLE_RATE).T, dtype=np.float32)


def generated_clips(cache: Path, seeds: Sequence[int], seconds: float, model: Path | None = None,
                    limit: int | None = None, render_missing: bool = True) -> list[Clip]:
    """The middle ``seconds`` of the generated mix of every evaluation prompt (the first
    ``limit``) for each seed, rendered by ``engine.generator.evaluate.render`` with the
    request's default sampling; each mix is cached as ``cache/<prompt>-seed<seed>.wav`` and
    read back on a rerun (``cache`` should name the model: renders of another are not told
    apart). Without ``render_missing``, only the renders already cached."""
    from engine.generator.prompts import PROMPTS

    cache.mkdir(parents=True, exist_ok=True)
    generator = None
    clips: list[Clip] = []
    # Seed by seed, so an interrupted first run has covered every prompt once already.
    for seed in seeds:
        for index, item in enumerate(PROMPTS[:limit]):
            path = cache / f"{index:02d}-seed{seed}.wav"
            if not path.is_file():
                if not render_missing:
                    continue
                if generator is None:
                    from engine.generator.pipeline import load_default

                    generator = load_default(model)
                _render_to(path, generator, item, seed)
            audio, rate = sf.read(path, dtype="float32", always_2d=True)
            clip = middle(audio.T, round(seconds * rate))
            if clip is None:
                raise EvalSetError(f"{path}: shorter than {seconds} s or silent")
            clips.append((path.name, to_rate(clip, rate)))
    if not clips:
        raise EvalSetError(f"{cache}: no generated renders cached")
    return clips


def _render_to(path: Path, generator: Generator, item: EvalPrompt, seed: int) -> None:
    """Render one prompt's mix and write it (float WAV, then rename: never half a file)."""
    import tempfile

    from engine.generator.evaluate import SAMPLE_RATE as RENDER_RATE
    from engine.generator.evaluate import render

    with tempfile.TemporaryDirectory() as scratch:
        result = render(generator, item, seed, Path(scratch))
    mix = np.sum(list(result.stems.values()), axis=0)
    partial = path.with_suffix(".partial.wav")
    sf.write(partial, mix.T, RENDER_RATE, subtype="FLOAT")
    partial.replace(path)


def add_noise(audio: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """``audio`` plus white noise ``snr_db`` below its RMS (an SNR of ``snr_db``)."""
    rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64)))
    noise = np.random.default_rng(seed).standard_normal(audio.shape)
    return np.asarray(audio + noise * rms * 10 ** (-snr_db / 20), dtype=np.float32)


def low_pass(audio: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """``audio`` at SAMPLE_RATE through an 8th-order Butterworth low-pass, zero phase."""
    from scipy.signal import butter, sosfiltfilt

    sections = butter(8, cutoff_hz, fs=SAMPLE_RATE, output="sos")
    return np.ascontiguousarray(sosfiltfilt(sections, audio, axis=1), dtype=np.float32)


def codec_round_trip(clips: list[Clip], levels: int) -> list[Clip]:
    """Each clip coded by the shipped codec with its first ``levels`` RVQ levels and decoded
    (as the decoder gives it, no level gains)."""
    import torch

    from engine.codec.io import load_codec

    codec = load_codec()
    coded = []
    with torch.inference_mode():
        for name, audio in clips:
            codes = codec.encode(torch.from_numpy(audio)[None], levels)
            decoded = codec.decode(codes)[0, :, : audio.shape[1]].numpy()
            coded.append((name, np.ascontiguousarray(decoded, dtype=np.float32)))
    return coded
