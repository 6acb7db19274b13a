"""The generator's token cache: the corpus turned into codec codes, semantic features, MuLan
tokens and conditions, once, so that training the three stages only runs the transformers.

Layout of a cache folder (one per split):
    examples/KEY.npz   codes_<stem> int16 (2, n_q, frames at 50 Hz) for 'mix' and each stem;
                       window int64 (first sample of the window in the audio, frames);
                       features float16 (frames at 25 Hz, FEATURE_DIM) of the mix;
                       mulan_audio int16 (12,) MuLan tokens of the mix
    items.json         per example: key, bpm, meter, key index, genre, stems, window start and
                       length, song length, melody notes (window-relative), caption texts and
                       their MuLan tokens
    report.json        how many examples were cached and how many were left out, and why
    semantic.npz       semantic tokens per example key (written once the tokenizer is fitted)

Each example contributes one window of at most ``window_seconds`` that starts on a bar line.
A synthetic example's bars start at 0 s: its window starts on a seeded whole bar, and the
item's ``start`` is where. A labelled real window (engine.data.recordings) carries its
downbeats: its window starts on a seeded labelled downbeat (``audio_start``), and ``start``
is that downbeat's place on the bar grid (whole bars after the first one), which is what the
timing features take their phase from. Real windows whose tempo or meter confidence is under
MIN_CONFIDENCE are left out, as are examples without the labels the cache needs.
"""

from __future__ import annotations

import io
import itertools
import json
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from bridge.atomic import atomic_write, atomic_write_bytes
from bridge.timing import quarters_per_bar
from engine.codec.config import ACOUSTIC_RATE, HOP, SAMPLE_RATE, SEMANTIC_RATE
from engine.codec.model import Codec
from engine.corpus.mixdown import MIX, stem_members, sum_stems
from engine.generator import semantic
from engine.generator.conditions import key_index
from engine.mulan.api import MulanConditioner

STEM_KINDS = ("drums", "bass", "keys", "guitar", "strings", "pad", "lead")  # corpus family names
NEEDED = ("bpm", "meter", "key_name", "seconds")  # labels every cached example must carry
#: Real windows whose labeller is less sure than this of the tempo or of the meter are left
#: out. Measured on renders with known labels (docs/data.md, "Real windows in the token
#: cache"): under meter confidence 0.5 the bar grid (tempo, bar length and downbeats) was
#: right in 7-8 % of renders, above it in 38-45 %; tempo confidence did not tell right grids
#: from wrong ones (AUC 0.54-0.55), so it has no threshold by default.
MIN_CONFIDENCE = {"bpm": 0.0, "meter": 0.5}


@dataclass(frozen=True)
class Window:
    """Where an example's window is: its audio from ``start`` for ``seconds`` (seconds into
    the example), and its place on the bar grid, ``grid_start`` (a whole number of bars)."""

    start: float
    seconds: float
    grid_start: float


def _window(meta: dict, window_seconds: float, key: str) -> Window:
    """The example's window: from a labelled downbeat when it carries downbeats, else from
    a bar line counted from 0 s (synthetic examples); the bar is drawn from the key."""
    bar = float(quarters_per_bar(meta["meter"])) * 60.0 / meta["bpm"]
    total = float(meta["seconds"])
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    if "downbeats" in meta:
        downbeats = [float(t) for t in meta["downbeats"]]
        fits = [i for i, t in enumerate(downbeats) if t + window_seconds <= total]
        index = fits[int(rng.integers(len(fits)))] if fits else 0  # else the longest window
        start = downbeats[index]
        return Window(start, min(window_seconds, total - start), index * bar)
    bars_in_window = max(1, int(window_seconds // bar))
    last_start = max(0, int(meta["bars"]) - bars_in_window)
    start = int(rng.integers(last_start + 1)) * bar
    return Window(start, min(window_seconds, total - start), start)


def _left_out(meta: dict, min_confidence: dict[str, float]) -> str | None:
    """Why an example is not cached ('unlabelled', 'no downbeat', 'low tempo confidence',
    'low meter confidence'), or None when it is."""
    if any(meta.get(name) is None for name in NEEDED):
        return "unlabelled"
    if "downbeats" in meta and not meta["downbeats"]:
        return "no downbeat"
    confidence = meta.get("label_confidence") or {}
    for name, label in (("bpm", "tempo"), ("meter", "meter")):
        if name in confidence and confidence[name] < min_confidence[name]:
            return f"low {label} confidence"
    return None


def _read(data: bytes, start: float, seconds: float) -> np.ndarray:
    """(2, samples) float32 of one FLAC member's window."""
    with sf.SoundFile(io.BytesIO(data)) as handle:
        handle.seek(round(start * SAMPLE_RATE))
        audio = handle.read(round(seconds * SAMPLE_RATE), dtype="float32", always_2d=True)
    audio = audio.T
    return np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio


def _exact(audio: np.ndarray, samples: int) -> np.ndarray:
    """``audio`` cut or zero-padded to ``samples``."""
    audio = audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))


def build_examples(corpus: Path, split: str, folder: Path, codec: Codec,
                   mulan: MulanConditioner, window_seconds: float = 12.0,
                   limit: int | None = None,
                   min_confidence: dict[str, float] | None = None) -> list[dict]:
    """Encode the examples of ``split`` (the first ``limit`` in the corpus's seeded order, or
    all) into ``folder``/examples (what an example's file already holds is kept and only its
    missing stems are encoded, so an interrupted or older build resumes); write and return
    items.json, and report.json with the examples left out (``min_confidence``: the tempo
    and meter thresholds, default MIN_CONFIDENCE)."""
    from engine.corpus.shards import iter_examples

    thresholds = {**MIN_CONFIDENCE, **(min_confidence or {})}
    features = semantic.FrameFeatures()
    (folder / "examples").mkdir(parents=True, exist_ok=True)
    items: list[dict] = []
    left_out: Counter[str] = Counter()
    examples = itertools.islice(iter_examples(corpus, split=split, shuffle_buffer=1,
                                              decode=False, derive_mix=False), limit)
    for example in tqdm(examples, desc=f"generator cache {split}", unit="ex"):
        meta = json.loads(example["json"])
        key = example["key"]
        if (reason := _left_out(meta, thresholds)) is not None:
            left_out[reason] += 1
            continue
        window = _window(meta, window_seconds, key)
        start, seconds = window.start, window.seconds
        # whole semantic frames, counted in codec frames
        frames = int(seconds * SEMANTIC_RATE) * (ACOUSTIC_RATE // SEMANTIC_RATE)
        if frames < ACOUSTIC_RATE:
            left_out["under 1 s"] += 1
            continue
        stems = [name for name in STEM_KINDS if f"{name}.flac" in example]
        path = folder / "examples" / f"{key}.npz"
        arrays = {}
        # Codes are reused only for the same window: a cache built before windows started
        # on labelled downbeats (or with another --window) is encoded again.
        where = np.array([round(start * SAMPLE_RATE), frames], dtype=np.int64)
        if path.is_file():
            with np.load(path) as data:
                if "window" in data.files and np.array_equal(data["window"], where):
                    arrays = dict(data)
        arrays["window"] = where
        missing = [name for name in ["mix", *stems] if f"codes_{name}" not in arrays]
        if missing:  # a new example, or one cached before a stem kind was known
            mix = (_read(example[MIX], start, seconds) if MIX in example else  # or the stems' sum
                   sum_stems([_read(example[n], start, seconds) for n in stem_members(example)]))
            for name in missing:
                audio = mix if name == "mix" else _read(example[f"{name}.flac"], start, seconds)
                audio = _exact(audio, frames * HOP)
                with torch.inference_mode():
                    codes = codec.encode(torch.from_numpy(audio[None]))[0]
                arrays[f"codes_{name}"] = codes[..., :frames].numpy().astype(np.int16)
            if "features" not in arrays:
                mono = _exact(mix, frames * HOP).mean(0)
                semantic_frames = frames // (ACOUSTIC_RATE // SEMANTIC_RATE)
                arrays["features"] = features(mono)[:semantic_frames].astype(np.float16)
                arrays["mulan_audio"] = mulan.tokens(mulan.embed_audio(mono, SAMPLE_RATE))
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            atomic_write_bytes(path, buffer.getvalue())
        melody = [[round(a - start, 4), round(b - start, 4), int(p)]
                  for a, b, p, _ in meta.get("melody", []) if b > start and a < start + seconds]
        bar = float(quarters_per_bar(meta["meter"])) * 60.0 / meta["bpm"]
        item = {
            "key": key, "bpm": meta["bpm"], "meter": meta["meter"],
            "bars": meta.get("bars", max(1, int(seconds // bar))),  # real: bars in the window
            "key_index": key_index(meta["key_name"]), "key_name": meta["key_name"],
            "genre": meta.get("genre", ""), "stems": stems, "start": round(window.grid_start, 4),
            "frames": frames, "total": meta["seconds"], "melody": melody,
            "captions": meta.get("captions", []),
        }
        if window.start != window.grid_start:
            item["audio_start"] = round(start, 4)
        items.append(item)
    texts = [c for item in items for c in item["captions"]]
    # Real windows have no captions: the text encoder is not asked about nothing.
    tokens = (mulan.quantizer.encode(mulan.embed_text(texts)) if texts
              else np.zeros((0, 0), np.int64))
    offset = 0
    for item in items:
        count = len(item["captions"])
        item["caption_tokens"] = tokens[offset : offset + count].tolist()
        offset += count
    atomic_write_bytes(folder / "items.json", json.dumps(items).encode())
    report = {"examples": len(items), "left_out": dict(sorted(left_out.items())),
              "min_confidence": thresholds}
    atomic_write_bytes(folder / "report.json", json.dumps(report, indent=1).encode())
    if left_out:
        print(f"generator cache {split}: {len(items)} examples cached, left out: "
              + ", ".join(f"{n} {reason}" for reason, n in sorted(left_out.items()))
              + f" (minimum confidence: tempo {thresholds['bpm']}, meter {thresholds['meter']})")
    return items


def fit_tokenizer(folder: Path, k: int, seed: int, max_frames: int = 120_000
                  ) -> semantic.SemanticTokenizer:
    """Fit the semantic k-means on (a seeded sample of) the cached mix features."""
    items = json.loads((folder / "items.json").read_text())
    chunks = [np.load(folder / "examples" / f"{i['key']}.npz")["features"] for i in items]
    features = np.concatenate(chunks).astype(np.float32)
    rng = np.random.default_rng(seed)
    if len(features) > max_frames:
        features = features[rng.choice(len(features), max_frames, replace=False)]
    return semantic.SemanticTokenizer.fit(features, k, seed)


def write_semantic(folder: Path, tokenizer: semantic.SemanticTokenizer) -> None:
    """Assign semantic tokens to every cached example of ``folder``."""
    items = json.loads((folder / "items.json").read_text())
    tokens = {}
    for item in items:
        features = np.load(folder / "examples" / f"{item['key']}.npz")["features"]
        tokens[item["key"]] = tokenizer.tokens_of_features(features.astype(np.float32)
                                                           ).astype(np.int16)
    atomic_write(folder / "semantic.npz", lambda handle: np.savez(handle, **tokens))


def build(corpus: Path, out: Path, splits: tuple[str, ...], k: int, seed: int,
          window_seconds: float, limit: int | None = None,
          min_confidence: dict[str, float] | None = None) -> None:
    """Build every split's cache, fit the semantic tokenizer on the first split, and assign
    semantic tokens everywhere (``out``/tokenizer.npz is reused when present); real windows
    under ``min_confidence`` (default MIN_CONFIDENCE) are left out."""
    from engine.codec.io import load_codec

    # One thread: small per-frame ops on a shared 2-core machine stall on thread hand-offs.
    torch.set_num_threads(1)
    codec, mulan = load_codec(), MulanConditioner.load()
    for split in splits:
        build_examples(corpus, split, out / split, codec, mulan, window_seconds, limit,
                       min_confidence)
    tokenizer_path = out / "tokenizer.npz"
    if tokenizer_path.is_file():
        tokenizer = semantic.SemanticTokenizer.load(tokenizer_path)
    else:
        tokenizer = fit_tokenizer(out / splits[0], k, seed)
        tokenizer.save(tokenizer_path)
    for split in splits:
        write_semantic(out / split, tokenizer)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Build the generator's token cache.")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--splits", default="train,validation")
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--window", type=float, default=12.0)
    parser.add_argument("--limit", type=int, default=None, help="examples per split at most")
    parser.add_argument("--min-tempo-confidence", type=float, default=MIN_CONFIDENCE["bpm"],
                        help="real windows labelled less surely are left out")
    parser.add_argument("--min-meter-confidence", type=float, default=MIN_CONFIDENCE["meter"],
                        help="real windows labelled less surely are left out")
    args = parser.parse_args()
    build(args.corpus, args.out, tuple(args.splits.split(",")), args.k, args.seed, args.window,
          args.limit, {"bpm": args.min_tempo_confidence, "meter": args.min_meter_confidence})
