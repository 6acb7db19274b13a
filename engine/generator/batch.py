"""Several jobs' rows through one causal stage at once, each job drawing from its own torch
random generator, so that a seed gives the same tokens batched or alone.

A ``Lane`` is one job's part of a batch: its prefix and per-step inputs ([conditional;
unconditional] rows, as ``sample_causal`` takes them), its generator, its forced tokens and
prior, and its step callback. ``sample_lanes`` runs the forward pass over every lane's rows
together and draws each lane's tokens from that lane's slice of the logits with that lane's
generator, in the order and shapes a lone run draws them; only the forward pass differs
(another batch size sums in another order: about 1e-7 in the logits), so a lane's tokens
equal its lone run's unless a draw lands that close to a sampling boundary.

A lane whose callback raises (a cancelled job, a preview that could not be written) leaves
the batch at that step: its rows are taken out of the inputs and the key/value cache, and the
other lanes go on. What it raised is its result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from engine.generation import QUIET, GeneratedAudio, JobContext
from engine.generator.model import StageModel
from engine.generator.sampling import SamplingOptions, _draw, guided
from engine.models.transformer import KVCache
from engine.request import GenerationRequest


@dataclass(frozen=True)
class BatchJob:
    """One request of a batch: what ``Generator.generate`` takes, per job."""

    request: GenerationRequest
    seed: int
    seconds: float
    context: JobContext = QUIET
    # Told at once when the job leaves the batch early (a bad input, a cancel), with the
    # error that is also its result: its client need not wait for the batch to end.
    on_leave: Callable[[Exception], None] | None = None


@runtime_checkable
class BatchGenerator(Protocol):
    """A generator that runs several requests as one batch."""

    name: str

    def batch_key(self, request: GenerationRequest, seconds: float) -> object:
        """Requests with equal keys may share a batch."""

    def generate_batch(self, jobs: Sequence[BatchJob]) -> list[GeneratedAudio | Exception]:
        """Per job, what ``generate`` gives it alone, or what it raises."""


@dataclass
class Lane:
    """One job's rows of a batched causal stage (shapes as ``sample_causal``'s arguments)."""

    prefix: torch.Tensor  # (2b, P, d): b conditional rows, then their unconditional rows
    frame_inputs: torch.Tensor  # (2b, steps, d)
    generator: torch.Generator
    forced: torch.Tensor | None = None  # (b, streams, n)
    prior: torch.Tensor | None = None  # (vocab,)
    on_step: Callable[[int, torch.Tensor], None] | None = None

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
        step_logits = (logits[:, -1] if halves == 1 else guided(logits[:, -1], options.guidance))
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
