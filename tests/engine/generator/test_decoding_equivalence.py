"""The tricky parts of decoding, pinned against their definitions on tiny seeded models
(as audiocraft tests its streaming modules):

* key/value-cached step-by-step decoding gives the logits of one full forward pass, for any
  way of cutting the sequence into steps (semantic and coarse: the causal stages);
* attention equals its textbook definition with an explicit mask (causal for semantic and
  coarse, none for the bidirectional fine stage);
* the sliding window of long generations equals recomputing over the window it defines,
  with classifier-free guidance batched equal to separate conditional/unconditional passes;
* generation feeds the model exactly what training fed it (teacher-forced sampling
  reproduces the training loss, delay pattern included);
* top-k / top-p sampling draws from the distribution a plain reference computes, with the
  same draws for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from engine.generator import sampling
from engine.generator.conditions import (
    BPM_BUCKETS,
    METERS,
    MULAN_CODES,
    MULAN_LEVELS,
    NULL_KEY,
    PREFIX_LENGTH,
    TIMING_DIM,
)
from engine.generator.model import StageConfig, StageModel
from engine.generator.patterns import delayed
from engine.generator.sampling import (
    FAMILY_GUIDANCE,
    SamplingOptions,
    guided,
    row_guidance,
    sample_causal,
)
from engine.melody.tokens import VOCAB as MELODY_VOCAB
from engine.models.transformer import Backbone, KVCache, sample_next, sample_with_shared_noise

FRAMES = 12  # frames of every test sequence


def _model(stage: str, dtype: torch.dtype = torch.float64, max_len: int = 64,
           seed: int = 0) -> StageModel:
    """A tiny randomly initialised stage (shapes like the real ones, widths tiny)."""
    torch.manual_seed(seed)
    cfg = StageConfig(stage=stage, d_model=16, n_layers=2, n_heads=2, max_len=max_len,
                      semantic_vocab=11, codec_bins=13, coarse_levels=2, codec_levels=4)
    return StageModel(cfg).to(dtype).eval()


def _batch(model: StageModel, rows: int, frames: int = FRAMES, seed: int = 1
           ) -> dict[str, torch.Tensor]:
    """A random training batch of ``rows`` examples of ``frames`` frames."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    dtype = model.head.weight.dtype

    def ints(high: int, *shape: int) -> torch.Tensor:
        return torch.randint(0, high, shape, generator=g)

    batch = {"mulan": ints(MULAN_CODES + 1, rows, MULAN_LEVELS), "bpm": ints(BPM_BUCKETS, rows),
             "meter": ints(len(METERS), rows), "key": ints(NULL_KEY + 1, rows),
             "stem": ints(model.conditions.stem.num_embeddings, rows),
             "timing": torch.randn(rows, frames, TIMING_DIM, generator=g, dtype=dtype),
             "melody": ints(MELODY_VOCAB, rows, frames)}
    if cfg.stage == "semantic":
        batch["tokens"] = ints(cfg.semantic_vocab, rows, frames)
    else:
        batch["tokens"] = ints(cfg.codec_bins, rows, cfg.channels, cfg.codec_levels, frames)
        batch["semantic"] = ints(cfg.semantic_vocab, rows, frames)
    return batch


def _inputs(model: StageModel, rows: int, steps: int, seed: int = 2
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (prefix, frame embeddings) as a stage is fed them."""
    batch = _batch(model, rows, steps, seed)
    x = model.frame_inputs(batch, steps)
    tokens = torch.randint(0, model.pad + 1, (rows, model.input_streams, steps),
                           generator=torch.Generator().manual_seed(seed))
    return model.conditions.prefix(batch), x + model.embed_streams(tokens)


# ------------------------------------------------------------------ key/value cache


@pytest.mark.parametrize("stage", ["semantic", "coarse"])
@pytest.mark.parametrize(("dtype", "atol"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_cached_step_by_step_equals_one_full_pass(stage: str, dtype: torch.dtype,
                                                  atol: float) -> None:
    """Prefix first, then one frame at a time through the cache (what sample_causal does)
    gives, at every frame, the logits one uncached forward gives over the whole sequence."""
    model = _model(stage, dtype)
    with torch.no_grad():
        prefix, x = _inputs(model, 3, FRAMES)
        full, _ = model.step(prefix, x, None)
        logits, cache = model.step(prefix, x[:, :1], None)
        stepped = [logits]
        for t in range(1, FRAMES):
            logits, cache = model.step(None, x[:, t : t + 1], cache)
            stepped.append(logits)
    assert cache[0][0].shape[2] == PREFIX_LENGTH + FRAMES
    assert (torch.cat(stepped, dim=1) - full).abs().max() < atol


@pytest.mark.parametrize("cuts", [[16, 1, 1, 4, 1, 5], [1, 20, 2, 5], [3, 14, 11]])
def test_cached_chunks_of_any_size_equal_one_full_pass(cuts: list[int]) -> None:
    """Several positions fed at once after a cache (the window rebuild feeds prefix and
    frames; a chunk of frames takes the masked path) still equal the full pass."""
    model = _model("coarse")
    backbone: Backbone = model.backbone
    with torch.no_grad():
        prefix, x = _inputs(model, 2, FRAMES)
        sequence = torch.cat([prefix, x], dim=1)
        full, _ = backbone.step(sequence, None)
        parts, cache, start = [], None, 0
        for size in cuts:
            hidden, cache = backbone.step(sequence[:, start : start + size], cache)
            parts.append(hidden)
            start += size
    assert start == sequence.shape[1]
    assert (torch.cat(parts, dim=1) - full).abs().max() < 1e-12


# ------------------------------------------------------------------ attention, by definition


def _reference_backbone(backbone: Backbone, x: torch.Tensor, causal: bool) -> torch.Tensor:
    """The backbone written out: softmax(q k^T / sqrt(d) + mask) v per head, with an explicit
    lower-triangular mask when causal (position i sees j <= i) and none otherwise."""
    length = x.shape[1]
    x = x + backbone.position.weight[:length]
    allowed = torch.ones(length, length, dtype=torch.bool)
    if causal:
        allowed = torch.tensor([[j <= i for j in range(length)] for i in range(length)])
    for block in backbone.blocks:
        heads = block.n_heads
        q, k, v = block.qkv(block.norm1(x)).chunk(3, dim=-1)
        q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(~allowed, float("-inf"))
        attn = (scores.softmax(dim=-1) @ v).transpose(1, 2).flatten(2)
        x = x + block.proj(attn)
        x = x + block.mlp(block.norm2(x))
    return backbone.norm(x)


@pytest.mark.parametrize("stage", ["semantic", "coarse", "fine"])
def test_attention_equals_its_definition(stage: str) -> None:
    """Causal stages attend to the past only, the fine stage to every frame."""
    model = _model(stage)
    assert model.backbone.cfg.causal == (stage != "fine")
    with torch.no_grad():
        prefix, x = _inputs(model, 2, FRAMES)
        sequence = torch.cat([prefix, x], dim=1)
        hidden, _ = model.backbone.step(sequence, None)
        reference = _reference_backbone(model.backbone, sequence, stage != "fine")
    assert (hidden - reference).abs().max() < 1e-12


def test_fine_logits_equal_the_bidirectional_definition() -> None:
    """fine_logits (one pass over every frame, the target level announced, levels at and
    above it padded) equals the written-out backbone followed by that level's heads."""
    model = _model("fine")
    cfg = model.cfg
    batch = _batch(model, 2)
    level = 3
    known = batch["tokens"].clone()
    known[:, :, level:] = model.pad
    with torch.no_grad():
        prefix = model.conditions.prefix(batch)
        x = model.frame_inputs(batch, FRAMES)
        logits = model.fine_logits(prefix, x, known, level)
        streams = known.reshape(2, cfg.channels * cfg.codec_levels, FRAMES)
        inputs = x + model.embed_streams(streams) + model.target_level.weight[level]
        hidden = _reference_backbone(model.backbone, torch.cat([prefix, inputs], 1), False)
        heads = model.head(hidden[:, PREFIX_LENGTH:]).unflatten(-1, (-1, cfg.vocab))
        first = (level - cfg.coarse_levels) * cfg.channels
        reference = heads[:, :, first : first + cfg.channels]
        # Bidirectional for real: the last frame's codes move the first frame's logits.
        changed = known.clone()
        changed[..., -1] = (changed[..., -1] + 1) % cfg.codec_bins
        changed[:, :, level:] = model.pad
        moved = model.fine_logits(prefix, x, changed, level)
    assert logits.shape == (2, FRAMES, cfg.channels, cfg.vocab)
    assert (logits - reference).abs().max() < 1e-12
    assert (moved[:, 0] - logits[:, 0]).abs().max() > 1e-6


# ------------------------------------------------------------------ sampling, by definition


class _Spy:
    """Records the guided logits sample_causal hands to its sampler: sample_next, or
    sample_with_shared_noise for a stage whose channels are drawn coupled (its logits are
    the same numbers grouped by level)."""

    def __init__(self) -> None:
        self.logits: list[torch.Tensor] = []

    def watch(self, monkeypatch: pytest.MonkeyPatch) -> _Spy:
        """Stand in for both samplers of ``engine.generator.sampling``."""
        for name, sampler in (("sample_next", sample_next),
                              ("sample_with_shared_noise", sample_with_shared_noise)):
            monkeypatch.setattr(sampling, name, self._recording(sampler))
        return self

    def _recording(self, sampler: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def record(logits: torch.Tensor, generator: torch.Generator,
                   **options: float) -> torch.Tensor:
            self.logits.append(logits.clone())
            return sampler(logits, generator, **options)
        return record

    def stacked(self, rows: int) -> torch.Tensor:
        """(rows, steps, streams, vocab), as a stage's ``step`` returns logits."""
        return torch.stack([x.view(rows, -1, x.shape[-1]) for x in self.logits], dim=1)


def _window_starts(steps: int, prefix: int, max_len: int) -> list[int]:
    """The first frame the model sees at each step: everything until prefix + frames would
    pass max_len, then the newest half of the window (MusicGen's sliding window)."""
    window = max_len - prefix
    start, starts = 0, []
    for t in range(steps):
        if prefix + (t - start) + 1 > max_len:
            start = t + 1 - window // 2
        starts.append(start)
    return starts


@pytest.mark.parametrize("stage", ["semantic", "coarse"])
def test_sliding_window_and_guidance_equal_their_definition(
        stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generation three times longer than the window: at every step the guided logits
    equal u + s (c - u) + prior, with c and u each recomputed without a cache, in separate
    batches, over the prefix and the frames of the window the definition gives."""
    max_len = PREFIX_LENGTH + 10
    model = _model(stage, max_len=max_len)
    rows, steps, scale = 2, 31, 2.5
    spy = _Spy().watch(monkeypatch)
    prior = torch.randn(model.cfg.vocab, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        batch = _batch(model, 2 * rows, steps)  # [conditional; unconditional] rows
        prefix = model.conditions.prefix(batch)
        x = model.frame_inputs(batch, steps)
        options = SamplingOptions(temperature=1.0, top_k=5, guidance=scale)
        tokens = sample_causal(model, prefix, x, options, torch.Generator().manual_seed(5),
                               prior=prior)
        assert tokens.shape == (rows, model.cfg.streams, steps)
        starts = _window_starts(steps, PREFIX_LENGTH, max_len)
        assert len(set(starts)) > 3  # the window really slid, several times
        fed = torch.cat([torch.full_like(tokens[..., :1], model.pad), tokens[..., :-1]], -1)
        fed_x = x + model.embed_streams(fed.repeat(2, 1, 1))  # what each step was given
        for t, start in enumerate(starts):
            c, _ = model.step(prefix[:rows], fed_x[:rows, start : t + 1], None)
            u, _ = model.step(prefix[rows:], fed_x[rows:, start : t + 1], None)
            expected = u[:, -1] + scale * (c[:, -1] - u[:, -1]) + prior
            got = spy.logits[t].view(rows, model.cfg.streams, -1)
            assert (got - expected).abs().max() < 1e-10, f"step {t} (window from {start})"
    assert len(spy.logits) == steps


def test_guidance_off_samples_the_conditional_rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """With guidance 1 the unconditional rows the caller passes are not run: the result has
    one row per conditional row, as documented, and equals sampling those rows alone."""
    model = _model("semantic")
    rows, steps = 2, 8
    with torch.no_grad():
        batch = _batch(model, 2 * rows, steps)
        prefix = model.conditions.prefix(batch)
        x = model.frame_inputs(batch, steps)
        options = SamplingOptions(top_k=0, guidance=1.0)
        spy = _Spy().watch(monkeypatch)
        tokens = sample_causal(model, prefix, x, options, torch.Generator().manual_seed(6))
        assert tokens.shape == (rows, 1, steps)
        assert all(len(logits) == rows for logits in spy.logits)
        fed = torch.cat([torch.full_like(tokens[..., :1], model.pad), tokens[..., :-1]], -1)
        c, _ = model.step(prefix[:rows], x[:rows] + model.embed_streams(fed), None)
        assert (spy.stacked(rows) - c).abs().max() < 1e-10


def test_guided_is_the_cfg_formula() -> None:
    g = torch.Generator().manual_seed(7)
    c, u = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    both = torch.cat([c, u])
    assert torch.allclose(guided(both, 3.0), u + 3.0 * (c - u))
    assert torch.equal(guided(both, 1.0), c)
    assert torch.allclose(guided(both, 0.0), u)


def test_each_row_may_have_its_own_guidance_and_bass_is_capped() -> None:
    g = torch.Generator().manual_seed(8)
    c, u = torch.randn(3, 2, 5, generator=g), torch.randn(3, 2, 5, generator=g)
    scales = torch.tensor([3.0, 2.0, 1.0])
    rowwise = guided(torch.cat([c, u]), scales)
    for row, scale in enumerate(scales.tolist()):
        assert torch.allclose(rowwise[row], u[row] + scale * (c[row] - u[row]))
    assert row_guidance(["drums", "keys"], 3.0) is None  # no capped family: the options' scale
    capped = row_guidance(["drums", "bass", "mix"], 3.0)
    assert capped is not None and capped.tolist() == [3.0, FAMILY_GUIDANCE["bass"], 3.0]
    assert row_guidance(["bass"], 1.5) is None  # a cap never raises a producer's lower scale


def test_a_row_guided_alone_draws_what_its_own_scale_draws() -> None:
    """Per-row guidance changes only the capped rows: the other rows draw what a run at the
    options' scale draws, the capped one what a run at its own scale draws."""
    model = _model("coarse")
    rows = 2
    with torch.no_grad():
        batch = _batch(model, 2 * rows)  # [conditional; unconditional] rows
        prefix, x = model.conditions.prefix(batch), model.frame_inputs(batch, FRAMES)
        options = SamplingOptions(guidance=3.0)

        def run(scale: float, guidance: torch.Tensor | None = None) -> torch.Tensor:
            return sample_causal(model, prefix, x, replace(options, guidance=scale),
                                 torch.Generator().manual_seed(1), guidance=guidance)

        mixed = run(3.0, torch.tensor([3.0, 1.5]))
        assert torch.equal(mixed[0], run(3.0)[0])
        assert torch.equal(mixed[1], run(1.5)[1])
        assert not torch.equal(mixed[1], run(3.0)[1])


@pytest.mark.parametrize("stage", ["semantic", "coarse"])
def test_teacher_forced_generation_reproduces_the_training_loss(
        stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forcing every step to the training targets, the logits generation computes (one
    cached step at a time, previous tokens fed back, delay pattern's pads where a level has
    no token) give exactly the training loss: inference reads what training read."""
    model = _model(stage)
    rows = 3
    batch = _batch(model, rows)
    cfg = model.cfg
    with torch.no_grad():
        loss = model(batch)
        if stage == "semantic":
            streams = batch["tokens"][:, None]
            valid = None
        else:
            streams = delayed(batch["tokens"][:, :, : cfg.coarse_levels], -1)
            levels = torch.arange(cfg.streams) // cfg.channels

            def valid(t: int) -> torch.Tensor:
                return (t - levels >= 0) & (t - levels < FRAMES)

        steps = streams.shape[-1]
        prefix = model.conditions.prefix(batch)
        x = model.frame_inputs(batch, steps)
        spy = _Spy().watch(monkeypatch)
        options = SamplingOptions(guidance=1.0)
        tokens = sample_causal(model, prefix.repeat(2, 1, 1), x.repeat(2, 1, 1), options,
                               torch.Generator().manual_seed(8), valid=valid, forced=streams)
        logits = spy.stacked(rows)
        replayed = F.cross_entropy(logits.permute(0, 3, 1, 2), streams.transpose(1, 2),
                                   ignore_index=-1)
    assert torch.equal(tokens, streams.masked_fill(streams < 0, model.pad))
    assert abs(float(replayed) - float(loss)) < 1e-10


# ------------------------------------------------------------------ top-k / top-p


def _reference_probs(logits: np.ndarray, temperature: float, top_k: int, top_p: float
                     ) -> np.ndarray:
    """Per row: tempered softmax; keep the top_k largest; then keep the most likely tokens
    in order while the mass before each is at most top_p; renormalise."""
    out = np.zeros_like(logits)
    for row, values in enumerate(logits / temperature):
        keep = np.ones(values.size, dtype=bool)
        if top_k > 0:
            keep &= values >= np.sort(values)[::-1][min(top_k, values.size) - 1]
        p = np.where(keep, np.exp(values - values[keep].max()), 0.0)
        p /= p.sum()
        if 0 < top_p < 1:
            order = np.argsort(-p, kind="stable")
            before = np.cumsum(p[order]) - p[order]
            keep_p = np.zeros(values.size, dtype=bool)
            keep_p[order[before <= top_p]] = True
            p = np.where(keep_p, p, 0.0)
            p /= p.sum()
        out[row] = p
    return out


@pytest.mark.parametrize(("temperature", "top_k", "top_p"),
                         [(1.0, 0, 0.0), (0.7, 5, 0.0), (1.3, 0, 0.6), (0.9, 8, 0.5)])
def test_top_k_top_p_sampling_equals_the_reference(temperature: float, top_k: int,
                                                   top_p: float,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """sample_next draws from exactly the reference distribution, and for a fixed seed
    makes the very draws multinomial makes from the reference probabilities."""
    g = torch.Generator().manual_seed(9)
    logits = 2.0 * torch.randn(64, 20, generator=g, dtype=torch.float64)
    expected = _reference_probs(logits.numpy(), temperature, top_k, top_p)
    seen: list[torch.Tensor] = []
    multinomial = torch.multinomial

    def spy(probs: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        seen.append(probs.clone())
        return multinomial(probs, *args, **kwargs)

    monkeypatch.setattr(torch, "multinomial", spy)
    drawn = sample_next(logits, torch.Generator().manual_seed(10), temperature=temperature,
                        top_k=top_k, top_p=top_p)
    monkeypatch.undo()
    assert np.abs(seen[0].numpy() - expected).max() < 1e-12
    reference = torch.multinomial(torch.from_numpy(expected), 1,
                                  generator=torch.Generator().manual_seed(10)).squeeze(-1)
    assert torch.equal(drawn, reference)
    assert all(expected[row, int(token)] > 0 for row, token in enumerate(drawn))
    if top_k:
        assert ((expected > 0).sum(1) <= top_k).all()


def test_zero_temperature_is_greedy() -> None:
    logits = torch.randn(6, 9, generator=torch.Generator().manual_seed(11))
    drawn = sample_next(logits, torch.Generator(), temperature=0, top_k=3, top_p=0.5)
    assert torch.equal(drawn, logits.argmax(-1))


# Keep the KVCache alias honest: one (keys, values) pair per layer, (batch, heads, len, d).
def test_cache_layout() -> None:
    model = _model("semantic")
    with torch.no_grad():
        prefix, x = _inputs(model, 2, 3)
        _, cache = model.step(prefix, x, None)
    layout: KVCache = cache
    assert len(layout) == model.cfg.n_layers
    assert layout[0][0].shape == (2, model.cfg.n_heads, PREFIX_LENGTH + 3,
                                  model.cfg.d_model // model.cfg.n_heads)
