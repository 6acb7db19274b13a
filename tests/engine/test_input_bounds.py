"""Inputs are bounded before they are decoded: a small FLAC holding half an hour of silence
is refused from its header, as a reference or clip to continue and as a hum."""

from __future__ import annotations

import contextlib
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge import limits
from engine.codec.io import CodecFileError, read_audio
from engine.melody.load import MelodyError, load_melody

RATE = 8000


def _long_silent_flac(path: Path, seconds: float) -> Path:
    """A FLAC of silence, written in blocks: a few hundred KB on disk for any length."""
    block = np.zeros((RATE * 60, 1), dtype=np.int16)
    with sf.SoundFile(path, "w", RATE, 1, subtype="PCM_16", format="FLAC") as out:
        for _ in range(int(seconds // 60)):
            out.write(block)
    return path


@pytest.fixture(scope="module")
def half_hour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _long_silent_flac(tmp_path_factory.mktemp("input") / "silence.flac", 1800)
    assert path.stat().st_size < 2_000_000
    return path


def _peak_bytes(call: Callable[[], object]) -> int:
    """The most memory Python and numpy held while ``call`` ran (refusals expected)."""
    tracemalloc.start()
    with contextlib.suppress(CodecFileError, MelodyError):
        call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_a_long_reference_is_refused_from_its_header(half_hour: Path) -> None:
    with pytest.raises(CodecFileError, match="1800 s long"):
        read_audio(half_hour, 32000, max_seconds=limits.MAX_INPUT_SECONDS)
    # Refused without decoding: 30 min at 32 kHz stereo float would be 460 MB.
    peak = _peak_bytes(lambda: read_audio(half_hour, 32000,
                                          max_seconds=limits.MAX_INPUT_SECONDS))
    assert peak < 5_000_000
    short = _long_silent_flac(half_hour.with_name("minute.flac"), 60)
    assert read_audio(short, 32000, max_seconds=limits.MAX_INPUT_SECONDS).shape == (2, 60 * 32000)


def test_a_long_hum_is_refused_from_its_header(half_hour: Path) -> None:
    with pytest.raises(MelodyError, match="1800 s long"):
        load_melody(half_hour)
    # The file's bytes are read (a few hundred KB); its 1800 s of samples are not decoded.
    assert _peak_bytes(lambda: load_melody(half_hour)) < 5_000_000
