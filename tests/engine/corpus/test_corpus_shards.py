"""Shards, manifest, splits, resumable builds and the streaming reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from engine.corpus.build import build, plan
from engine.corpus.shards import iter_examples, read_index, read_manifest


def test_manifest_lists_every_shard_with_its_split(small_corpus: Path) -> None:
    manifest = read_manifest(small_corpus)
    assert sum(s["examples"] for s in manifest["shards"]) == 10
    rows = list(read_index(small_corpus))
    assert sorted(r["index"] for r in rows) == list(range(10))
    for shard in manifest["shards"]:
        assert (small_corpus / shard["name"]).is_file()
        assert {r["split"] for r in rows if r["shard"] == shard["name"]} == {shard["split"]}
    assert not list(small_corpus.glob("*.tmp"))


def test_plan_is_a_function_of_the_seed() -> None:
    assert plan(50, 1, 4) == plan(50, 1, 4)
    assert plan(50, 1, 4) != plan(50, 2, 4)
    splits = {j.split for j in plan(400, 1, 8)}
    assert splits == {"train", "validation", "test"}
    indices = [i for j in plan(400, 1, 8) for i in j.indices]
    assert sorted(indices) == list(range(400))


def test_reader_shuffles_deterministically_and_splits_by_rank(small_corpus: Path) -> None:
    def keys(**kw) -> list[str]:
        return [e["key"] for e in iter_examples(small_corpus, split=None, decode=False, **kw)]

    first = keys(seed=1, shuffle_buffer=4)
    assert first == keys(seed=1, shuffle_buffer=4)
    assert sorted(first) == sorted(keys(seed=1, epoch=1, shuffle_buffer=4))
    assert first != keys(seed=1, epoch=1, shuffle_buffer=4)
    ranks = [set(keys(seed=2, rank=r, world_size=2)) for r in range(2)]
    assert not ranks[0] & ranks[1] and len(ranks[0] | ranks[1]) == 10
    train = list(iter_examples(small_corpus, split="train", seed=0))
    assert train and all(e["json"]["split"] == "train" for e in train)
    example = train[0]
    stems = [example[f"{s['name']}.flac"] for s in example["json"]["stems"]]
    assert np.array_equal(np.sum(stems, axis=0, dtype=np.float64), example["mix.flac"])
    assert example["mix.flac"].shape == (2, example["json"]["frames"])


def test_rebuild_skips_done_shards_and_redoes_a_missing_one(small_corpus: Path,
                                                            tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(small_corpus, root)
    report = build(root, examples=10, seed=3, workers=1, shard_size=3,
                   fractions=(0.6, 0.2, 0.2), progress=False)
    assert report.examples == 0 and report.skipped_shards == len(read_manifest(root)["shards"])
    victim = sorted(root.glob("*.tar"))[0]
    original = victim.read_bytes()
    victim.unlink()
    report = build(root, examples=10, seed=3, workers=1, shard_size=3,
                   fractions=(0.6, 0.2, 0.2), progress=False)
    assert report.examples > 0
    assert victim.read_bytes() == original  # byte-identical: renders are deterministic
    assert json.loads((root / "manifest.json").read_text()) == read_manifest(small_corpus)
