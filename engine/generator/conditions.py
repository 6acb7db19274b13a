"""What a generation is conditioned on, in the form every stage reads.

Global conditions become a short prefix of embeddings (MuLan tokens, tempo, meter, key, stem);
timing is also given to every frame as the phase of the beat, the bar and the four-bar phrase
plus the fraction of the piece done, so each frame knows where it sits in the music (Stable
Audio's timing conditioning, made per frame: the bar grid is what tempo-locks the output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from bridge.keys import NOTE_NAMES, parse_key
from bridge.timing import quarters_per_bar
from engine.melody.tokens import NO_MELODY

MULAN_LEVELS = 12
MULAN_CODES = 256
NULL_MULAN = MULAN_CODES  # the dropped/absent MuLan condition, per level
METERS = ("4/4", "3/4", "6/8", "other")
NULL_KEY = 24  # tonic * 2 + is_minor for keys; this for "the model chooses"
BPM_BUCKETS = 64
MIN_BPM, MAX_BPM = 40.0, 240.0
TIMING_DIM = 9
PREFIX_LENGTH = MULAN_LEVELS + 4  # MuLan tokens, bpm, meter, key, stem
# The stems a stage is conditioned on, in embedding order, unless its config names others
# (StageConfig.stems): the list every shipped checkpoint was trained with. The protocol's
# stem names (bridge.limits.STEM_NAMES) may grow; a checkpoint's vocabulary does not.
STEMS = ("mix", "drums", "bass", "keys", "guitar", "strings", "pads", "lead")


def key_index(key_name: str) -> int:
    """"A minor" -> tonic * 2 + 1; modes fold onto major or minor (``bridge.keys``);
    "" -> NULL_KEY; ValueError for a name that is no key."""
    return parse_key(key_name).index if key_name.strip() else NULL_KEY


def key_name(index: int) -> str:
    """The inverse of ``key_index`` ("" for NULL_KEY)."""
    if index == NULL_KEY:
        return ""
    return f"{NOTE_NAMES[index // 2]} {'minor' if index % 2 else 'major'}"


def bpm_bucket(bpm: float) -> int:
    """Log-spaced tempo bucket in [0, BPM_BUCKETS)."""
    span = math.log(MAX_BPM / MIN_BPM)
    position = math.log(min(max(bpm, MIN_BPM), MAX_BPM) / MIN_BPM) / span
    return min(BPM_BUCKETS - 1, int(position * BPM_BUCKETS))


def meter_index(time_signature: str) -> int:
    """Index of the meter in METERS ("other" for the rest)."""
    return METERS.index(time_signature) if time_signature in METERS else len(METERS) - 1


def stem_index(stem: str, stems: tuple[str, ...] = STEMS) -> int:
    """Index of a stem name in a model's stem vocabulary ('pad' is read as 'pads');
    ValueError for a stem it does not know."""
    stem = "pads" if stem == "pad" else stem
    return stems.index(stem)


@dataclass(frozen=True)
class Conditions:
    """One row's global conditions (the per-frame ones are built beside them)."""

    mulan: np.ndarray  # (MULAN_LEVELS,) tokens, NULL_MULAN where dropped
    bpm: float
    time_signature: str
    key: int  # key_index
    stem: int  # stem_index


def prefix_ids(rows: list[Conditions]) -> dict[str, torch.Tensor]:
    """The prefix's integer inputs of a batch, by name."""
    return {
        "mulan": torch.as_tensor(np.stack([r.mulan for r in rows]), dtype=torch.long),
        "bpm": torch.tensor([bpm_bucket(r.bpm) for r in rows]),
        "meter": torch.tensor([meter_index(r.time_signature) for r in rows]),
        "key": torch.tensor([r.key for r in rows]),
        "stem": torch.tensor([r.stem for r in rows]),
    }


def timing_features(frames: int, frame_rate: float, bpm: float, time_signature: str,
                    start_s: float, total_s: float) -> np.ndarray:
    """(frames, TIMING_DIM) float32: sin/cos of beat, bar and 4-bar phase, and progress."""
    times = start_s + np.arange(frames) / frame_rate
    beats = times * bpm / 60.0
    bar = float(quarters_per_bar(time_signature))
    columns = []
    for period in (1.0, bar, 4 * bar):
        angle = 2 * np.pi * beats / period
        columns += [np.sin(angle), np.cos(angle)]
    columns += [np.sin(np.pi * beats / 0.5) ** 2]  # eighth-note pulse
    progress = np.clip(times / max(total_s, 1e-3), 0.0, 1.0)
    columns += [progress, np.ones(frames)]
    return np.stack(columns, axis=1).astype(np.float32)


def melody_or_null(melody: np.ndarray | None, frames: int) -> np.ndarray:
    """The melody tokens of ``frames`` frames, or NO_MELODY everywhere when absent."""
    if melody is None:
        return np.full(frames, NO_MELODY, dtype=np.int64)
    out = np.full(frames, NO_MELODY, dtype=np.int64)
    out[: min(frames, len(melody))] = melody[:frames]
    return out
