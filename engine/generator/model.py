"""The three token stages: one conditioned transformer, three ways of reading its frames.

* semantic — causal, one stream of 25 Hz semantic tokens;
* coarse   — causal, the first RVQ levels of both channels at 50 Hz, delay-interleaved
             (level l is ``l`` frames late, MusicGen's pattern: one step per frame), left and
             right side by side as separate streams of the same step;
* fine     — bidirectional, the remaining levels one level per pass given every level below
             (SoundStorm-like parallel decoding over frames: all frames of a level at once).

Every stage reads the same conditions: a prefix (MuLan tokens, tempo, meter, key, stem) and,
per frame, the timing features and the melody tokens; coarse also reads the semantic token
of each frame, fine the coarse levels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.generator.conditions import (
    BPM_BUCKETS,
    METERS,
    MULAN_CODES,
    MULAN_LEVELS,
    NULL_KEY,
    STEMS,
    TIMING_DIM,
)
from engine.generator.patterns import delayed
from engine.melody.tokens import VOCAB as MELODY_VOCAB
from engine.models.transformer import Backbone, KVCache, TransformerConfig

STAGES = ("semantic", "coarse", "fine")


@dataclass(frozen=True)
class StageConfig:
    """Shape of one stage."""

    stage: str = "coarse"
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    max_len: int = 512  # prefix + frames of one window
    dropout: float = 0.0
    semantic_vocab: int = 256
    codec_bins: int = 1024
    coarse_levels: int = 2
    codec_levels: int = 8
    channels: int = 2
    # Coarse: guidance's unconditional rows also lose the semantic plan (it was dropped with
    # MuLan and the melody in training), so guidance pulls toward the plan as well.
    guide_plan: bool = False
    # The stems the stage is conditioned on, in embedding order: the model's own vocabulary
    # (saved with its weights), so a stem name added to the protocol leaves its shape alone.
    # Checkpoints from before this field get the list they were trained with.
    stems: tuple[str, ...] = STEMS

    def __post_init__(self) -> None:
        object.__setattr__(self, "stems", tuple(self.stems))  # a TOML list or a saved tuple

    def to_dict(self) -> dict:
        """Plain dict (for exported weights)."""
        return asdict(self)

    @property
    def streams(self) -> int:
        """Token streams predicted per step (semantic 1; coarse levels x channels; fine the
        channels of one level)."""
        if self.stage == "semantic":
            return 1
        if self.stage == "coarse":
            return self.coarse_levels * self.channels
        return self.channels

    @property
    def stream_channels(self) -> int:
        """Audio channels among a step's streams, which are level-major (stream = level *
        channels + channel): 1 for the semantic stage's single stream."""
        return 1 if self.stage == "semantic" else self.channels

    @property
    def vocab(self) -> int:
        """Codes per stream, not counting the start/pad token (which is ``vocab``)."""
        return self.semantic_vocab if self.stage == "semantic" else self.codec_bins


class ConditionEmbedding(nn.Module):
    """Prefix and per-frame condition embeddings."""

    def __init__(self, d: int, stems: int = len(STEMS)) -> None:
        super().__init__()
        self.mulan = nn.Embedding(MULAN_LEVELS * (MULAN_CODES + 1), d)
        self.bpm = nn.Embedding(BPM_BUCKETS, d)
        self.meter = nn.Embedding(len(METERS), d)
        self.key = nn.Embedding(NULL_KEY + 1, d)
        self.stem = nn.Embedding(stems, d)
        self.slot = nn.Embedding(MULAN_LEVELS + 4, d)  # which prefix slot a vector fills
        self.timing = nn.Linear(TIMING_DIM, d)
        self.melody = nn.Embedding(MELODY_VOCAB, d)

    def prefix(self, ids: dict[str, torch.Tensor]) -> torch.Tensor:
        """(batch, PREFIX_LENGTH, d) from prefix ids (see conditions.prefix_ids)."""
        levels = torch.arange(MULAN_LEVELS, device=ids["mulan"].device)
        mulan = self.mulan(ids["mulan"] + levels * (MULAN_CODES + 1))
        rest = torch.stack([self.bpm(ids["bpm"]), self.meter(ids["meter"]),
                            self.key(ids["key"]), self.stem(ids["stem"])], dim=1)
        x = torch.cat([mulan, rest], dim=1)
        return x + self.slot.weight[None, : x.shape[1]]

    def frames(self, timing: torch.Tensor, melody: torch.Tensor) -> torch.Tensor:
        """(batch, frames, d) from timing features and melody tokens."""
        return self.timing(timing) + self.melody(melody)


class StageModel(nn.Module):
    """One stage: conditions + token streams -> logits per stream."""

    def __init__(self, cfg: StageConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.conditions = ConditionEmbedding(d, len(cfg.stems))
        self.backbone = Backbone(TransformerConfig(
            vocab_size=1, d_model=d, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
            max_len=cfg.max_len, dropout=cfg.dropout, causal=cfg.stage != "fine"))
        if cfg.stage == "fine":
            # Every level of both channels is an input; the target level is also announced.
            inputs = cfg.codec_levels * cfg.channels
            self.target_level = nn.Embedding(cfg.codec_levels, d)
        else:
            inputs = cfg.streams
        self.inputs = nn.Embedding(inputs * (cfg.vocab + 1), d)
        self.input_streams = inputs
        if cfg.stage == "coarse":
            self.semantic = nn.Embedding(cfg.semantic_vocab + 1, d)
        heads = cfg.streams * (cfg.codec_levels - cfg.coarse_levels if cfg.stage == "fine" else 1)
        self.head = nn.Linear(d, heads * cfg.vocab, bias=False)

    @property
    def pad(self) -> int:
        """The start/pad/unknown token of every stream."""
        return self.cfg.vocab

    def embed_streams(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, streams, frames) tokens -> (batch, frames, d), the sum over streams."""
        offsets = torch.arange(tokens.shape[1], device=tokens.device) * (self.cfg.vocab + 1)
        return self.inputs(tokens + offsets[None, :, None]).sum(1)

    def step(self, prefix: torch.Tensor | None, frames: torch.Tensor,
             cache: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Run the backbone on [prefix] + frame embeddings; logits of the frame positions as
        (batch, frames, heads, vocab)."""
        x = frames if prefix is None else torch.cat([prefix, frames], dim=1)
        hidden, cache = self.backbone.step(x, cache)
        hidden = hidden[:, -frames.shape[1]:] if frames.shape[1] else hidden[:, :0]
        logits = self.head(hidden)
        return logits.view(*logits.shape[:2], -1, self.cfg.vocab), cache

    def fine_logits(self, prefix: torch.Tensor, frame_embedding: torch.Tensor,
                    known: torch.Tensor, level: int) -> torch.Tensor:
        """Fine stage: logits (batch, frames, channels, vocab) of ``level`` given ``known``
        codes (batch, channels, levels, frames) with levels >= ``level`` set to pad."""
        batch, channels, levels, frames = known.shape
        streams = known.reshape(batch, channels * levels, frames)
        x = frame_embedding + self.embed_streams(streams) + self.target_level.weight[level]
        logits, _ = self.step(prefix, x, None)
        first = (level - self.cfg.coarse_levels) * channels
        return logits[:, :, first : first + channels]

    def frame_inputs(self, batch: dict[str, torch.Tensor], steps: int) -> torch.Tensor:
        """Per-step condition embeddings (batch, steps, d): timing and melody (and, for
        coarse, the semantic token); steps past the last frame repeat its conditions."""
        frames = batch["timing"].shape[1]
        index = torch.arange(steps, device=batch["timing"].device).clamp(max=frames - 1)
        x = self.conditions.frames(batch["timing"][:, index], batch["melody"][:, index])
        if self.cfg.stage == "coarse":
            semantic = batch["semantic"][:, index]
            x = x + self.semantic(semantic.masked_fill(semantic < 0, self.cfg.semantic_vocab))
        return x

    def forward(self, batch: dict[str, torch.Tensor], level: int = 0) -> torch.Tensor:
        """Training loss of a batch (``level``: the fine level to learn). Called through
        ``forward`` so that DDP averages the gradients."""
        if self.cfg.stage == "fine":
            return self._fine_loss(batch, level)
        return self._causal_loss(batch)

    def _causal_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Next-step cross-entropy of the semantic or delay-interleaved coarse streams;
        targets of -1 (padding) are ignored."""
        tokens = batch["tokens"]
        if self.cfg.stage == "semantic":
            streams = tokens[:, None]
        else:
            streams = delayed(tokens[:, :, : self.cfg.coarse_levels], -1)
        previous = torch.cat([streams.new_full((*streams.shape[:2], 1), -1),
                              streams[..., :-1]], dim=-1)
        inputs = previous.masked_fill(previous < 0, self.pad)
        x = self.frame_inputs(batch, streams.shape[-1]) + self.embed_streams(inputs)
        logits, _ = self.step(self.conditions.prefix(batch), x, None)
        return F.cross_entropy(logits.permute(0, 3, 1, 2), streams.transpose(1, 2),
                               ignore_index=-1)

    def _fine_loss(self, batch: dict[str, torch.Tensor], level: int) -> torch.Tensor:
        """Cross-entropy of one fine level of both channels, given every level below it."""
        codes = batch["tokens"]
        known = codes.clone()
        known[:, :, level:] = self.pad
        known = known.masked_fill(known < 0, self.pad)
        x = self.frame_inputs(batch, codes.shape[-1])
        logits = self.fine_logits(self.conditions.prefix(batch), x, known, level)
        return F.cross_entropy(logits.permute(0, 3, 1, 2), codes[:, :, level].transpose(1, 2),
                               ignore_index=-1)
