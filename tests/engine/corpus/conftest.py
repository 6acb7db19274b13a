"""Helpers for the corpus tests: short example seeds and a tiny Hydrogen drum kit (the small
corpus is in tests/engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.corpus.composer import sample_spec


def _short_seeds(count: int, max_seconds: float = 8.0, need_lead: bool = False) -> list[int]:
    seeds = []
    seed = 0
    while len(seeds) < count:
        spec = sample_spec(seed)
        has_lead = any(s.family == "lead" for s in spec.stems)
        if spec.seconds <= max_seconds and (has_lead or not need_lead):
            seeds.append(seed)
        seed += 1
    return seeds


@pytest.fixture(scope="session")
def short_seeds():
    """short_seeds(count, max_seconds=8, need_lead=False): the first example seeds whose audio
    is short (specs are cheap to draw, nothing is rendered)."""
    return _short_seeds


KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Tiny</name>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name><volume>1</volume><gain>1</gain>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
   <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>1</id><name>Snare</name><volume>0.5</volume>
   <layer><filename>snare.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>2</id><name>Closed HH</name><volume>1</volume>
   <layer><filename>hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>3</id><filename>open.wav</filename><name>Open HH</name><volume>1</volume>
  </instrument>
 </instrumentList>
</drumkit_info>
"""


def _make_kit(parent: Path) -> Path:
    folder = parent / "Tiny"
    folder.mkdir()
    (folder / "drumkit.xml").write_text(KIT_XML)
    # 44.1 kHz mono files of constant levels, so what is played can be read back.
    for name, level, seconds in (("kick_soft", 0.1, 0.2), ("kick_hard", 0.8, 0.2),
                                 ("snare", 0.6, 0.2), ("hat", 0.05, 0.05), ("open", 0.3, 1.0)):
        sf.write(folder / f"{name}.wav", np.full(int(44100 * seconds), level, np.float32), 44100)
    return folder


@pytest.fixture(scope="session")
def tiny_kit():
    """tiny_kit(parent) makes a four-instrument Hydrogen kit in parent/Tiny and returns that
    folder; tiny_kit.xml is its drumkit.xml text."""
    _make_kit.xml = KIT_XML
    return _make_kit
