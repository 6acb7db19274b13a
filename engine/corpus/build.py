"""Build a synthetic corpus: plan shards from a seed, render them in worker processes, resume."""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.corpus.composer import sample_spec
from engine.corpus.fluid import DEFAULT_SOUNDFONT
from engine.corpus.shards import ShardWriter, shard_done, split_of, write_manifest

DEFAULT_FRACTIONS = (0.9, 0.05, 0.05)
RECIPES = ("v1", "v2", "mma")
#: Whether a recipe stores each example's mix by default. v2 leaves it out (27 % of its
#: bytes): the mix is exactly the sum of the stems, and readers derive it (mixdown.py).
STORES_MIX = {"v1": True, "v2": False, "mma": False}


class MissingInstruments(FileNotFoundError):
    """The v2 recipe's banks or kits are not all in the instruments folder."""


@dataclass(frozen=True)
class ShardJob:
    """One shard to write: its file name, split and the example indices it holds."""

    name: str
    split: str
    indices: tuple[int, ...]


@dataclass(frozen=True)
class BuildReport:
    """What a build did: examples and audio seconds written now, shards skipped as done."""

    examples: int
    seconds: float
    wall: float
    skipped_shards: int

    @property
    def realtime(self) -> float:
        """Audio seconds made per wall-clock second."""
        return self.seconds / self.wall if self.wall else 0.0


def example_seed(seed: int, index: int) -> int:
    """The seed of example `index` of a corpus built with `seed`."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _seconds(seed: int, recipe: str) -> float:
    if recipe in ("v2", "mma"):  # the mma recipe draws v2's specs
        from engine.corpus.recipes import sample_spec_v2

        return sample_spec_v2(seed)[0].seconds
    return sample_spec(seed).seconds


def count_for_hours(hours: float, seed: int, recipe: str = "v1") -> int:
    """How many examples make `hours` of audio (specs are cheap: nothing is rendered)."""
    total, index = 0.0, 0
    while total < hours * 3600.0:
        total += _seconds(example_seed(seed, index), recipe)
        index += 1
    return index


def check_instruments(instruments: Path | None) -> list[str]:
    """What the v2 recipe would miss under `instruments`: one line per package."""
    from engine.corpus.produced import Instruments

    return Instruments.locate(instruments).missing()


def plan(examples: int, seed: int, shard_size: int,
         fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> list[ShardJob]:
    """Deal examples 0..N-1 to splits by seed, then cut each split into shards."""
    by_split: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for index in range(examples):
        by_split[split_of(seed, index, fractions)].append(index)
    jobs = []
    for split, indices in by_split.items():
        for start in range(0, len(indices), shard_size):
            number = start // shard_size
            jobs.append(ShardJob(f"{split}-{number:06d}.tar", split,
                                 tuple(indices[start:start + shard_size])))
    return jobs


def build_shard(job: ShardJob, root: str, seed: int, soundfont: str, bits: int = 16,
                recipe: str = "v1", instruments: str | None = None,
                store_mix: bool = True, midi: str | None = None) -> tuple[int, float]:
    """Render and publish one shard; returns (examples, audio seconds)."""
    from engine.corpus.example import make_example
    from engine.corpus.produced import Instruments, make_example_v2

    found = Instruments.locate(Path(instruments) if instruments else None)
    if recipe == "mma":
        from engine.corpus.mma_recipe import Sources, make_example_mma

        sources = Sources.locate(Path(midi or "."))
    writer = ShardWriter(Path(root) / job.name)
    seconds = 0.0
    for index in job.indices:
        if recipe == "mma":
            meta, files = make_example_mma(example_seed(seed, index), found, sources, bits,
                                           store_mix)
        elif recipe == "v2":
            meta, files = make_example_v2(example_seed(seed, index), found, bits, store_mix)
        else:
            meta, files = make_example(example_seed(seed, index), soundfont, bits=bits,
                                       store_mix=store_mix)
        meta.update(index=index, split=job.split)
        writer.add(f"{index:08d}", meta, files)
        seconds += meta["seconds"]
    writer.close()
    return len(job.indices), seconds


def build(root: Path, examples: int | None = None, hours: float | None = None, seed: int = 0,
          soundfont: str = DEFAULT_SOUNDFONT, workers: int = 2, shard_size: int = 16,
          fractions: tuple[float, float, float] = DEFAULT_FRACTIONS, bits: int = 16,
          progress: bool = True, recipe: str = "v1", instruments: Path | None = None,
          allow_missing: bool = False, store_mix: bool | None = None,
          midi: Path | None = None) -> BuildReport:
    """Build (or finish building) a corpus of `examples` examples or `hours` of audio.

    The plan depends only on (count, seed, shard_size, fractions, recipe), so running the
    same command again skips finished shards and redoes only missing ones. Recipe 'v1'
    renders on `soundfont` alone; 'v2' (produced.py) rotates the banks and kits found under
    `instruments` and raises MissingInstruments when some are absent, unless `allow_missing`.
    `store_mix` writes each example's mix.flac; without it readers derive the mix from the
    stems. By default a resumed folder keeps its choice and a new one takes the recipe's
    (STORES_MIX); asking for the other choice in a built folder raises ValueError.
    Recipe 'mma' (mma_recipe.py) is v2 with MMA's grooves as accompaniment and real phrases
    as the lead: it runs MMA and reads the MIDI files fetched under `midi`.
    """
    if (examples is None) == (hours is None):
        raise ValueError("give either examples or hours")
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r} (known: {', '.join(RECIPES)})")
    if not Path(soundfont).is_file():
        raise FileNotFoundError(f"soundfont not found: {soundfont}")
    if recipe == "mma":
        from engine.corpus.mma_recipe import MmaRecipeError, Sources

        if midi is None:
            raise ValueError("the mma recipe needs the folder of its MIDI sources (--midi DIR)")
        try:
            Sources.locate(Path(midi))
        except MmaRecipeError as err:
            raise FileNotFoundError(str(err)) from err
    if recipe != "v1" and not allow_missing and (missing := check_instruments(instruments)):
        raise MissingInstruments(
            f"the {recipe} recipe misses (under {instruments}):\n  " + "\n  ".join(missing)
            + f"\nfetch them with: stemloom data fetch PACKAGE ... --dest {instruments}"
            "\n(or build with what is there: --allow-missing)")
    root = Path(root)
    before = root / "manifest.json"
    old = json.loads(before.read_text()).get("build") if before.is_file() else None
    if old and old.get("recipe", "v1") != recipe:  # a resume must not mix two recipes' shards
        raise ValueError(f"{root} was built with recipe {old.get('recipe', 'v1')}, "
                         f"not {recipe}: give another folder")
    built_with = old.get("store_mix", True) if old else STORES_MIX[recipe]
    if store_mix is None:
        store_mix = built_with
    elif old and store_mix != built_with:  # one folder, one choice: its shards must agree
        raise ValueError(f"{root} was built with the mix {'stored' if built_with else 'left out'}"
                         f": resume it without {'--no-store-mix' if built_with else '--store-mix'}"
                         ", or give another folder")
    root.mkdir(parents=True, exist_ok=True)
    count = examples if examples is not None else count_for_hours(float(hours), seed, recipe)
    jobs = plan(count, seed, shard_size, fractions)
    todo = [j for j in jobs if not shard_done(root / j.name)]
    where = str(instruments) if instruments is not None else None
    midi_where = str(midi) if midi is not None else None
    start = time.perf_counter()
    done, seconds = 0, 0.0
    bar = _progress(sum(len(j.indices) for j in todo), progress)
    if workers <= 1:
        for job in todo:
            n, s = build_shard(job, str(root), seed, soundfont, bits, recipe, where, store_mix,
                               midi_where)
            done, seconds = done + n, seconds + s
            _advance(bar, n, seconds, start)
    else:
        context = multiprocessing.get_context("spawn")  # a clean libfluidsynth per worker
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(build_shard, j, str(root), seed, soundfont, bits, recipe,
                                   where, store_mix, midi_where) for j in todo]
            for future in as_completed(futures):
                n, s = future.result()
                done, seconds = done + n, seconds + s
                _advance(bar, n, seconds, start)
    if bar is not None:
        bar.close()
    info = {"seed": seed, "examples": count, "shard_size": shard_size, "bits": bits,
            "soundfont": Path(soundfont).name}
    if recipe != "v1":  # a v1 manifest stays as it always was
        info["recipe"] = recipe
    if not store_mix:
        info["store_mix"] = False
    write_manifest(root, {"build": info})
    return BuildReport(done, seconds, time.perf_counter() - start, len(jobs) - len(todo))


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="ex", desc="corpus", smoothing=0.1)


def _advance(bar, n: int, seconds: float, start: float) -> None:
    if bar is not None:
        bar.update(n)
        bar.set_postfix(hours=f"{seconds / 3600:.2f}",
                        x_rt=f"{seconds / max(time.perf_counter() - start, 1e-9):.0f}")
