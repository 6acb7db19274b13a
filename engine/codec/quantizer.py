"""Residual vector quantization with EMA codebooks (SoundStream / EnCodec family).

Each level quantizes what the levels before it left over. Codebooks are not trained by
gradients but follow exponential moving averages of the vectors assigned to them; they start
from k-means on real latents (``init_kmeans``) and codes unused for ``dead_after`` updates are
restarted on random latents of the current batch. Under DDP the statistics are summed over
processes and restarts come from rank 0, so every process keeps identical codebooks.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator | None = None
           ) -> torch.Tensor:
    """k-means of (N, D) vectors into (k, D) centroids, then Lloyd iterations; an emptied
    cluster keeps its centroid. Seeding is k-means++ (new seeds drawn with probability
    proportional to squared distance from the seeds so far), k / 32 seeds per round so that
    1024 codes need 32 passes over the data rather than 1024."""
    n = x.shape[0]
    per_round = max(1, k // 32)
    centroids = x[torch.randint(n, (1,), generator=generator)]
    nearest = (x - centroids[0]).square().sum(1)
    while centroids.shape[0] < k:
        take = min(per_round, k - centroids.shape[0])
        weights = nearest + 1e-12
        new = x[torch.multinomial(weights, take, replacement=n < take, generator=generator)]
        centroids = torch.cat([centroids, new])
        nearest = torch.minimum(nearest, torch.cdist(x, new).square().min(1).values)
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


class VectorQuantizer(nn.Module):
    """One codebook of `bins` vectors of size `dim`, updated by EMA."""

    def __init__(self, bins: int, dim: int, decay: float = 0.99, dead_after: int = 200) -> None:
        """A codebook; `dead_after` updates without use make a code eligible for restart."""
        super().__init__()
        self.bins, self.dim, self.decay, self.dead_after = bins, dim, decay, dead_after
        self.register_buffer("codebook", torch.randn(bins, dim))
        self.register_buffer("ema_count", torch.ones(bins))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("idle", torch.zeros(bins, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(False))

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each (N, D) vector."""
        dist2 = (x.square().sum(1, keepdim=True) - 2 * x @ self.codebook.T
                 + self.codebook.square().sum(1)[None])
        return dist2.argmin(dim=1)

    @torch.no_grad()
    def init_kmeans(self, x: torch.Tensor, iters: int = 20) -> None:
        """Set the codebook to k-means centroids of (N, D) vectors (rank 0's, under DDP)."""
        centroids = kmeans(x.float(), self.bins, iters)
        if _distributed():
            dist.broadcast(centroids, 0)
        self.codebook.copy_(centroids)
        self.ema_sum.copy_(centroids)
        self.ema_count.fill_(1.0)
        self.idle.zero_()
        self.initialized.fill_(True)

    def _smoothed_counts(self) -> torch.Tensor:
        # Laplace smoothing keeps rarely used codes from collapsing to zero.
        total = self.ema_count.sum()
        return (self.ema_count + 1e-5) / (total + self.bins * 1e-5) * total

    @torch.no_grad()
    def rebuild_ema(self) -> None:
        """Recompute the EMA sums and idle counters from codebook and counts (exported
        weights leave them out)."""
        self.ema_sum.copy_(self.codebook * self._smoothed_counts()[:, None])
        self.idle.zero_()

    @torch.no_grad()
    def update(self, x: torch.Tensor, codes: torch.Tensor) -> int:
        """EMA step from (N, D) vectors and their codes; restarts dead codes.
        Returns how many codes were restarted."""
        counts = torch.bincount(codes, minlength=self.bins).to(x.dtype)
        sums = torch.zeros_like(self.codebook).index_add_(0, codes, x)
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        self.codebook.copy_(self.ema_sum / self._smoothed_counts()[:, None])
        self.idle.add_(1).masked_fill_(counts > 0, 0)
        dead = self.idle >= self.dead_after
        n_dead = int(dead.sum())
        if n_dead:
            pick = torch.randint(x.shape[0], (n_dead,))
            fresh = x[pick] + 1e-3 * torch.randn(n_dead, self.dim)
            if _distributed():
                dist.broadcast(fresh, 0)
            self.codebook[dead] = fresh
            self.ema_sum[dead] = fresh
            self.ema_count[dead] = 1.0
            self.idle[dead] = 0
        return n_dead


class ResidualVectorQuantizer(nn.Module):
    """`n_q` codebooks applied to successive residuals, with quantizer dropout in training."""

    def __init__(self, n_q: int, bins: int, dim: int, decay: float = 0.99,
                 dead_after: int = 200) -> None:
        """`n_q` levels of `bins` codes of size `dim`."""
        super().__init__()
        self.n_q = n_q
        self.levels = nn.ModuleList(VectorQuantizer(bins, dim, decay, dead_after)
                                    for _ in range(n_q))
        self.restarts = 0  # dead codes restarted by the last training forward

    @staticmethod
    def _flat(z: torch.Tensor) -> torch.Tensor:
        return z.transpose(1, 2).reshape(-1, z.shape[1])

    @torch.no_grad()
    def init_kmeans(self, z: torch.Tensor, iters: int = 20) -> None:
        """k-means-initialise every level on the residuals of (N, D, F) latents."""
        residual = self._flat(z.float())
        for level in self.levels:
            level.init_kmeans(residual, iters)
            residual = residual - level.codebook[level.nearest(residual)]

    def forward(self, z: torch.Tensor, n_q: int | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize (N, D, F) latents with the first `n_q` levels (all when None).

        Returns the straight-through quantized latents, the commitment loss (mean squared
        distance of the encoder output to its quantization) and codes (N, n_q, F). In training
        mode the used codebooks take an EMA step.
        """
        n, d, frames = z.shape
        n_q = n_q or self.n_q
        x = self._flat(z)
        residual = x
        quantized = torch.zeros_like(x)
        codes = []
        self.restarts = 0
        for level in self.levels[:n_q]:
            idx = level.nearest(residual.detach())
            if self.training:
                self.restarts += level.update(residual.detach(), idx)
            q = level.codebook[idx]
            quantized = quantized + q
            residual = residual - q
            codes.append(idx)
        commit = F.mse_loss(x, quantized.detach())
        out = x + (quantized - x).detach()
        out = out.reshape(n, frames, d).transpose(1, 2)
        return out, commit, torch.stack(codes, 1).reshape(n, frames, n_q).transpose(1, 2)

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """(N, D, F) latents -> (N, n_q, F) int64 codes."""
        n, _, frames = z.shape
        residual = self._flat(z)
        codes = []
        for level in self.levels[:n_q or self.n_q]:
            idx = level.nearest(residual)
            residual = residual - level.codebook[idx]
            codes.append(idx)
        return torch.stack(codes, 1).reshape(n, frames, -1).transpose(1, 2)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, n_q, F) codes -> (N, D, F) latents (the sum of the first n_q levels)."""
        if codes.shape[1] > self.n_q:
            raise ValueError(f"{codes.shape[1]} levels given; the model has {self.n_q}")
        z = sum(self.levels[i].codebook[codes[:, i]] for i in range(codes.shape[1]))
        return z.transpose(1, 2)
