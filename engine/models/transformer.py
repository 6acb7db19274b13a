"""The transformer every token model is built on, with a key/value cache.

Pre-norm blocks, self-attention through ``scaled_dot_product_attention`` (causal, or
bidirectional for parallel decoding), learned positions. ``Backbone.step`` feeds new input
embeddings and extends the cache, so generation costs one short forward per frame instead of
re-reading the whole sequence. ``Transformer`` is the plain token language model on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class TransformerConfig:
    """Size of a decoder."""

    vocab_size: int
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    max_len: int = 2048
    dropout: float = 0.0
    causal: bool = True


KVCache = list[tuple[torch.Tensor, torch.Tensor]]


class _Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )
        self.dropout = cfg.dropout
        self.causal = cfg.causal

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=-1)
        q, k, v = (t.view(batch, length, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        # With a cache the new queries sit at the end: a causal mask over the full length
        # is only needed when more than one query is fed at once.
        if self.causal and (cache is None or length > 1):
            offset = k.shape[2] - length
            mask = torch.ones(length, k.shape[2], dtype=torch.bool, device=x.device).tril(offset)
        else:
            mask = None
        attn = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        x = x + self.proj(attn.transpose(1, 2).reshape(batch, length, width))
        x = x + self.mlp(self.norm2(x))
        return x, (k, v)


class Backbone(nn.Module):
    """Input embeddings (batch, length, d_model) + positions -> blocks -> normed hidden states."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.position = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)

    def step(self, x: torch.Tensor, cache: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Feed embeddings ``x`` after what ``cache`` holds; return hidden states and the
        new cache."""
        start = cache[0][0].shape[2] if cache else 0
        length = x.shape[1]
        if start + length > self.cfg.max_len:
            raise ValueError(f"sequence of {start + length} exceeds max_len {self.cfg.max_len}")
        x = x + self.position(torch.arange(start, start + length, device=x.device))
        new_cache: KVCache = []
        for index, block in enumerate(self.blocks):
            x, layer_cache = block(x, cache[index] if cache else None)
            new_cache.append(layer_cache)
        return self.norm(x), new_cache


class Transformer(nn.Module):
    """Token embeddings -> causal backbone -> logits."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.backbone = Backbone(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits for every position of ``tokens`` (batch, length) without a cache."""
        logits, _ = self.step(tokens, None)
        return logits

    def step(self, tokens: torch.Tensor, cache: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Feed ``tokens`` after what ``cache`` holds; return their logits and the new cache."""
        hidden, cache = self.backbone.step(self.embed(tokens), cache)
        return self.head(hidden), cache


def filtered_logits(logits: torch.Tensor, *, temperature: float, top_k: int = 0,
                    top_p: float = 0.0) -> torch.Tensor:
    """``logits`` (..., vocab) over ``temperature`` (> 0), with every token outside the top_k
    most likely, and outside the smallest set holding top_p of the probability, set to -inf
    (0 turns either off)."""
    logits = logits / temperature
    if top_k > 0:
        threshold = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < threshold, float("-inf"))
    if 0 < top_p < 1:
        ordered, order = logits.sort(dim=-1, descending=True)
        mass_before = ordered.softmax(dim=-1).cumsum(dim=-1) - ordered.softmax(dim=-1)
        ordered = ordered.masked_fill(mass_before > top_p, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    return logits


def sample_next(
    logits: torch.Tensor,
    generator: torch.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 0.0,
) -> torch.Tensor:
    """Sample one token per row of ``logits`` (rows, vocab): temperature, then the top_k
    most likely, then the smallest set holding top_p of the probability (0 turns either off).
    """
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = filtered_logits(logits, temperature=temperature, top_k=top_k,
                            top_p=top_p).softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def sample_with_shared_noise(
    logits: torch.Tensor,
    generator: torch.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 0.0,
) -> torch.Tensor:
    """Sample one token per member of ``logits`` (groups, members, vocab) by Gumbel-max, the
    members of a group sharing one Gumbel noise vector.

    Each member's token follows its own filtered distribution exactly (as ``sample_next``);
    what the shared noise changes is how the members' draws relate: members whose
    distributions agree draw the same token, and the closer two distributions, the likelier
    their tokens agree. The left and right channels of a stereo codec, drawn independently,
    wander apart even where the model expects the same sound in both.
    """
    if temperature <= 0:
        return logits.argmax(dim=-1)
    scaled = filtered_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    shape = (*scaled.shape[:-2], 1, scaled.shape[-1])
    uniform = torch.rand(shape, generator=generator, dtype=scaled.dtype)
    tiny = torch.finfo(scaled.dtype).tiny
    gumbel = -torch.log(-torch.log(uniform.clamp(tiny, 1.0 - 1e-7)))
    return (scaled + gumbel).argmax(dim=-1)
