"""The two trained towers and the contrastive objective that aligns them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.mulan.features import N_MELS
from engine.mulan.text import TEXT_DIM


@dataclass
class MulanModelConfig:
    """Tower sizes."""

    embed_dim: int = 128
    audio_width: int = 128
    audio_blocks: int = 4
    audio_stride: int = 4  # 50 Hz mel frames -> 12.5 Hz: still several frames per beat
    text_hidden: int = 512


class _Residual(nn.Module):
    """Dilated conv block over time: norm -> conv -> GELU -> conv, added back."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, width)
        self.conv1 = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(self.norm(x))))


class AudioTower(nn.Module):
    """(B, 64, T) log-mel -> (B, embed_dim) unit vectors, attention-pooled over time."""

    def __init__(self, cfg: MulanModelConfig) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(N_MELS)
        self.stem = nn.Conv1d(N_MELS, cfg.audio_width, 2 * cfg.audio_stride,
                              stride=cfg.audio_stride, padding=cfg.audio_stride // 2)
        self.blocks = nn.Sequential(
            *(_Residual(cfg.audio_width, 2 ** (i % 4)) for i in range(cfg.audio_blocks))
        )
        self.attention = nn.Conv1d(cfg.audio_width, 1, 1)
        self.out = nn.Linear(2 * cfg.audio_width, cfg.embed_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Embed a batch of log-mel windows."""
        x = self.blocks(F.gelu(self.stem(self.input_norm(mel))))
        weights = self.attention(x).softmax(dim=-1)
        pooled = torch.cat([(x * weights).sum(-1), x.mean(-1)], dim=-1)
        return F.normalize(self.out(pooled), dim=-1)


class TextProjection(nn.Module):
    """Frozen sentence embeddings (B, 384) -> (B, embed_dim) unit vectors."""

    def __init__(self, cfg: MulanModelConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(TEXT_DIM, cfg.text_hidden), nn.GELU(), nn.Linear(cfg.text_hidden,
                                                                        cfg.embed_dim)
        )

    def forward(self, sentence: torch.Tensor) -> torch.Tensor:
        """Project sentence embeddings into the joint space."""
        return F.normalize(self.net(sentence), dim=-1)


class Mulan(nn.Module):
    """Both towers and a learned temperature."""

    def __init__(self, cfg: MulanModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio = AudioTower(cfg)
        self.text = TextProjection(cfg)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, mel: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE loss of a batch of matching (audio, text) pairs; every other
        row of the batch is a negative (batches hold one item per corpus example)."""
        audio = self.audio(mel)
        text = self.text(sentence)
        logits = self.log_scale.exp().clamp(max=100) * audio @ text.T
        targets = torch.arange(len(audio))
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
