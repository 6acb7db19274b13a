"""The one training entry point: ``run(stage, config)`` as one process or under torchrun.

A stage is a ``Task`` class named in ``STAGES``. The loop owns everything a stage should not
re-implement: seeding, the optimizer and learning-rate schedule, gradient clipping, DDP,
resumable checkpoints (``OUT/last.pt``, resumed automatically), the JSONL log and a wall-time
budget. ``stop_at`` ends a leg early without changing the schedule, so a long run can be
trained in several legs that together equal one uninterrupted run.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.training import checkpoint, distributed
from engine.training.config import TrainConfig, load_config, to_dict
from engine.training.log import JsonlLog

STAGES = {
    "codec": "engine.codec.train:CodecTask",
    "mulan": "engine.mulan.train:MulanTask",
    "semantic": "engine.generator.train:SemanticTask",
    "coarse": "engine.generator.train:CoarseTask",
    "fine": "engine.generator.train:FineTask",
}


class Task(Protocol):
    """What a stage provides. Its config dataclass has a ``train: TrainConfig`` field."""

    config_class: type

    def __init__(self, config: Any, env: distributed.Dist) -> None:
        """Keep the config and this process's place in the run."""

    def build_model(self) -> nn.Module:
        """A freshly initialised model."""

    def prepare(self, model: nn.Module) -> None:
        """Data-dependent initialisation before step 0 (e.g. k-means codebooks)."""

    def init_from(self, model: nn.Module, path: Path) -> int:
        """Load exported weights to continue from; returns the step they were taken at."""

    def batches(self, start_step: int) -> Generator[Any, None, None]:
        """This process's batches for steps start_step, start_step + 1, ... (closed by the
        loop when it ends, so a prefetching thread stops before the process exits)."""

    def loss(self, model: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict]:
        """The loss of one step and scalar metrics to log."""


def task_class(stage: str) -> type:
    """The Task class of a stage name."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    module, _, name = STAGES[stage].partition(":")
    return getattr(importlib.import_module(module), name)


def progress(cfg: TrainConfig, step: int, minutes: float = 0.0) -> float:
    """How far through the run: steps after warm-up, or spent wall-time budget if that is
    further along (only with budget_minutes > 0; then runs are no longer bit-reproducible)."""
    done = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    if cfg.budget_minutes > 0:
        done = max(done, minutes / cfg.budget_minutes)
    return min(1.0, max(0.0, done))


def learning_rate(cfg: TrainConfig, step: int, minutes: float = 0.0, since: int = 0) -> float:
    """Cosine decay from lr to min_lr as ``progress`` goes 0 -> 1, scaled by a linear warm-up
    over the first cfg.warmup steps after `since` (the step a fresh optimizer started at)."""
    done = progress(cfg, step, minutes)
    lr = cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * done))
    return lr * min(1.0, (step - since + 1) / max(1, cfg.warmup))


def _agree(flag: bool) -> bool:
    """True when any process says so (every process must stop at the same step)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([int(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def run(stage: str, config_path: Path | str, overrides: dict[str, Any] | None = None,
        stop_at: int | None = None, init_from: Path | None = None) -> dict[str, Any]:
    """Train `stage` with the TOML config; returns the last logged record.

    Resumes from OUT/last.pt when it exists; otherwise starts from `init_from` (exported
    weights) or from scratch. Stops at cfg.train.steps, at `stop_at`, or when the wall-time
    budget is spent, always leaving a checkpoint of the last step.
    """
    env = distributed.setup()
    batches: Generator[Any, None, None] | None = None
    try:
        cls = task_class(stage)
        config = load_config(cls.config_class, config_path, overrides)
        cfg: TrainConfig = config.train
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        task = cls(config, env)
        model = task.build_model().to(env.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas,
                                      weight_decay=cfg.weight_decay)
        out = Path(cfg.out_dir)
        last = out / "last.pt"
        step, minutes_before, since = 0, 0.0, 0
        if last.exists():
            state = checkpoint.load(last, model, optimizer)
            step, minutes_before = state["step"], state["extra"].get("minutes", 0.0)
            since = state["extra"].get("since", 0)
        else:
            if init_from is not None:
                step = since = task.init_from(model, Path(init_from))
            else:
                task.prepare(model)
            # Ranks must differ in their own randomness but agree on what DDP broadcasts.
            torch.manual_seed(cfg.seed * 1000 + env.rank + step)
        wrapped = (DistributedDataParallel(model, broadcast_buffers=False)
                   if env.world_size > 1 else model)
        log = JsonlLog(out / "log.jsonl") if env.is_main else None
        end = min(cfg.steps, stop_at) if stop_at is not None else cfg.steps
        record: dict[str, Any] = {"step": step}
        if log and step == 0:
            log.write(event="start", world_size=env.world_size, config=to_dict(config))
        started = time.time()
        batches = task.batches(step)

        def minutes() -> float:  # training wall time over all legs
            return minutes_before + (time.time() - started) / 60

        while step < end:
            tick = time.time()
            lr = learning_rate(cfg, step, minutes(), since)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, metrics = task.loss(wrapped, next(batches), step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
            optimizer.step()
            step += 1
            out_of_time = ((cfg.max_minutes > 0 and time.time() - started > 60 * cfg.max_minutes)
                           or (cfg.budget_minutes > 0 and minutes() >= cfg.budget_minutes))
            stop = _agree(out_of_time) or step >= end
            if step % cfg.log_every == 0 or stop:
                metrics = distributed.mean_over_ranks(
                    {**metrics, "loss": loss.item(), "grad_norm": grad_norm}, env.device)
                record = {"step": step, "lr": lr, "sec_per_step": round(time.time() - tick, 3),
                          "minutes": round(minutes(), 2),
                          **{k: round(v, 5) for k, v in metrics.items()}}
                if log:
                    log.write(**record)
            if step % cfg.ckpt_every == 0 or stop:
                if env.is_main:
                    checkpoint.save(last, model, optimizer, step, to_dict(config),
                                    {"minutes": minutes(), "since": since})
                if env.world_size > 1:
                    dist.barrier()
            if stop:
                break
        if log:
            log.write(event="stop", step=step, minutes=round((time.time() - started) / 60, 2))
            log.close()
        return record
    finally:
        if batches is not None:
            batches.close()
        distributed.teardown()
