"""Where the token cache's window of each example lies: synthetic examples exactly as before
(a seeded bar counted from 0 s), labelled real windows from a labelled downbeat, unsure
labels left out and counted; a corpus that left its mixes out caches the same mix codes."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bridge.timing import quarters_per_bar
from engine.codec.config import HOP, SAMPLE_RATE
from engine.corpus.example import encode_flac
from engine.corpus.shards import ShardWriter, write_manifest
from engine.generator.cache import MIN_CONFIDENCE, Window, _left_out, _window, build_examples
from tests.engine.corpus.mix_pair import write_pair


def _window_before(meta: dict, window_seconds: float, key: str) -> tuple[float, float]:
    """The cache's window as it was drawn before real windows existed (commit 811d9e8)."""
    bar = float(quarters_per_bar(meta["meter"])) * 60.0 / meta["bpm"]
    total = float(meta["seconds"])
    bars_in_window = max(1, int(window_seconds // bar))
    last_start = max(0, int(meta["bars"]) - bars_in_window)
    start_bar = int(np.random.default_rng(zlib.crc32(key.encode())).integers(last_start + 1))
    start = start_bar * bar
    return start, min(window_seconds, total - start)


def test_synthetic_windows_are_as_they_were() -> None:
    rng = np.random.default_rng(0)
    for n in range(500):
        meter = str(rng.choice(["4/4", "3/4", "6/8", "2/4", "5/4", "7/8"]))
        bpm = int(rng.integers(50, 200))
        bars = int(rng.integers(1, 33))
        seconds = round(bars * float(quarters_per_bar(meter)) * 60.0 / bpm, 4)
        meta = {"meter": meter, "bpm": bpm, "bars": bars, "seconds": seconds}
        window_seconds = float(rng.choice([6.0, 12.0, 30.0]))
        start, length = _window_before(meta, window_seconds, f"{n:08d}")
        assert _window(meta, window_seconds, f"{n:08d}") == Window(start, length, start)


def _real_meta(downbeats: list[float], seconds: float = 15.0, bpm: float = 120.0,
               meter: str = "4/4", bpm_conf: float = 0.8, meter_conf: float = 0.8) -> dict:
    return {"source": "real", "bpm": bpm, "meter": meter, "key_name": "A minor",
            "seconds": seconds, "downbeats": downbeats, "captions": [], "stems": [],
            "label_confidence": {"bpm": bpm_conf, "meter": meter_conf, "key": 0.1}}


def test_real_windows_start_on_a_labelled_downbeat_on_whole_bars() -> None:
    downbeats = [0.31, 2.33, 4.29, 6.32, 8.3, 10.31, 12.3, 14.29]
    meta = _real_meta(downbeats)
    starts = set()
    for n in range(200):
        window = _window(meta, 8.0, f"r_{n}")
        assert window.start in downbeats[:4]  # the ones with 8 s after them
        assert window.seconds == 8.0
        index = downbeats.index(window.start)
        assert window.grid_start == pytest.approx(index * 2.0)  # 4/4 at 120: 2 s a bar
        starts.add(window.start)
    assert len(starts) == 4
    late = _window(_real_meta([9.0, 11.0, 13.0]), 12.0, "late")  # no 12 s after any
    assert late == Window(9.0, 6.0, 0.0)


def test_unsure_or_unlabelled_examples_are_left_out() -> None:
    assert _left_out(_real_meta([0.5]), MIN_CONFIDENCE) is None
    low = MIN_CONFIDENCE["meter"] - 0.01
    assert _left_out(_real_meta([0.5], meter_conf=low), MIN_CONFIDENCE) == \
        "low meter confidence"
    if MIN_CONFIDENCE["bpm"] > 0:
        low = MIN_CONFIDENCE["bpm"] - 0.01
        assert _left_out(_real_meta([0.5], bpm_conf=low), MIN_CONFIDENCE) == \
            "low tempo confidence"
    assert _left_out(_real_meta([0.5], bpm_conf=0.2), {"bpm": 0.3, "meter": 0.0}) == \
        "low tempo confidence"
    assert _left_out(_real_meta([]), MIN_CONFIDENCE) == "no downbeat"
    module = {"bpm": 125.0, "seconds": 15.0, "stems": [{"name": "bass"}]}  # no meter, no key
    assert _left_out(module, MIN_CONFIDENCE) == "unlabelled"
    synthetic = {"bpm": 100, "meter": "3/4", "key_name": "C major", "seconds": 9.0, "bars": 5}
    assert _left_out(synthetic, {"bpm": 0.99, "meter": 0.99}) is None


@pytest.fixture(scope="module")
def models():
    """The shipped codec and the MuLan conditioner, as the cache builder uses them."""
    from engine.codec.io import load_codec
    from engine.mulan.api import MulanConditioner

    torch.set_num_threads(1)
    return load_codec(), MulanConditioner.load()


def _codes(codec, audio: np.ndarray, frames: int) -> np.ndarray:
    with torch.inference_mode():
        codes = codec.encode(torch.from_numpy(np.ascontiguousarray(audio[None])))[0]
    return codes[..., :frames].numpy().astype(np.int16)


def test_the_cache_reads_real_windows_from_their_downbeat(tmp_path: Path, models) -> None:
    codec, mulan = models
    corpus = tmp_path / "real"
    corpus.mkdir()
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal((2, 8 * SAMPLE_RATE))).astype(np.float32)
    flac = encode_flac(audio)
    metas = {"r_good": _real_meta([0.4, 1.9, 3.4, 4.9], seconds=8.0, bpm=160.0),
             "r_unsure": _real_meta([0.4, 1.9], seconds=8.0, meter_conf=0.05),
             "r_module": {"bpm": 125.0, "seconds": 8.0, "stems": [], "captions": []}}
    writer = ShardWriter(corpus / "train-000000.tar")
    for key, meta in metas.items():
        writer.add(key, {**meta, "split": "train"}, {"mix.flac": flac})
    writer.close()
    write_manifest(corpus)
    folder = tmp_path / "cache"
    items = build_examples(corpus, "train", folder, codec, mulan, window_seconds=3.0)
    assert [i["key"] for i in items] == ["r_good"]
    report = json.loads((folder / "report.json").read_text())
    assert report["left_out"] == {"low meter confidence": 1, "unlabelled": 1}
    assert report["min_confidence"] == MIN_CONFIDENCE
    item = items[0]
    bar = 4 * 60.0 / 160.0
    assert item["audio_start"] in metas["r_good"]["downbeats"][:3]
    assert item["start"] / bar == pytest.approx(round(item["start"] / bar))
    assert item["captions"] == [] and item["caption_tokens"] == [] and item["genre"] == ""
    decoded, _ = sf.read(io.BytesIO(flac), dtype="float32", always_2d=True)
    first = round(item["audio_start"] * SAMPLE_RATE)
    window = decoded.T[:, first: first + item["frames"] * HOP]
    expected = _codes(codec, window, item["frames"])
    cached = folder / "examples" / "r_good.npz"
    with np.load(cached) as data:
        assert np.array_equal(data["codes_mix"], expected)
        arrays = dict(data)
    # A file cached for another window (an older build counted bars from 0 s) is not reused.
    stale = {**arrays, "codes_mix": np.zeros_like(expected),
             "window": arrays["window"] + [SAMPLE_RATE, 0]}
    np.savez(cached, **stale)
    build_examples(corpus, "train", folder, codec, mulan, window_seconds=3.0)
    with np.load(cached) as data:
        assert np.array_equal(data["codes_mix"], expected)


def test_a_corpus_without_mixes_caches_the_same_mix_codes(tmp_path: Path, models,
                                                          fluidsynth) -> None:
    codec, mulan = models
    stored, derived = write_pair(tmp_path, "v1", 16, count=1)
    caches = []
    for root in (stored, derived):
        folder = tmp_path / f"cache-{root.name}"
        items = build_examples(root, "train", folder, codec, mulan, window_seconds=3.0)
        arrays = {}
        for item in items:
            with np.load(folder / "examples" / f"{item['key']}.npz") as data:
                arrays[item["key"]] = dict(data)
        caches.append((items, arrays))
    assert caches[0][0] == caches[1][0] and len(caches[0][0]) == 1
    for key, arrays in caches[0][1].items():
        assert arrays.keys() == caches[1][1][key].keys()
        for name, array in arrays.items():
            assert np.array_equal(array, caches[1][1][key][name]), name
