"""A feature cache of the corpus for MuLan: log-mels and frozen sentence embeddings, computed
once, so contrastive training only runs the two small trained parts.

Layout of a cache folder (one per split):
    mels.npy       float16 (64, total_frames): every item's frames, one after another
    captions.npy   float16 (n_captions, 384): sentence embeddings of every caption
    items.json     per item: offset, frames, example key, kind ('mix' or a stem), caption ids,
                   and the attributes the evaluation probes (genre, bpm, key, instruments)
    captions.json  the caption texts
"""

from __future__ import annotations

import functools
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from bridge.atomic import atomic_write, atomic_write_bytes
from engine.mulan.features import FRAME_RATE, HOP, LogMel, to_mono_32k

STEM_KINDS = ("drums", "bass", "keys", "guitar", "strings", "pad", "lead")  # corpus family names


@dataclass
class FeatureCache:
    """A loaded cache folder."""

    mels: np.ndarray
    captions: np.ndarray
    items: list[dict]
    caption_texts: list[str]

    @classmethod
    def load(cls, folder: Path) -> FeatureCache:
        """Read a cache folder written by ``build_cache``."""
        return cls(
            mels=np.load(folder / "mels.npy", mmap_mode="r"),
            captions=np.load(folder / "captions.npy"),
            items=json.loads((folder / "items.json").read_text()),
            caption_texts=json.loads((folder / "captions.json").read_text()),
        )

    @functools.cached_property
    def _groups(self) -> list[tuple[list[int], list[int]]]:
        by_example: dict[str, tuple[list[int], list[int]]] = {}
        for index, item in enumerate(self.items):
            mixes, stems = by_example.setdefault(item["example"], ([], []))
            (mixes if item["kind"] == "mix" else stems).append(index)
        return list(by_example.values())

    def example_groups(self) -> list[tuple[list[int], list[int]]]:
        """Per corpus example: (indices of its mix items, indices of its stem items)."""
        return self._groups

    def item_mel(self, index: int) -> np.ndarray:
        """(64, frames) float32 log-mel of one item."""
        item = self.items[index]
        return np.asarray(self.mels[:, item["offset"] : item["offset"] + item["frames"]],
                          dtype=np.float32)


def build_cache(corpus: Path, splits: tuple[str, ...], folder: Path, *,
                max_seconds: float = 12.0, stems_per_example: int = 2) -> FeatureCache:
    """Compute the cache of ``splits`` of the corpus at ``corpus`` into ``folder``: each
    example's mix and up to ``stems_per_example`` of its stems (drawn by the example's key),
    at most ``max_seconds`` of each."""
    from engine.corpus.shards import iter_examples
    from engine.mulan.text import sentence_encoder

    log_mel = LogMel()
    frames_max = int(max_seconds * FRAME_RATE)
    mel_chunks: list[np.ndarray] = []
    items: list[dict] = []
    texts: list[str] = []
    offset = 0
    examples = (e for split in splits for e in iter_examples(corpus, split=split,
                                                             shuffle_buffer=1, decode=False))
    for example in tqdm(examples, desc=f"mulan cache {'+'.join(splits)}", unit="ex"):
        meta = json.loads(example["json"])
        present = [name for name in STEM_KINDS if f"{name}.flac" in example]
        rng = np.random.default_rng(zlib.crc32(example["key"].encode()))
        chosen = list(rng.permutation(present)[:stems_per_example])
        stem_captions = meta.get("stem_captions", {})
        sources = [("mix", meta["captions"])] + [(n, stem_captions.get(n, [])) for n in chosen]
        for kind, captions in sources:
            if not captions:
                continue
            # Decode only what is kept: the first max_seconds of the file.
            audio, rate = sf.read(io.BytesIO(example[f"{kind}.flac"]), frames=frames_max * HOP,
                                  dtype="float32", always_2d=True)
            mono = to_mono_32k(audio.T, rate)
            with torch.inference_mode():
                mel = log_mel(torch.from_numpy(mono)[None])[0].numpy()
            if mel.shape[1] < FRAME_RATE:  # under a second: nothing to learn from
                continue
            mel_chunks.append(mel.astype(np.float16))
            ids = list(range(len(texts), len(texts) + len(captions)))
            texts.extend(captions)
            items.append({
                "offset": offset, "frames": int(mel.shape[1]), "example": example["key"],
                "kind": kind, "captions": ids, "genre": meta.get("genre", ""),
                "bpm": meta.get("bpm"), "key": meta.get("key_name", ""),
                "instruments": sorted({s.get("family", "") for s in meta.get("stems", [])}),
            })
            offset += mel.shape[1]
    if not items:
        raise ValueError(f"no usable examples in splits {splits} of {corpus}")
    embeddings = sentence_encoder().encode(texts).astype(np.float16)
    folder.mkdir(parents=True, exist_ok=True)
    _save_npy(folder / "mels.npy", np.concatenate(mel_chunks, axis=1))
    _save_npy(folder / "captions.npy", embeddings)
    for name, payload in (("items.json", items), ("captions.json", texts)):
        atomic_write_bytes(folder / name, json.dumps(payload).encode())
    return FeatureCache.load(folder)


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda handle: np.save(handle, array))


def crop(mel: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``frames``-long window of ``mel``, padded with its quietest value if short."""
    if mel.shape[1] >= frames:
        start = int(rng.integers(mel.shape[1] - frames + 1))
        return mel[:, start : start + frames]
    pad = np.full((mel.shape[0], frames - mel.shape[1]), mel.min(), dtype=mel.dtype)
    return np.concatenate([mel, pad], axis=1)


def contrastive_batch(cache: FeatureCache, batch_size: int, window_frames: int,
                      mix_prob: float, rng: np.random.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of (log-mel windows, sentence embeddings), one item per corpus example: the
    mix with probability ``mix_prob``, else one of its stems, each with one of its captions."""
    groups = cache.example_groups()
    if len(groups) < batch_size:
        raise ValueError(f"the cache has {len(groups)} examples, fewer than a batch")
    mels, sentences = [], []
    for group in rng.choice(len(groups), size=batch_size, replace=False):
        mixes, stems = groups[group]
        pool = mixes if (mixes and (not stems or rng.random() < mix_prob)) else stems
        item_index = int(rng.choice(pool))
        mels.append(crop(cache.item_mel(item_index), window_frames, rng))
        sentences.append(cache.captions[int(rng.choice(cache.items[item_index]["captions"]))])
    return (torch.from_numpy(np.stack(mels)).float(),
            torch.from_numpy(np.stack(sentences)).float())
