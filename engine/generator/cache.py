"""The generator's token cache: the corpus turned into codec codes, semantic features, MuLan
tokens and conditions, once, so that training the three stages only runs the transformers.

Layout of a cache folder (one per split):
    examples/KEY.npz   codes_<stem> int16 (2, n_q, frames at 50 Hz) for 'mix' and each stem;
                       features float16 (frames at 25 Hz, FEATURE_DIM) of the mix;
                       mulan_audio int16 (12,) MuLan tokens of the mix
    items.json         per example: key, bpm, meter, key index, genre, stems, window start and
                       length, song length, melody notes (window-relative), caption texts and
                       their MuLan tokens
    semantic.npz       semantic tokens per example key (written once the tokenizer is fitted)

Each example contributes one window of at most ``window_seconds`` that starts on a bar line.
"""

from __future__ import annotations

import io
import itertools
import json
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from bridge.atomic import atomic_write, atomic_write_bytes
from bridge.timing import quarters_per_bar
from engine.codec.config import ACOUSTIC_RATE, HOP, SAMPLE_RATE, SEMANTIC_RATE
from engine.codec.model import Codec
from engine.generator import semantic
from engine.generator.conditions import key_index
from engine.mulan.api import MulanConditioner

STEM_KINDS = ("drums", "bass", "keys", "guitar", "strings", "pad", "lead")  # corpus family names


def _window(meta: dict, window_seconds: float, key: str) -> tuple[float, float]:
    """(start, length) in seconds of the example's window, starting on a bar line."""
    bar = float(quarters_per_bar(meta["meter"])) * 60.0 / meta["bpm"]
    total = float(meta["seconds"])
    bars_in_window = max(1, int(window_seconds // bar))
    last_start = max(0, int(meta["bars"]) - bars_in_window)
    start_bar = int(np.random.default_rng(zlib.crc32(key.encode())).integers(last_start + 1))
    start = start_bar * bar
    return start, min(window_seconds, total - start)


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
                   limit: int | None = None) -> list[dict]:
    """Encode the examples of ``split`` (the first ``limit`` in the corpus's seeded order, or
    all) into ``folder``/examples (what an example's file already holds is kept and only its
    missing stems are encoded, so an interrupted or older build resumes); write and return
    items.json."""
    from engine.corpus.shards import iter_examples

    features = semantic.FrameFeatures()
    (folder / "examples").mkdir(parents=True, exist_ok=True)
    items: list[dict] = []
    examples = itertools.islice(
        iter_examples(corpus, split=split, shuffle_buffer=1, decode=False), limit)
    for example in tqdm(examples, desc=f"generator cache {split}", unit="ex"):
        meta = json.loads(example["json"])
        key = example["key"]
        start, seconds = _window(meta, window_seconds, key)
        # whole semantic frames, counted in codec frames
        frames = int(seconds * SEMANTIC_RATE) * (ACOUSTIC_RATE // SEMANTIC_RATE)
        if frames < ACOUSTIC_RATE:
            continue
        stems = [name for name in STEM_KINDS if f"{name}.flac" in example]
        path = folder / "examples" / f"{key}.npz"
        arrays = {}
        if path.is_file():
            with np.load(path) as data:
                arrays = dict(data)
        missing = [name for name in ["mix", *stems] if f"codes_{name}" not in arrays]
        if missing:  # a new example, or one cached before a stem kind was known
            mix = _read(example["mix.flac"], start, seconds)
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
        items.append({
            "key": key, "bpm": meta["bpm"], "meter": meta["meter"], "bars": meta["bars"],
            "key_index": key_index(meta["key_name"]), "key_name": meta["key_name"],
            "genre": meta["genre"], "stems": stems, "start": round(start, 4),
            "frames": frames, "total": meta["seconds"], "melody": melody,
            "captions": meta["captions"],
        })
    texts = [c for item in items for c in item["captions"]]
    tokens = mulan.quantizer.encode(mulan.embed_text(texts))
    offset = 0
    for item in items:
        count = len(item["captions"])
        item["caption_tokens"] = tokens[offset : offset + count].tolist()
        offset += count
    atomic_write_bytes(folder / "items.json", json.dumps(items).encode())
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
          window_seconds: float, limit: int | None = None) -> None:
    """Build every split's cache, fit the semantic tokenizer on the first split, and assign
    semantic tokens everywhere (``out``/tokenizer.npz is reused when present)."""
    from engine.codec.io import load_codec

    # One thread: small per-frame ops on a shared 2-core machine stall on thread hand-offs.
    torch.set_num_threads(1)
    codec, mulan = load_codec(), MulanConditioner.load()
    for split in splits:
        build_examples(corpus, split, out / split, codec, mulan, window_seconds, limit)
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
    args = parser.parse_args()
    build(args.corpus, args.out, tuple(args.splits.split(",")), args.k, args.seed, args.window,
          args.limit)
