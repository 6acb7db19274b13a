"""Coupled channel sampling: each channel still follows its own distribution, and channels
whose distributions agree draw the same token (a stereo codec's left and right stay
together where the model expects the same sound in both)."""

from __future__ import annotations

import numpy as np
import torch

from engine.generator.sampling import SamplingOptions, _draw
from engine.models.transformer import sample_with_shared_noise


def test_each_member_keeps_its_own_distribution() -> None:
    logits = torch.tensor([[[2.0, 1.0, 0.0, -1.0], [0.0, 0.5, 2.5, 0.0]]])  # 1 group, 2 members
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_with_shared_noise(logits, generator)[0] for _ in range(20000)])
    for member in range(2):
        counts = np.bincount(draws[:, member].numpy(), minlength=4) / len(draws)
        expected = torch.softmax(logits[0, member], -1).numpy()
        assert np.abs(counts - expected).max() < 0.015, (member, counts, expected)


def test_members_that_agree_draw_the_same_token_and_others_mostly_do_not() -> None:
    generator = torch.Generator().manual_seed(1)
    same = torch.randn(500, 1, 64).repeat(1, 2, 1)  # 500 groups, both members alike
    drawn = sample_with_shared_noise(same, generator, top_k=32)
    assert torch.equal(drawn[:, 0], drawn[:, 1])
    # Distributions far apart rarely share a token; close ones mostly do (the closer, the
    # likelier: shared Gumbel noise matches with probability >= (1 - TV) / (1 + TV)).
    unrelated = torch.randn(500, 2, 64) * 3
    drawn = sample_with_shared_noise(unrelated, generator)
    assert (drawn[:, 0] == drawn[:, 1]).float().mean() < 0.2
    close = torch.randn(500, 1, 64) * 3 + torch.randn(500, 2, 64) * 0.3
    drawn = sample_with_shared_noise(close, generator)
    assert (drawn[:, 0] == drawn[:, 1]).float().mean() > 0.7


def test_filters_and_greedy_apply_as_in_plain_sampling() -> None:
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(300, 2, 50)
    drawn = sample_with_shared_noise(logits, generator, top_k=3)
    top = logits.topk(3, dim=-1).indices
    assert (top == drawn[..., None]).any(-1).all()
    greedy = sample_with_shared_noise(logits, generator, temperature=0)
    assert torch.equal(greedy, logits.argmax(-1))


def test_a_coarse_step_couples_left_and_right_of_each_level_only() -> None:
    """Streams are level-major (stream = level * channels + channel): with left and right
    logits equal per level, coupled draws agree per level; plain draws mostly do not."""
    rows, levels, channels, vocab = 200, 2, 2, 32
    per_level = torch.randn(rows, levels, 1, vocab)
    logits = per_level.repeat(1, 1, channels, 1).reshape(rows, levels * channels, vocab)
    generator = torch.Generator().manual_seed(3)
    coupled = _draw(logits, channels, SamplingOptions(coupled_channels=True), generator)
    left, right = coupled.view(rows, levels, channels).unbind(-1)
    assert torch.equal(left, right)
    plain = _draw(logits, channels, SamplingOptions(coupled_channels=False), generator)
    left, right = plain.view(rows, levels, channels).unbind(-1)
    assert (left == right).float().mean() < 0.9
