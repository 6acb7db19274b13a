"""Shared helpers for the codec tests: a tiny synthetic corpus and tiny model configs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.corpus.shards import ShardWriter, write_manifest

SR = 32000

TINY_MODEL = {"latent_dim": 16, "enc_dim": 32, "enc_blocks": 1, "dec_dim": 32, "dec_blocks": 1,
              "dec_up_dim": 16, "dec_up_blocks": 1, "n_q": 4, "bins": 32}


def _flac(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio.T, SR, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def song(rng: np.random.Generator, seconds: float) -> dict[str, np.ndarray]:
    """Two 'stems' (a chord of partials, decaying noise hits) and their mix, stereo."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.uniform(110, 440)
    tone = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    hits = rng.standard_normal(t.size) * np.exp(-((t * 4) % 1) * 12)
    stems = {"keys": 0.15 * tone, "drums": 0.2 * hits}
    out = {name: np.stack([x * rng.uniform(0.6, 1), x * rng.uniform(0.6, 1)]).astype(np.float32)
           for name, x in stems.items()}
    out["mix"] = out["keys"] + out["drums"]
    return out


def write_corpus(root: Path, examples: int = 6, seconds: float = 3.0) -> Path:
    """A corpus in the real shard format: train shards plus one validation shard."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", examples), ("validation", 2)):
        writer = ShardWriter(root / f"{split}-000000.tar")
        for i in range(count):
            tracks = song(rng, seconds)
            writer.add(f"{split[0]}{i:05d}", {"split": split, "seconds": seconds},
                       {f"{name}.flac": _flac(a) for name, a in tracks.items()})
        writer.close()
    write_manifest(root)
    return root


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few seconds of synthetic multi-stem audio in corpus shard format."""
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def tiny_config(tmp: Path, corpus: Path, out: str = "run", steps: int = 6, extra: str = ""
                ) -> Path:
    """A codec training TOML for a tiny model on the tiny corpus (plus `extra` TOML)."""
    model = "\n".join(f"{k} = {v}" for k, v in TINY_MODEL.items())
    text = f"""
[train]
out_dir = "{tmp / out}"
seed = 3
steps = {steps}
batch_size = 2
lr = 3e-3
warmup = 2
threads = 1
log_every = 1
ckpt_every = 100

[model]
{model}

[data]
roots = ["{corpus}"]
segment_seconds = 0.4
init_clips = 8
{extra}"""
    path = tmp / f"{out}.toml"
    path.write_text(text)
    return path
