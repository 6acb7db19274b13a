"""Training batches for the three stages, drawn from the token cache held in memory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.codec.config import ACOUSTIC_RATE, SEMANTIC_RATE
from engine.generator.conditions import (
    NULL_KEY,
    NULL_MULAN,
    Conditions,
    prefix_ids,
    stem_index,
    timing_features,
)
from engine.generator.semantic import SemanticTokenizer
from engine.melody.tokens import NO_MELODY, MelodyNote, melody_tokens


@dataclass
class DataConfig:
    """Where the cache is and how examples become training rows."""

    cache: str = "runs/generator/cache"
    split: str = "train"
    crop_seconds: float = 6.0
    mix_prob: float = 0.3  # share of acoustic rows that learn the mix rather than one stem
    lead_prob: float = 0.0  # share of acoustic rows of examples with a lead that learn it
    audio_mulan_prob: float = 0.5  # condition on the audio's MuLan tokens, else a caption's
    cond_dropout: float = 0.15  # MuLan + melody dropped together: classifier-free guidance
    key_dropout: float = 0.5  # key not given: the model learns to choose one
    melody_dropout: float = 0.5  # melody not given: text-only generation keeps working
    transpose: bool = False  # semantic stage: each row moved to a random key (12x the keys)
    # Coarse: rows that lose the semantic plan but keep every other condition, so the stage
    # also learns the key and the beat grid (timing features) instead of copying the plan.
    plan_dropout: float = 0.0
    # Draw major and minor windows equally often: the corpus folds its minor-like modes into
    # minor, so it holds about twice as many minor windows and the stages learn to lean minor.
    balance_modes: bool = False


@dataclass(frozen=True)
class Example:
    """One cached window: its metadata row and arrays."""

    item: dict
    codes: dict[str, np.ndarray]  # stem -> (2, n_q, frames) int16
    semantic: np.ndarray  # (frames // 2,) int16
    features: np.ndarray  # (frames // 2, FEATURE_DIM) float16 raw semantic features of the mix
    mulan_audio: np.ndarray  # (12,)


def load_examples(folder: Path) -> list[Example]:
    """Every cached example of one split (a few hundred MB at most)."""
    items = json.loads((folder / "items.json").read_text())
    semantic = np.load(folder / "semantic.npz")
    examples = []
    for item in items:
        with np.load(folder / "examples" / f"{item['key']}.npz") as data:
            codes = {k.removeprefix("codes_"): data[k] for k in data.files
                     if k.startswith("codes_")}
            examples.append(Example(item, codes, semantic[item["key"]], data["features"],
                                    data["mulan_audio"]))
    return examples


class BatchMaker:
    """Turns cached examples into the tensors one stage trains on."""

    def __init__(self, examples: list[Example], config: DataConfig, stage: str,
                 tokenizer: SemanticTokenizer | None = None, drop_plan: bool = False) -> None:
        """``tokenizer`` re-tokenizes transposed rows; needed when ``config.transpose``.
        ``drop_plan``: the coarse rows that lose their conditions for guidance also lose the
        semantic plan (the stage's ``guide_plan``)."""
        if not examples:
            raise ValueError("the generator cache holds no examples")
        if config.transpose and (stage != "semantic" or tokenizer is None):
            raise ValueError("transposition needs the semantic stage and its tokenizer "
                             "(codec codes cannot be transposed)")
        self.examples, self.config, self.stage = examples, config, stage
        self.tokenizer, self.drop_plan = tokenizer, drop_plan
        self.weights = _mode_weights(examples) if config.balance_modes else None

    def rows(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        """One batch: prefix ids, timing, melody and the stage's tokens."""
        rate = SEMANTIC_RATE if self.stage == "semantic" else ACOUSTIC_RATE
        crop = int(self.config.crop_seconds * SEMANTIC_RATE) * (rate // SEMANTIC_RATE)
        conditions, timing, melody, tokens, semantic = [], [], [], [], []
        for index in self._draw(rng, batch_size):
            example = self.examples[int(index)]
            stem = self._stem(example, rng)
            frames = len(example.semantic) * (rate // SEMANTIC_RATE)
            start = int(rng.integers(max(1, frames - crop + 1)))
            start -= start % (rate // SEMANTIC_RATE)  # whole 25 Hz frames
            length = min(crop, frames - start)
            shift = int(rng.integers(12)) if self.config.transpose else 0
            row, use_melody, dropped = self._conditions(example, stem, shift, rng)
            conditions.append(row)
            item = example.item
            offset = start / rate
            timing.append(_pad(timing_features(length, rate, item["bpm"], item["meter"],
                                               item["start"] + offset, item["total"]),
                               crop, axis=0))
            melody.append(_pad(self._melody(example, use_melody, offset, length, rate, shift),
                               crop, NO_MELODY))
            if self.stage == "semantic":
                tokens.append(_pad(self._semantic(example, start, length, shift), crop, -1))
            else:
                codes = example.codes[stem][:, :, start : start + length].astype(np.int64)
                tokens.append(_pad(codes, crop, -1))
                sem = np.repeat(example.semantic, 2)[start : start + length].astype(np.int64)
                if (dropped and self.drop_plan) or self._plan_dropped(rng):
                    sem[:] = -1
                semantic.append(_pad(sem, crop, -1))
        batch = {**prefix_ids(conditions),
                 "timing": torch.from_numpy(np.stack(timing)),
                 "melody": torch.from_numpy(np.stack(melody)),
                 "tokens": torch.from_numpy(np.stack(tokens))}
        if semantic:
            batch["semantic"] = torch.from_numpy(np.stack(semantic))
        return batch

    def _draw(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """The batch's example indices: uniform, or balanced over the modes when asked (runs
        without balancing keep their random streams)."""
        if self.weights is None:
            return rng.integers(len(self.examples), size=batch_size)
        return rng.choice(len(self.examples), size=batch_size, p=self.weights)

    def _plan_dropped(self, rng: np.random.Generator) -> bool:
        # No draw when off: runs without plan dropout keep their random streams.
        return self.config.plan_dropout > 0 and rng.random() < self.config.plan_dropout

    def _stem(self, example: Example, rng: np.random.Generator) -> str:
        if self.stage == "semantic" or rng.random() < self.config.mix_prob:
            return "mix"
        # The lead is where a given melody must be heard: it can get more than its share.
        if "lead" in example.item["stems"] and rng.random() < self.config.lead_prob:
            return "lead"
        return str(rng.choice(example.item["stems"]))

    def _semantic(self, example: Example, start: int, length: int, shift: int) -> np.ndarray:
        """The row's semantic tokens, moved up ``shift`` semitones when not 0."""
        if shift == 0:
            return example.semantic[start : start + length].astype(np.int64)
        features = example.features[start : start + length].astype(np.float32)
        return self.tokenizer.transposed(features, shift)

    def _conditions(self, example: Example, stem: str, shift: int, rng: np.random.Generator
                    ) -> tuple[Conditions, bool, bool]:
        """The row's prefix conditions (key moved up ``shift`` semitones), whether it also
        gets the melody, and whether it was dropped for guidance."""
        item = example.item
        captions = item["caption_tokens"]
        # Real recordings have no captions: they learn from their audio's MuLan tokens only.
        if rng.random() < self.config.audio_mulan_prob or not captions:
            mulan = np.asarray(example.mulan_audio, dtype=np.int64)
        else:
            mulan = np.asarray(captions[int(rng.integers(len(captions)))], dtype=np.int64)
        dropped = rng.random() < self.config.cond_dropout
        if dropped:
            mulan = np.full_like(mulan, NULL_MULAN)
        key = NULL_KEY if rng.random() < self.config.key_dropout else item["key_index"]
        if key != NULL_KEY:
            key = (key // 2 + shift) % 12 * 2 + key % 2
        use_melody = (not dropped and item["melody"]
                      and rng.random() >= self.config.melody_dropout)
        row = Conditions(mulan, float(item["bpm"]), item["meter"], key, stem_index(stem))
        return row, bool(use_melody), dropped

    def _melody(self, example: Example, use_melody: bool, offset: float, length: int,
                rate: int, shift: int) -> np.ndarray:
        if not use_melody:
            return np.full(length, NO_MELODY, dtype=np.int64)
        notes = [MelodyNote(a - offset, b - offset, p + shift)
                 for a, b, p in example.item["melody"]]
        per_25 = melody_tokens(notes, -(-length * SEMANTIC_RATE // rate), SEMANTIC_RATE)
        return np.repeat(per_25, rate // SEMANTIC_RATE)[:length]


def _mode_weights(examples: list[Example]) -> np.ndarray:
    """Sampling weights that give each mode (key_index % 2) the same total share."""
    modes = np.array([example.item["key_index"] % 2 for example in examples])
    counts = np.bincount(modes, minlength=2)
    weights = 1.0 / counts[modes]
    return weights / weights.sum()


def _pad(array: np.ndarray, length: int, value: float = 0, axis: int = -1) -> np.ndarray:
    """``array`` padded with ``value`` along ``axis`` to ``length``."""
    axis = axis % array.ndim
    missing = length - array.shape[axis]
    if missing <= 0:
        return array
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, missing)
    return np.pad(array, widths, constant_values=value)
