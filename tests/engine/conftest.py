"""Fixtures shared by the engine's tests: FluidSynth and one small corpus built for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.corpus.fluid import DEFAULT_SOUNDFONT


@pytest.fixture(scope="session")
def fluidsynth() -> str:
    """The default soundfont's path; skips where FluidSynth or the soundfont is missing
    (apt-get install libfluidsynth3 fluid-soundfont-gm)."""
    from engine.corpus.fluid import FluidSynthMissing, library

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"needs {DEFAULT_SOUNDFONT} (apt-get install fluid-soundfont-gm)")
    try:
        library()
    except FluidSynthMissing as err:
        pytest.skip(str(err))
    return DEFAULT_SOUNDFONT


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory, fluidsynth: str) -> Path:
    """A 10-example corpus in shards of 3, built in-process."""
    from engine.corpus.build import build

    root = tmp_path_factory.mktemp("corpus")
    build(root, examples=10, seed=3, workers=1, shard_size=3, fractions=(0.6, 0.2, 0.2),
          progress=False)
    return root
