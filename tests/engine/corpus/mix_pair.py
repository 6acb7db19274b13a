"""Two one-shard corpora of the same examples, one with each mix stored and one without, for
the tests that check every reader derives the mix the build would have stored."""

from __future__ import annotations

from pathlib import Path

from engine.corpus.composer import sample_spec
from engine.corpus.example import make_example
from engine.corpus.produced import Instruments, make_example_v2
from engine.corpus.recipes import sample_spec_v2
from engine.corpus.shards import ShardWriter, write_manifest


def short_seeds(recipe: str, count: int, limit: float = 6.0) -> list[int]:
    """The first example seeds of `recipe` whose songs last at most `limit` seconds."""
    seconds = ((lambda s: sample_spec_v2(s)[0].seconds) if recipe == "v2"
               else (lambda s: sample_spec(s).seconds))
    return [s for s in range(400) if seconds(s) <= limit][:count]


def write_pair(parent: Path, recipe: str, bits: int, count: int = 2) -> tuple[Path, Path]:
    """(stored, derived): corpora under `parent` of the same `count` short examples, each in
    one train shard, the first with mix.flac and the second without."""
    found = Instruments.locate(parent / "no-instruments")  # v2 on FluidR3 alone
    roots = []
    for store_mix in (True, False):
        root = parent / f"{recipe}-{bits}-{'stored' if store_mix else 'derived'}"
        root.mkdir()
        writer = ShardWriter(root / "train-000000.tar")
        for index, seed in enumerate(short_seeds(recipe, count)):
            if recipe == "v2":
                meta, files = make_example_v2(seed, found, bits, store_mix)
            else:
                meta, files = make_example(seed, bits=bits, store_mix=store_mix)
            meta.update(index=index, split="train")
            writer.add(f"{index:08d}", meta, files)
        writer.close()
        write_manifest(root)
        roots.append(root)
    return roots[0], roots[1]
