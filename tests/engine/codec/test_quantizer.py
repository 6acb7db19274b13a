"""RVQ behaviour: k-means initialisation, dead-code restarts, residual levels."""

from __future__ import annotations

import itertools

import torch

from engine.codec.quantizer import ResidualVectorQuantizer, VectorQuantizer


def _clustered(n: int = 2000, dim: int = 8, centers: int = 16) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    means = 3 * torch.randn(centers, dim, generator=gen)
    return means[torch.randint(centers, (n,), generator=gen)] + 0.1 * torch.randn(
        n, dim, generator=gen)


def _error(vq: VectorQuantizer, x: torch.Tensor) -> float:
    return float((x - vq.codebook[vq.nearest(x)]).square().mean())


def test_kmeans_init_beats_random_init() -> None:
    torch.manual_seed(0)
    x = _clustered()
    random_vq, kmeans_vq = VectorQuantizer(16, 8), VectorQuantizer(16, 8)
    kmeans_vq.init_kmeans(x)
    assert bool(kmeans_vq.initialized)
    assert _error(kmeans_vq, x) < 0.1 * _error(random_vq, x)


def test_dead_codes_are_restarted_on_data() -> None:
    torch.manual_seed(0)
    x = _clustered()
    vq = VectorQuantizer(32, 8, dead_after=3)
    vq.init_kmeans(x[:64])
    far = 100.0 + torch.zeros(4, 8)
    vq.codebook[:4] = far  # four codes nothing will ever pick (and their EMA agrees)
    vq.ema_sum[:4] = far
    restarted = 0
    for _ in range(3):
        restarted += vq.update(x, vq.nearest(x))
    assert restarted >= 4
    assert (vq.codebook[:4] - far).abs().max() > 50  # moved back among the data
    assert (vq.idle[:4] == 0).all()


def test_each_level_reduces_the_error() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(4, 16, 8)
    z = torch.randn(20, 8, 50)
    rvq.init_kmeans(z)
    errors = []
    for n_q in range(1, 5):
        zq = rvq.decode(rvq.encode(z, n_q))
        errors.append(float((z - zq).square().mean()))
    assert all(a > b for a, b in itertools.pairwise(errors))


def test_training_forward_is_straight_through_and_updates_codebooks() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(2, 16, 8).train()
    z = torch.randn(4, 8, 30, requires_grad=True)
    rvq.init_kmeans(z.detach())
    before = rvq.levels[0].codebook.clone()
    out, commit, codes = rvq(z, n_q=1)
    out.sum().backward()
    assert torch.allclose(z.grad, torch.ones_like(z))  # gradients pass the quantizer
    assert codes.shape == (4, 1, 30) and commit > 0
    assert not torch.equal(before, rvq.levels[0].codebook)  # level 1 took an EMA step
