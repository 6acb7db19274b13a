"""Fine-tuning only the codec's decoder: noisy codes, several corpora, frozen codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.codec.cli import export_checkpoint
from engine.codec.code_noise import nearest_codes, swap_codes
from engine.codec.config import CodecConfig
from engine.codec.data import ClipSampler
from engine.codec.io import load_state
from engine.codec.mixture import MixedSampler
from engine.codec.model import Codec
from engine.training.log import read_log
from engine.training.loop import run
from tests.engine.codec.conftest import TINY_MODEL, tiny_config, write_corpus

ROOT = Path(__file__).resolve().parents[3]


def _quantizer() -> Codec:
    torch.manual_seed(0)
    return Codec(CodecConfig(**TINY_MODEL))


def test_nearest_codes_are_the_closest_others() -> None:
    codec = _quantizer()
    tables = nearest_codes(codec.quantizer, 3)
    book = codec.quantizer.levels[1].codebook
    distances = torch.cdist(book, book)
    for code in (0, 7, 31):
        near = tables[1][code]
        assert code not in near.tolist()
        others = distances[code].clone()
        others[code] = float("inf")
        assert torch.equal(near.sort().values, others.topk(3, largest=False).indices.sort().values)


def test_swap_rate_and_what_is_swapped_in() -> None:
    codec = _quantizer()
    tables = nearest_codes(codec.quantizer, 4)
    codes = torch.randint(32, (3, 4, 4000), generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    out = swap_codes(codes, tables, torch.tensor([0.0, 0.3, 1.0]), gen)
    assert torch.equal(out[0], codes[0])
    assert (out[2] != codes[2]).all()  # a neighbour is never the code itself
    changed = (out[1] != codes[1]).float().mean().item()
    assert 0.28 < changed < 0.32
    for level in range(4):
        was, now = codes[1, level], out[1, level]
        moved = was != now
        assert (tables[level][was[moved]] == now[moved, None]).any(1).all()
    again = swap_codes(codes, tables, torch.tensor([0.0, 0.3, 1.0]),
                       torch.Generator().manual_seed(2))
    assert torch.equal(again, out)


def test_mixed_sampler_draws_each_corpus_by_its_weight(tmp_path: Path) -> None:
    a = write_corpus(tmp_path / "a", examples=3, seconds=3.0)
    b = write_corpus(tmp_path / "b", examples=3, seconds=2.0)
    sa, sb = (ClipSampler(root, "train", 6400, seed=5) for root in (a, b))
    only_b = MixedSampler([sa, sb], [0.0, 1.0], seed=5).batch(4, 6)
    assert np.array_equal(only_b, MixedSampler([sb], [1.0], seed=5).batch(4, 6))
    assert not np.array_equal(only_b, MixedSampler([sa], [1.0], seed=5).batch(4, 6))
    both = MixedSampler([sa, sb], [1.0, 1.0], seed=5)
    assert np.array_equal(both.batch(9, 4), both.batch(9, 4))  # a pure function of the step


def test_decoder_only_keeps_the_codes(tmp_path: Path, tiny_corpus: Path) -> None:
    run("codec", tiny_config(tmp_path, tiny_corpus, "base", steps=2))
    assert export_checkpoint(tmp_path / "base" / "last.pt", tmp_path / "export") == 0
    before, _ = load_state(tmp_path / "export")
    extra = ("\n[finetune]\ndecoder_only = true\ncode_noise = 1.0\nfocus_levels = 2\n"
             "focus_prob = 1.0\n")
    config = tiny_config(tmp_path, tiny_corpus, "tune", steps=6, extra=extra)
    run("codec", config, init_from=tmp_path / "export")
    after = torch.load(tmp_path / "tune" / "last.pt", weights_only=False)["model"]
    frozen = [k for k in before if k.startswith(("encoder.", "quantizer."))
              and k.endswith(("weight", "bias", "codebook"))]
    assert frozen and all(torch.equal(after[k], before[k].to(after[k].dtype)) for k in frozen)
    assert not torch.equal(after["decoder.head.weight"], before["decoder.head.weight"])
    levels = {r["n_q"] for r in read_log(tmp_path / "tune" / "log.jsonl") if "n_q" in r}
    assert 2 in levels and levels <= {1, 2, 3, 4}


def test_decoder_only_is_refused_without_exported_weights(tmp_path: Path,
                                                          tiny_corpus: Path) -> None:
    extra = "\n[finetune]\ndecoder_only = true\n"
    with pytest.raises(ValueError, match="--init"):
        run("codec", tiny_config(tmp_path, tiny_corpus, "cold", steps=2, extra=extra))


def test_decoder_only_gradients_are_averaged_under_ddp(tmp_path: Path,
                                                       tiny_corpus: Path) -> None:
    extra = "\n[finetune]\ndecoder_only = true\ncode_noise = 1.0\n"
    config = tiny_config(tmp_path, tiny_corpus, "ddp", steps=1, extra=extra)
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", str(Path(__file__).with_name(
            "ddp_decoder_grads.py")), str(config)], cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "synced"
