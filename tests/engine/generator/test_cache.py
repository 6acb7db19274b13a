"""The token cache holds every stem the corpus rendered, aligned with its mix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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
