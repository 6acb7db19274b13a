"""The token cache holds every stem the corpus rendered, aligned with its mix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.corpus.shards import iter_examples


def test_every_rendered_stem_is_cached_with_the_mix(small_corpus: Path,
                                                    generator_cache: Path) -> None:
    items = {i["key"]: i for i in json.loads(
        (generator_cache / "train" / "items.json").read_text())}
    semantic = np.load(generator_cache / "train" / "semantic.npz")
    for example in iter_examples(small_corpus, "train", shuffle_buffer=1, decode=False):
        rendered = {n.removesuffix(".flac") for n in example
                    if n.endswith(".flac") and n not in ("mix.flac", "hum.flac")}
        item = items[example["key"]]
        assert set(item["stems"]) == rendered
        with np.load(generator_cache / "train" / "examples" / f"{item['key']}.npz") as data:
            for stem in ["mix", *rendered]:
                assert data[f"codes_{stem}"].shape == (2, 8, item["frames"])
        assert len(semantic[item["key"]]) == item["frames"] // 2
        assert len(item["caption_tokens"]) == len(item["captions"])


def test_a_rebuild_encodes_only_the_stems_an_example_lacks(small_corpus: Path,
                                                           generator_cache: Path,
                                                           tmp_path: Path) -> None:
    from engine.generator import cache

    copy = tmp_path / "cache"
    shutil.copytree(generator_cache, copy)
    item = next(i for i in json.loads((copy / "train" / "items.json").read_text())
                if i["stems"])
    path = copy / "train" / "examples" / f"{item['key']}.npz"
    with np.load(path) as data:
        full = dict(data)
    stem = item["stems"][0]
    np.savez(path, **{k: v for k, v in full.items() if k != f"codes_{stem}"})
    cache.build(small_corpus, copy, ("train",), k=16, seed=0, window_seconds=6.0)
    with np.load(path) as data:
        assert set(data.files) == set(full)
        assert np.array_equal(data[f"codes_{stem}"], full[f"codes_{stem}"])
        assert np.array_equal(data["features"], full["features"])


def test_transposed_rows_move_key_and_melody_together(generator_cache: Path) -> None:
    from engine.generator.data import BatchMaker, DataConfig, load_examples
    from engine.generator.semantic import SemanticTokenizer

    examples = [e for e in load_examples(generator_cache / "train") if e.item["melody"]]
    config = DataConfig(cache=str(generator_cache), crop_seconds=2.0, cond_dropout=0.0,
                        key_dropout=0.0, melody_dropout=0.0, transpose=True)
    tokenizer = SemanticTokenizer.load(generator_cache / "tokenizer.npz")
    shifts = set()
    for example in examples:
        maker = BatchMaker([example], config, "semantic", tokenizer)
        batch = maker.rows(np.random.default_rng(len(shifts)), 4)
        pitch_classes = {p % 12 for _, _, p in example.item["melody"]}
        for key, melody in zip(batch["key"].tolist(), batch["melody"], strict=True):
            shift = (key // 2 - example.item["key_index"] // 2) % 12
            shifts.add(shift)
            sounding = {int(t) - 1 for t in melody if 0 < int(t) < 13}
            assert sounding <= {(p + shift) % 12 for p in pitch_classes}
    assert len(shifts) > 1
    with pytest.raises(ValueError, match="transposition"):
        BatchMaker(examples, config, "coarse", tokenizer)


def test_rows_dropped_for_guidance_lose_the_plan_only_when_asked(generator_cache: Path) -> None:
    from engine.generator.conditions import NULL_MULAN
    from engine.generator.data import BatchMaker, DataConfig, load_examples

    examples = load_examples(generator_cache / "train")
    config = DataConfig(cache=str(generator_cache), crop_seconds=2.0, cond_dropout=0.5)
    batch = BatchMaker(examples, config, "coarse", drop_plan=True).rows(
        np.random.default_rng(0), 16)
    dropped = (batch["mulan"] == NULL_MULAN).all(dim=1)
    assert 0 < int(dropped.sum()) < 16
    assert (batch["semantic"][dropped] == -1).all()
    assert (batch["semantic"][~dropped] >= 0).any(dim=1).all()
    kept = BatchMaker(examples, config, "coarse").rows(np.random.default_rng(0), 16)
    assert (kept["semantic"] >= 0).any(dim=1).all()


def test_plan_dropout_takes_the_plan_from_rows_that_keep_their_conditions(
        generator_cache: Path) -> None:
    from engine.generator.conditions import NULL_MULAN
    from engine.generator.data import BatchMaker, DataConfig, load_examples

    examples = load_examples(generator_cache / "train")
    config = DataConfig(cache=str(generator_cache), crop_seconds=2.0, cond_dropout=0.0,
                        plan_dropout=0.5)
    batch = BatchMaker(examples, config, "coarse").rows(np.random.default_rng(0), 32)
    planless = (batch["semantic"] == -1).all(dim=1)
    assert 4 < int(planless.sum()) < 28
    assert (batch["mulan"][planless] != NULL_MULAN).all()  # MuLan stays: not a guidance row
    assert (batch["tokens"][planless] >= 0).any()  # and the row still learns its codes


def test_balanced_modes_draw_major_and_minor_windows_equally_often(
        generator_cache: Path) -> None:
    from dataclasses import replace

    from engine.generator.data import BatchMaker, DataConfig, load_examples

    example = load_examples(generator_cache / "train")[0]
    # One major window beside three minor ones: a 1:3 corpus.
    examples = [replace(example, item={**example.item, "key_index": 2 * tonic + (tonic > 0)})
                for tonic in range(4)]
    shares = {}
    for balance in (False, True):
        config = DataConfig(cache=str(generator_cache), crop_seconds=1.0, cond_dropout=0.0,
                            key_dropout=0.0, balance_modes=balance)
        keys = BatchMaker(examples, config, "coarse").rows(np.random.default_rng(0), 400)["key"]
        shares[balance] = float((keys % 2 == 0).float().mean())
    assert 0.18 < shares[False] < 0.32
    assert 0.42 < shares[True] < 0.58


def test_rows_without_captions_take_the_audio_mulan_tokens(generator_cache: Path) -> None:
    """Real recordings carry no captions: their rows are conditioned on their own audio."""
    from engine.generator.data import BatchMaker, DataConfig, load_examples

    examples = load_examples(generator_cache / "train")[:1]
    examples[0].item["caption_tokens"] = []
    config = DataConfig(cache=str(generator_cache), crop_seconds=2.0, cond_dropout=0.0,
                        audio_mulan_prob=0.0)
    batch = BatchMaker(examples, config, "coarse").rows(np.random.default_rng(0), 4)
    expected = torch.as_tensor(np.asarray(examples[0].mulan_audio, dtype=np.int64))
    assert all(torch.equal(row, expected) for row in batch["mulan"])
