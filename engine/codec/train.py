"""The codec's training task for ``engine.training.loop`` (``stemloom train codec``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.codec import io
from engine.codec.data import ClipSampler, prefetch
from engine.codec.losses import LossConfig, ReconstructionLoss
from engine.codec.model import Codec, CodecConfig
from engine.training.config import TrainConfig
from engine.training.distributed import Dist


@dataclass
class DataConfig:
    """Where clips come from and how they are drawn."""

    root: str = "/tmp/corpus"
    split: str = "train"
    segment_seconds: float = 1.0
    mix_prob: float = 0.35
    gain_db: float = 12.0
    init_clips: int = 32  # stereo clips whose latents seed the k-means codebooks
    quantizer_dropout: float = 0.5  # share of steps that train with 1..n_q - 1 levels


@dataclass
class CodecTrainConfig:
    """The whole codec recipe: one TOML table per field."""

    train: TrainConfig = field(default_factory=TrainConfig)
    model: CodecConfig = field(default_factory=CodecConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)


def _unwrap(model: nn.Module) -> Codec:
    return getattr(model, "module", model)


class CodecTask:
    """Builds the codec, feeds it corpus clips and scores reconstructions."""

    config_class = CodecTrainConfig

    def __init__(self, config: CodecTrainConfig, env: Dist) -> None:
        """Index the training clips for this process."""
        self.config, self.env = config, env
        segment = round(config.data.segment_seconds * config.model.sample_rate)
        segment -= segment % config.model.hop
        self.sampler = ClipSampler(Path(config.data.root), config.data.split, segment,
                                   config.train.seed, env.rank, config.data.mix_prob,
                                   gain_db=config.data.gain_db)
        self.criterion = ReconstructionLoss(config.loss, config.model.sample_rate)

    def build_model(self) -> Codec:
        """A fresh codec."""
        return Codec(self.config.model)

    @torch.no_grad()
    def prepare(self, model: nn.Module) -> None:
        """k-means-initialise the codebooks on latents of a dedicated batch of clips."""
        codec = _unwrap(model)
        # A step number no training step uses, so the init clips are their own draw.
        clips = torch.from_numpy(self.sampler.batch(2**40, self.config.data.init_clips))
        x, _ = codec._fold(clips.to(self.env.device))
        codec.quantizer.init_kmeans(codec.encoder(x))

    def init_from(self, model: nn.Module, path: Path) -> int:
        """Continue from exported weights (fp16 weights are widened back to fp32)."""
        state, step = io.load_state(path)
        io.restore(_unwrap(model), state)
        return step

    def batches(self, start_step: int) -> Iterator[torch.Tensor]:
        """Prefetched clip batches from start_step on."""
        for batch in prefetch(self.sampler, start_step, self.config.train.batch_size):
            yield torch.from_numpy(batch).to(self.env.device)

    def levels(self, step: int) -> int:
        """Quantizer levels for `step`: all, or (dropout) 1..n_q - 1 drawn from (seed, step),
        the same on every process so the codebook statistics reductions line up."""
        n_q = self.config.model.n_q
        rng = np.random.default_rng([self.config.train.seed, step, 11])
        if rng.random() < self.config.data.quantizer_dropout:
            return int(rng.integers(1, n_q))
        return n_q

    def loss(self, model: nn.Module, batch: torch.Tensor, step: int
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction loss of one batch."""
        n_q = self.levels(step)
        y, commit, _ = model(batch, n_q)
        total, terms = self.criterion(y, batch, commit)
        return total, {**terms, "n_q": n_q,
                       "restarts": _unwrap(model).quantizer.restarts}
