"""Held-out measurements of the stages on cached validation windows (teacher-forced):

* each stage's cross-entropy (nats per token) and the uniform baseline;
* the fine stage's worth (when the generator has one): log-mel distance to the codec's own
  full decode when the fine levels are (a) left out (a coarse-only decode), (b) predicted by
  the fine stage given the true coarse levels. Lower is better; (b) must beat (a) for the
  fine stage to earn its time.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from engine.codec.evaluate import log_mel_distance
from engine.generator.data import BatchMaker, DataConfig, load_examples
from engine.generator.pipeline import HierarchicalGenerator


@torch.inference_mode()
def heldout(generator: HierarchicalGenerator, folder: Path, batches: int = 8,
            batch_size: int = 8, seed: int = 0) -> dict:
    """Held-out losses per stage and the fine-stage comparison on ``folder`` (a cache split)."""
    examples = load_examples(folder)
    config = DataConfig(cond_dropout=0.0, key_dropout=0.0, melody_dropout=1.0,
                        audio_mulan_prob=0.0, crop_seconds=4.0)
    result: dict = {"examples": len(examples)}
    for stage, model in (("semantic", generator.semantic), ("coarse", generator.coarse)):
        maker = BatchMaker(examples, config, stage)
        losses = [float(model(maker.rows(np.random.default_rng([seed, i]), batch_size)))
                  for i in range(batches)]
        result[f"{stage}_loss"] = round(float(np.mean(losses)), 4)
        result[f"{stage}_uniform_loss"] = round(math.log(model.cfg.vocab), 4)
    fine = generator.fine
    if fine is None:
        return result
    maker = BatchMaker(examples, config, "fine")
    levels = range(fine.cfg.coarse_levels, fine.cfg.codec_levels)
    fine_losses, coarse_only, predicted = [], [], []
    for i in range(batches):
        batch = maker.rows(np.random.default_rng([seed, 100 + i]), batch_size)
        fine_losses.append(np.mean([float(fine(batch, level)) for level in levels]))
        codes = batch["tokens"]
        valid = (codes >= 0).all(dim=(1, 2, 3))
        codes = codes[valid]
        if not len(codes):
            continue
        x = fine.frame_inputs({k: v[valid] for k, v in batch.items()}, codes.shape[-1])
        prefix = fine.conditions.prefix({k: v[valid] for k, v in batch.items()})
        guess = codes.clone()
        guess[:, :, fine.cfg.coarse_levels:] = fine.pad
        for level in levels:
            logits = fine.fine_logits(prefix, x, guess, level)
            guess[:, :, level] = logits.argmax(-1).permute(0, 2, 1)
        codec = generator.codec
        rate = codec.cfg.sample_rate
        truth = codec.decode(codes).numpy()
        coarse = codec.decode(codes[:, :, : fine.cfg.coarse_levels]).numpy()
        filled = codec.decode(guess).numpy()
        for t, c, f in zip(truth, coarse, filled, strict=True):
            coarse_only.append(log_mel_distance(t, c, rate))
            predicted.append(log_mel_distance(t, f, rate))
    result["fine_loss"] = round(float(np.mean(fine_losses)), 4)
    result["fine_uniform_loss"] = round(math.log(fine.cfg.vocab), 4)
    result["log_mel_to_full_decode_coarse_only"] = round(float(np.mean(coarse_only)), 4)
    result["log_mel_to_full_decode_with_fine"] = round(float(np.mean(predicted)), 4)
    return result
