"""Sampling the causal stages frame by frame: classifier-free guidance, a key/value cache, and
a sliding window (MusicGen-style) so a piece may be longer than the window trained on.

One loop, ``sample_lanes``, samples one job (``sample_causal``) or several at once: a
``Lane`` is one job's rows, its prefix and per-step inputs ([conditional; unconditional]
rows), its torch generator, forced tokens, prior and step callback. The forward pass runs
over every lane's rows together; each lane's tokens are drawn from its own slice of the
logits with its own generator, in the order and shapes a lone run draws them, so a lane's
tokens equal its lone run's unless a draw lands within the forward pass's float drift (about
1e-7 at another batch size) of a sampling boundary. A lane whose callback raises (a
cancelled job, a preview that could not be written) leaves at that step: its rows are taken
out of the inputs and the key/value cache, the other lanes go on, and what it raised is its
result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.generator.model import StageModel
from engine.models.transformer import KVCache, sample_next, sample_with_shared_noise


@dataclass(frozen=True)
class SamplingOptions:
    """How tokens are drawn."""

    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    guidance: float = 3.0  # classifier-free guidance scale; 1 turns it off
    # The channels of one codec level drawn with shared noise (sample_with_shared_noise):
    # on the 16 evaluation prompts x 2 seeds, decoded L/R correlation 0.49 -> 0.78 (bass),
    # 0.42 -> 0.75 (lead), beat grid 29 -> 30 and scale fit 23 -> 25 of 32.
    coupled_channels: bool = True


# Guidance caps per stem family. Bass drawn at the default scale 3 jumps between tokens
# (decoded as grit: harmonic share 0.70 against the corpus's 0.93); at 2 its harmonic share
# rose +0.086 +- 0.034 (paired, 10 dev prompts x 2 seeds, beat grid and key unchanged).
FAMILY_GUIDANCE = {"bass": 2.0}


def row_guidance(families: list[str], guidance: float) -> torch.Tensor | None:
    """Each row's guidance scale: ``guidance``, capped by its family's FAMILY_GUIDANCE (None
    when no row is capped)."""
    scales = [min(guidance, FAMILY_GUIDANCE.get(family, guidance)) for family in families]
    if all(scale == guidance for scale in scales):
        return None
    return torch.tensor(scales)


def guided(logits: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """Rows [conditional; unconditional] -> u + scale * (c - u) (CFG); ``scale`` is one
    float or one per conditional row."""
    if not isinstance(scale, torch.Tensor) and scale == 1.0:
        return logits[: len(logits) // 2]
    conditional, unconditional = logits.chunk(2)
    if isinstance(scale, torch.Tensor):
        scale = scale.to(logits.device, logits.dtype).view(-1, *[1] * (logits.dim() - 1))
    return unconditional + scale * (conditional - unconditional)


def sample_causal(model: StageModel, prefix: torch.Tensor, frame_inputs: torch.Tensor,
                  options: SamplingOptions, generator: torch.Generator,
                  valid: Callable[[int], torch.Tensor] | None = None,
                  forced: torch.Tensor | None = None,
                  on_step: Callable[[int, torch.Tensor], None] | None = None,
                  prior: torch.Tensor | None = None,
                  guidance: torch.Tensor | None = None) -> torch.Tensor:
    """Sample every step of a causal stage.

    ``prefix`` (2B, P, d) and ``frame_inputs`` (2B, steps, d) hold the conditional rows and
    then the unconditional ones (guidance); returns tokens (B, streams, steps). ``valid(t)``
    says which streams carry a real token at step t (others are fed the pad token, as in
    training's delay pattern); ``forced`` (B, streams, n) fixes the tokens of the first n
    steps where it is not -1 (a clip being continued); ``on_step(t, tokens so far)`` is
    called after each step (what it raises ends the sampling); ``prior`` (vocab,) is added to
    every step's guided logits (a log-prior steering the draw, e.g. toward a key);
    ``guidance`` (B,) is each row's guidance scale (``row_guidance``; None: the options').
    """
    lane = Lane(prefix, frame_inputs, generator, forced, prior, on_step, guidance)
    tokens = sample_lanes(model, [lane], options, valid)[0]
    if isinstance(tokens, Exception):
        raise tokens
    return tokens


def _draw(logits: torch.Tensor, channels: int, options: SamplingOptions,
          generator: torch.Generator) -> torch.Tensor:
    """One token per stream of (rows, streams, vocab) logits, whose streams are level-major
    (stream = level * channels + channel)."""
    rows, streams, vocab = logits.shape
    settings = {"temperature": options.temperature, "top_k": options.top_k,
                "top_p": options.top_p}
    if options.coupled_channels and channels > 1:
        grouped = logits.reshape(rows * streams // channels, channels, vocab)
        return sample_with_shared_noise(grouped, generator, **settings).view(rows, streams)
    return sample_next(logits.reshape(rows * streams, vocab), generator,
                       **settings).view(rows, streams)


@dataclass
class Lane:
    """One job's rows of a batched causal stage (shapes as ``sample_causal``'s arguments)."""

    prefix: torch.Tensor  # (2b, P, d): b conditional rows, then their unconditional rows
    frame_inputs: torch.Tensor  # (2b, steps, d)
    generator: torch.Generator
    forced: torch.Tensor | None = None  # (b, streams, n)
    prior: torch.Tensor | None = None  # (vocab,)
    on_step: Callable[[int, torch.Tensor], None] | None = None
    guidance: torch.Tensor | None = None  # (b,) each row's scale; None: the options' scale

    @property
    def rows(self) -> int:
        """The lane's rows (conditional ones)."""
        return self.prefix.shape[0] // 2


def sample_lanes(model: StageModel, lanes: list[Lane], options: SamplingOptions,
                 valid: Callable[[int], torch.Tensor] | None = None
                 ) -> list[torch.Tensor | Exception]:
    """Sample every step of a causal stage for all ``lanes`` at once (same steps, prefix
    length and ``options``); per lane, its tokens (b, streams, steps) as ``sample_causal``
    returns them, or the exception its ``on_step`` raised (it left the batch then)."""
    steps = lanes[0].frame_inputs.shape[1]
    if any(lane.frame_inputs.shape[1] != steps for lane in lanes):
        raise ValueError("the lanes of a batch must have the same number of steps")
    halves = 2 if options.guidance != 1.0 else 1  # no guidance: unconditional rows not run
    prefix = _rows_of(lanes, [lane.prefix for lane in lanes], halves)
    frame_inputs = _rows_of(lanes, [lane.frame_inputs for lane in lanes], halves)
    window = model.cfg.max_len - prefix.shape[1]
    streams = model.cfg.streams
    results: list[torch.Tensor | Exception] = [
        torch.full((lane.rows, streams, steps), model.pad, dtype=torch.long) for lane in lanes]
    live = list(range(len(lanes)))  # lanes still in the batch, in row order
    previous = torch.full((sum(lane.rows for lane in lanes), streams), model.pad,
                          dtype=torch.long)
    inputs: list[torch.Tensor] = []  # the embedding fed at each step (for window rebuilds)
    cache: KVCache | None = None
    for t in range(steps):
        x = frame_inputs[:, t : t + 1] + model.embed_streams(previous.repeat(halves, 1)[..., None])
        inputs.append(x)
        if cache is not None and cache[0][0].shape[2] >= model.cfg.max_len:
            # Slide: keep the newer half of the window and rebuild the cache from it.
            kept = torch.cat(inputs[-(window // 2):], dim=1)
            _, cache = model.step(prefix, kept[:, :-1], None)
            logits, cache = model.step(None, x, cache)
        else:
            logits, cache = model.step(prefix if cache is None else None, x, cache)
        step_logits = (logits[:, -1] if halves == 1
                       else guided(logits[:, -1], _scales(lanes, live, options.guidance)))
        drawn_rows, left, start = [], [], 0
        for index in live:
            lane, tokens = lanes[index], results[index]
            assert isinstance(tokens, torch.Tensor)
            lane_logits = step_logits[start : start + lane.rows]
            if lane.prior is not None:
                lane_logits = lane_logits + lane.prior
            drawn = _draw(lane_logits, model.cfg.stream_channels, options, lane.generator)
            if lane.forced is not None and t < lane.forced.shape[-1]:
                drawn = torch.where(lane.forced[..., t] >= 0, lane.forced[..., t], drawn)
            if valid is not None:
                drawn = drawn.masked_fill(~valid(t)[None], model.pad)
            tokens[:, :, t] = drawn
            drawn_rows.append(drawn)
            start += lane.rows
            if lane.on_step is not None:
                try:
                    lane.on_step(t, tokens)
                except Exception as error:  # this job ends here; the others go on
                    results[index] = error
                    left.append(index)
        previous = torch.cat(drawn_rows)
        if left:
            keep = _kept_rows(lanes, live, left, halves)
            live = [index for index in live if index not in left]
            if not live:
                break
            previous = previous[keep[: len(keep) // halves]]
            prefix, frame_inputs = prefix[keep], frame_inputs[keep]
            inputs = [step[keep] for step in inputs]
            cache = [(k[keep], v[keep]) for k, v in cache]
    return results


def _rows_of(lanes: list[Lane], tensors: list[torch.Tensor], halves: int) -> torch.Tensor:
    """Every lane's conditional rows, then (with guidance) every lane's unconditional rows:
    the layout ``guided`` splits in two."""
    parts = [tensor[: lane.rows] for lane, tensor in zip(lanes, tensors, strict=True)]
    if halves == 2:
        parts += [tensor[lane.rows :] for lane, tensor in zip(lanes, tensors, strict=True)]
    return torch.cat(parts)


def _kept_rows(lanes: list[Lane], live: list[int], left: list[int], halves: int
               ) -> torch.Tensor:
    """Indices of the batch rows (both halves) of the lanes in ``live`` but not ``left``."""
    keep: list[int] = []
    start = 0
    for index in live:
        rows = lanes[index].rows
        if index not in left:
            keep.extend(range(start, start + rows))
        start += rows
    total = start
    return torch.tensor(keep + ([r + total for r in keep] if halves == 2 else []),
                        dtype=torch.long)


def _scales(lanes: list[Lane], live: list[int], guidance: float) -> torch.Tensor | float:
    """The guidance scale of every conditional row of the ``live`` lanes, in row order (a
    float when no lane sets its rows' own)."""
    if all(lanes[index].guidance is None for index in live):
        return guidance
    return torch.cat([torch.full((lanes[index].rows,), guidance)
                      if lanes[index].guidance is None else lanes[index].guidance
                      for index in live])
