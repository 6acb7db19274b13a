"""The generator stages' training tasks for ``engine.training.loop``
(``stemloom train semantic|coarse|fine``)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.codec.config import ACOUSTIC_RATE, SEMANTIC_RATE
from engine.generator.conditions import PREFIX_LENGTH
from engine.generator.data import BatchMaker, DataConfig, load_examples
from engine.generator.model import StageConfig, StageModel
from engine.generator.semantic import SemanticTokenizer
from engine.training.config import TrainConfig
from engine.training.distributed import Dist
from engine.training.export import load_weights


@dataclass
class StageTrainConfig:
    """One stage's whole recipe: one TOML table per field."""

    train: TrainConfig = field(default_factory=TrainConfig)
    model: StageConfig = field(default_factory=StageConfig)
    data: DataConfig = field(default_factory=DataConfig)


def _unwrap(model: nn.Module) -> StageModel:
    return getattr(model, "module", model)


class StageTask:
    """Trains one stage on batches from the token cache."""

    config_class = StageTrainConfig
    stage = ""

    def __init__(self, config: StageTrainConfig, env: Dist) -> None:
        """Load the cache into memory."""
        if config.model.stage != self.stage:
            raise ValueError(f"config is for stage {config.model.stage!r}, not {self.stage!r}")
        rate = SEMANTIC_RATE if self.stage == "semantic" else ACOUSTIC_RATE
        needed = (int(config.data.crop_seconds * rate) + config.model.coarse_levels
                  + PREFIX_LENGTH)
        if needed > config.model.max_len:
            raise ValueError(f"model.max_len {config.model.max_len} cannot hold a "
                             f"{config.data.crop_seconds} s crop (needs {needed})")
        self.config, self.env = config, env
        examples = load_examples(Path(config.data.cache) / config.data.split)
        tokenizer = (SemanticTokenizer.load(Path(config.data.cache) / "tokenizer.npz")
                     if config.data.transpose else None)
        self.maker = BatchMaker(examples, config.data, self.stage, tokenizer,
                                drop_plan=config.model.guide_plan)

    def build_model(self) -> StageModel:
        """A fresh stage."""
        return StageModel(self.config.model)

    def prepare(self, model: nn.Module) -> None:
        """Nothing to initialise from data."""

    def init_from(self, model: nn.Module, path: Path) -> int:
        """Continue from exported stage weights."""
        blob = load_weights(path)
        _unwrap(model).load_state_dict(blob["state"])
        return int(blob["step"])

    def batches(self, start_step: int) -> Generator[dict[str, torch.Tensor], None, None]:
        """The batch of each step, drawn from (seed, step, rank): a resumed run sees the same."""
        step = start_step
        while True:
            rng = np.random.default_rng([self.config.train.seed, step, self.env.rank])
            batch = self.maker.rows(rng, self.config.train.batch_size)
            yield {k: v.to(self.env.device) for k, v in batch.items()}
            step += 1

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], step: int
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of one batch."""
        return model(batch), {}


class SemanticTask(StageTask):
    """Semantic tokens from conditions."""

    stage = "semantic"


class CoarseTask(StageTask):
    """The first RVQ levels from semantic tokens and conditions."""

    stage = "coarse"


class FineTask(StageTask):
    """The remaining RVQ levels from the coarse ones."""

    stage = "fine"

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], step: int
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of one level, drawn from (seed, step) so every rank agrees."""
        cfg = self.config.model
        rng = np.random.default_rng([self.config.train.seed, step, 7])
        level = int(rng.integers(cfg.coarse_levels, cfg.codec_levels))
        return model(batch, level), {"level": level}
