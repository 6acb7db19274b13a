"""The codec's training task for ``engine.training.loop`` (``stemloom train codec``)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.codec import io
from engine.codec.code_noise import nearest_codes, swap_codes
from engine.codec.data import ClipSampler, prefetch
from engine.codec.losses import LossConfig, ReconstructionLoss
from engine.codec.mixture import MixedSampler
from engine.codec.model import Codec, CodecConfig
from engine.training.config import TrainConfig
from engine.training.distributed import Dist


@dataclass
class DataConfig:
    """Where clips come from and how they are drawn."""

    roots: list[str] = field(default_factory=lambda: ["/tmp/corpus"])  # corpus folders
    weights: list[float] = field(default_factory=list)  # each root's share; empty = equal
    split: str = "train"
    segment_seconds: float = 1.0
    mix_prob: float = 0.35
    gain_db: float = 12.0
    init_clips: int = 32  # stereo clips whose latents seed the k-means codebooks
    quantizer_dropout: float = 0.5  # share of steps that train with 1..n_q - 1 levels


@dataclass
class FinetuneConfig:
    """Training only the decoder (the codes, and so every model that reads them, stay as
    they are), on codes made noisy as a generator's are, with extra steps at the level count
    the generator decodes."""

    decoder_only: bool = False
    code_noise: float = 0.0  # share of clips whose codes get neighbours swapped in
    code_noise_max_rate: float = 0.3  # a noisy clip's swap rate is uniform in [0, this]
    neighbours: int = 8  # a swapped code is one of its k nearest in its codebook
    focus_levels: int = 0  # 0: off; else the level count drawn with focus_prob
    focus_prob: float = 0.5


@dataclass
class CodecTrainConfig:
    """The whole codec recipe: one TOML table per field."""

    train: TrainConfig = field(default_factory=TrainConfig)
    model: CodecConfig = field(default_factory=CodecConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


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
        data = config.data
        samplers = [ClipSampler(Path(root), data.split, segment, config.train.seed, env.rank,
                                data.mix_prob, gain_db=data.gain_db) for root in data.roots]
        self.sampler = MixedSampler(samplers, data.weights or [1.0] * len(samplers),
                                    config.train.seed, env.rank)
        self.criterion = ReconstructionLoss(config.loss, config.model.sample_rate)
        self._neighbours: list[torch.Tensor] | None = None

    def build_model(self) -> Codec:
        """A fresh codec (with the encoder and codebooks frozen when only the decoder
        trains)."""
        codec = Codec(self.config.model)
        if self.config.finetune.decoder_only:
            for part in (codec.encoder, codec.quantizer):
                part.requires_grad_(False)
        return codec

    @torch.no_grad()
    def prepare(self, model: nn.Module) -> None:
        """k-means-initialise the codebooks on latents of a dedicated batch of clips."""
        if self.config.finetune.decoder_only:
            # Frozen codebooks seeded on a random encoder would never become useful codes.
            raise ValueError("[finetune] decoder_only trains the decoder of exported weights: "
                             "start it with --init (e.g. engine/weights/default/codec/codec.pt)")
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

    def batches(self, start_step: int) -> Generator[torch.Tensor, None, None]:
        """Prefetched clip batches from start_step on."""
        with closing(prefetch(self.sampler, start_step, self.config.train.batch_size)) as source:
            for batch in source:
                yield torch.from_numpy(batch).to(self.env.device)

    def levels(self, step: int) -> int:
        """Quantizer levels for `step`: all, or (dropout) 1..n_q - 1 drawn from (seed, step),
        the same on every process so the codebook statistics reductions line up."""
        n_q = self.config.model.n_q
        rng = np.random.default_rng([self.config.train.seed, step, 11])
        if rng.random() < self.config.data.quantizer_dropout:
            return int(rng.integers(1, n_q))
        focus = self.config.finetune
        if focus.focus_levels and rng.random() < focus.focus_prob:
            return focus.focus_levels
        return n_q

    def loss(self, model: nn.Module, batch: torch.Tensor, step: int
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction loss of one batch."""
        n_q = self.levels(step)
        if self.config.finetune.decoder_only:
            y, commit, _ = model(batch, n_q, self._noisy_codes(_unwrap(model), batch, n_q, step))
            total, terms = self.criterion(y, batch, commit)
            return total, {**terms, "n_q": n_q}
        y, commit, _ = model(batch, n_q)
        total, terms = self.criterion(y, batch, commit)
        return total, {**terms, "n_q": n_q,
                       "restarts": _unwrap(model).quantizer.restarts}

    @torch.no_grad()
    def _noisy_codes(self, codec: Codec, batch: torch.Tensor, n_q: int, step: int
                     ) -> torch.Tensor:
        """The frozen encoder's (B, C, n_q, frames) codes of `batch`, a share of the clips
        with neighbouring codes swapped in (both channels of a clip share its swap rate)."""
        tune = self.config.finetune
        b, c, _ = batch.shape
        codes = codec.encode(batch, n_q)
        if tune.code_noise <= 0:
            return codes
        if self._neighbours is None:
            self._neighbours = nearest_codes(codec.quantizer, tune.neighbours)
        seed = np.random.default_rng([self.config.train.seed, self.env.rank, step, 13])
        gen = torch.Generator().manual_seed(int(seed.integers(2**31)))
        noisy = torch.rand(b, generator=gen) < tune.code_noise
        rates = torch.rand(b, generator=gen) * tune.code_noise_max_rate * noisy
        flat = codes.reshape(b * c, *codes.shape[2:])
        swapped = swap_codes(flat, self._neighbours, rates.repeat_interleave(c), gen)
        return swapped.reshape(codes.shape)
