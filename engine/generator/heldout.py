"""``stemloom eval heldout``: the stages measured on cached validation windows, where the
truth is known.

* each stage's cross-entropy (nats per token) and the uniform baseline (teacher-forced);
* what the coarse stage draws from its conditions: its loss again with the semantic plan
  taken away, and with the key taken away (the worth of each, in nats);
* the fine stage's worth (when the generator has one): log-mel distance to the codec's own
  full decode when the fine levels are (a) left out (a coarse-only decode), (b) predicted by
  the fine stage given the true coarse levels. Lower is better; (b) must beat (a) for the
  fine stage to earn its time;
* rendering a real plan: the acoustic stages sample a window's mix from its *true* semantic
  tokens, key and caption; how often the render has the key (and tempo) of the codec's own
  decode of the same window. This is the ceiling of the whole generator's key accuracy once
  the semantic plan is right.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from engine.codec.metrics import log_mel_distance
from engine.generator import conditions as cond
from engine.generator.data import SEMANTIC_RATE, BatchMaker, DataConfig, load_examples
from engine.generator.evaluate import (
    SAMPLE_RATE,
    EvalContext,
    estimate_audio_key,
    estimate_tempo,
    key_verdict,
    onset_envelope,
    tempo_verdict,
)
from engine.generator.pipeline import HierarchicalGenerator, load_default
from engine.generator.sampling import SamplingOptions
from engine.request import GenerationRequest

DEFAULT_CACHE = Path("runs/generator/cache/validation")
RENDER_SECONDS = 8.0


@torch.inference_mode()
def heldout(generator: HierarchicalGenerator, folder: Path, batches: int = 8,
            batch_size: int = 8, seed: int = 0, crop_seconds: float = 4.0) -> dict:
    """Held-out losses per stage, the coarse stage's condition worth and the fine-stage
    comparison on ``folder`` (a cache split), on windows of ``crop_seconds``."""
    examples = load_examples(folder)
    # Every condition given, the melody aside (most windows have none).
    config = DataConfig(cond_dropout=0.0, key_dropout=0.0, melody_dropout=1.0,
                        audio_mulan_prob=0.0, crop_seconds=crop_seconds)
    result: dict = {"examples": len(examples)}
    for stage, model in (("semantic", generator.semantic), ("coarse", generator.coarse)):
        maker = BatchMaker(examples, config, stage)
        rows = [maker.rows(np.random.default_rng([seed, i]), batch_size) for i in range(batches)]
        result[f"{stage}_loss"] = _mean_loss(model, rows)
        result[f"{stage}_uniform_loss"] = round(math.log(model.cfg.vocab), 4)
        if stage == "coarse":
            result["coarse_loss_without_plan"] = _mean_loss(
                model, [{**b, "semantic": torch.full_like(b["semantic"], -1)} for b in rows])
            result["coarse_loss_without_key"] = _mean_loss(
                model, [{**b, "key": torch.full_like(b["key"], cond.NULL_KEY)} for b in rows])
    if generator.fine is not None:
        result.update(_fine_worth(generator, BatchMaker(examples, config, "fine"), batches,
                                  batch_size, seed))
    return result


def _mean_loss(model: torch.nn.Module, batches: list[dict[str, torch.Tensor]]) -> float:
    return round(float(np.mean([float(model(b)) for b in batches])), 4)


def _fine_worth(generator: HierarchicalGenerator, maker: BatchMaker, batches: int,
                batch_size: int, seed: int) -> dict:
    """The fine stage's held-out loss and log-mel distances (see the module docstring)."""
    fine = generator.fine
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
    return {"fine_loss": round(float(np.mean(fine_losses)), 4),
            "fine_uniform_loss": round(math.log(fine.cfg.vocab), 4),
            "log_mel_to_full_decode_coarse_only": round(float(np.mean(coarse_only)), 4),
            "log_mel_to_full_decode_with_fine": round(float(np.mean(predicted)), 4)}


@torch.inference_mode()
def render_agreement(generator: HierarchicalGenerator, folder: Path, count: int = 20,
                     seed: int = 0, options: SamplingOptions | None = None) -> dict:
    """Share of ``count`` held-out windows whose mix, sampled by the acoustic stages from the
    window's own semantic tokens, key and first caption, has the key of the codec's decode of
    the window's real codes; shares of renders and of those decodes at the window's tempo
    (the evaluation's tolerance: the decodes are the ceiling)."""
    options = options or SamplingOptions()
    context = EvalContext(folder)  # nothing listens; no plan is kept
    keys, tempi, decoded_tempi = [], [], []
    for index, example in enumerate(load_examples(folder)[:count]):
        item = example.item
        frames = min(len(example.semantic), int(RENDER_SECONDS * SEMANTIC_RATE))
        request = GenerationRequest(prompt=item["captions"][0], bpm=float(item["bpm"]),
                                    bars=int(item["bars"]), time_signature=item["meter"],
                                    stems=("mix",), key=cond.key_name(item["key_index"]) or "")
        plan = generator.plan(request, frames / SEMANTIC_RATE)
        semantic = torch.from_numpy(example.semantic[:frames].astype(np.int64))[None]
        coarse = generator.sample_coarse(request, plan, semantic, options,
                                         torch.Generator().manual_seed(seed + index), context)
        rendered = generator.codec.decode(generator.sample_fine(request, plan, coarse))
        real = torch.from_numpy(example.codes["mix"][..., : 2 * frames].astype(np.int64))
        original = generator.codec.decode(real[None])
        rate = generator.codec.cfg.sample_rate
        bpm = float(item["bpm"])
        (tempo, key), (decoded_tempo, decoded_key) = (_tempo_and_key(audio[0].numpy(), rate, bpm)
                                                      for audio in (rendered, original))
        keys.append(key_verdict(key, decoded_key) == "right")
        tempi.append(tempo_verdict(tempo, bpm) == "right")
        decoded_tempi.append(tempo_verdict(decoded_tempo, bpm) == "right")

    def share(hits: list[bool]) -> float | None:
        return round(float(np.mean(hits)), 3) if hits else None

    return {"render_windows": len(keys), "render_key_agreement": share(keys),
            "render_tempo_accuracy": share(tempi), "decode_tempo_accuracy": share(decoded_tempi)}


def _tempo_and_key(audio: np.ndarray, rate: int, bpm: float) -> tuple[float, str]:
    """The evaluation's tempo (tracker led by ``bpm``) and key of (2, samples) audio at
    ``rate``; the blind tempo is not needed here."""
    import soxr

    mono = soxr.resample(audio.T, rate, SAMPLE_RATE).T.mean(0)
    return estimate_tempo(onset_envelope(mono), bpm), estimate_audio_key(mono)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: measure the default (or a given) generator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="generator folder (default: shipped)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="a token-cache split of held-out windows (default: %(default)s)")
    parser.add_argument("--renders", type=int, default=20,
                        help="windows to render from their real plans (0: none)")
    parser.add_argument("--guidance", type=float, default=SamplingOptions.guidance)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    if not (args.cache / "items.json").is_file():
        parser.error(f"{args.cache} is not a token-cache split (docs/training.md builds one)")
    generator = load_default(args.model)
    result = heldout(generator, args.cache)
    if args.renders:
        result.update(render_agreement(generator, args.cache, args.renders,
                                       options=SamplingOptions(guidance=args.guidance)))
    print(json.dumps(result, indent=None if args.json else 1))
    return 0
