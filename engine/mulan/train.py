"""MuLan's training task for ``engine.training.loop`` (``stemloom train mulan``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.mulan.dataset import FeatureCache, build_cache, contrastive_batch
from engine.mulan.features import FRAME_RATE
from engine.mulan.model import Mulan, MulanModelConfig
from engine.training.config import TrainConfig
from engine.training.distributed import Dist
from engine.training.export import load_weights


@dataclass
class MulanDataConfig:
    """Where pairs come from."""

    corpus: str = "/tmp/corpus"
    cache: str = "runs/mulan/cache"  # feature caches, one folder per split
    window_seconds: float = 5.0
    mix_prob: float = 0.5
    gain_jitter: float = 1.0  # log-mel offset drawn from +-this: level invariance


@dataclass
class TokenConfig:
    """The conditioning-token codebooks fitted after training (MusicLM: 12 levels)."""

    levels: int = 12
    codes: int = 256


@dataclass
class MulanTrainConfig:
    """The whole MuLan recipe: one TOML table per field."""

    train: TrainConfig = field(default_factory=TrainConfig)
    model: MulanModelConfig = field(default_factory=MulanModelConfig)
    data: MulanDataConfig = field(default_factory=MulanDataConfig)
    tokens: TokenConfig = field(default_factory=TokenConfig)


def load_or_build_cache(data: MulanDataConfig, splits: tuple[str, ...]) -> FeatureCache:
    """The feature cache of ``splits``, built from the corpus the first time."""
    folder = Path(data.cache) / "+".join(splits)
    if (folder / "items.json").is_file():
        return FeatureCache.load(folder)
    return build_cache(Path(data.corpus), splits, folder)


class MulanTask:
    """Feeds contrastive pairs from the feature cache to the two towers."""

    config_class = MulanTrainConfig

    def __init__(self, config: MulanTrainConfig, env: Dist) -> None:
        """Load (or build) the training cache."""
        self.config, self.env = config, env
        self.cache = load_or_build_cache(config.data, ("train",))
        self.window = int(config.data.window_seconds * FRAME_RATE)

    def build_model(self) -> Mulan:
        """Fresh towers."""
        return Mulan(self.config.model)

    def prepare(self, model: nn.Module) -> None:
        """Nothing to initialise from data."""

    def init_from(self, model: nn.Module, path: Path) -> int:
        """Continue from exported MuLan weights."""
        blob = load_weights(path)
        getattr(model, "module", model).load_state_dict(blob["state"])
        return int(blob["step"])

    def batches(self, start_step: int) -> Generator[tuple[torch.Tensor, torch.Tensor], None, None]:
        """The batch of each step, drawn from (seed, step, rank): a resumed run sees the same."""
        step = start_step
        while True:
            rng = np.random.default_rng([self.config.train.seed, step, self.env.rank])
            yield contrastive_batch(self.cache, self.config.train.batch_size, self.window,
                                    self.config.data.mix_prob, rng)
            step += 1

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], step: int
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Symmetric InfoNCE of one batch, with random level offsets."""
        mel, sentence = batch
        jitter = self.config.data.gain_jitter
        mel = mel + (torch.rand(len(mel), 1, 1) * 2 - 1) * jitter
        loss = model(mel.to(self.env.device), sentence.to(self.env.device))
        scale = getattr(model, "module", model).log_scale.exp().item()
        return loss, {"temperature": 1 / scale}


def config_dict(config: MulanModelConfig) -> dict:
    """The model config as a plain dict, for exported weights."""
    return dataclasses.asdict(config)
