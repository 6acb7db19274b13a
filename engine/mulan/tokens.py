"""Conditioning tokens: residual k-means over MuLan audio embeddings (MusicLM's RVQ step).

Fitted on audio embeddings only; text embeddings land in the same space, so at inference a
prompt is quantised with the very codebooks the audio was.
"""

from __future__ import annotations

import numpy as np


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 25
           ) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding; (k, dim) centroids. Empty clusters are
    re-seeded on the points farthest from their centroid."""
    centroids = np.empty((k, points.shape[1]), dtype=np.float64)
    centroids[0] = points[rng.integers(len(points))]
    distance = ((points - centroids[0]) ** 2).sum(1)
    for i in range(1, k):
        probabilities = distance / distance.sum() if distance.sum() > 0 else None
        centroids[i] = points[rng.choice(len(points), p=probabilities)]
        distance = np.minimum(distance, ((points - centroids[i]) ** 2).sum(1))
    for _ in range(iterations):
        assignment = nearest(points, centroids)
        for j in range(k):
            members = points[assignment == j]
            if len(members):
                centroids[j] = members.mean(0)
            else:
                error = ((points - centroids[assignment]) ** 2).sum(1)
                centroids[j] = points[int(error.argmax())]
    return centroids.astype(np.float32)


def nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of each point."""
    distances = (
        (points**2).sum(1, keepdims=True) - 2 * points @ centroids.T + (centroids**2).sum(1)
    )
    return distances.argmin(1)


class ResidualQuantizer:
    """``levels`` codebooks of ``size`` codes, each quantising what the ones before left."""

    def __init__(self, codebooks: np.ndarray) -> None:
        self.codebooks = np.asarray(codebooks, dtype=np.float32)  # (levels, size, dim)

    @classmethod
    def fit(cls, embeddings: np.ndarray, levels: int, size: int, seed: int = 0
            ) -> ResidualQuantizer:
        """Fit the codebooks level by level on ``embeddings`` (N, dim)."""
        if len(embeddings) < size:
            raise ValueError(f"{len(embeddings)} embeddings cannot fit {size} codes per level")
        rng = np.random.default_rng(seed)
        residual = np.asarray(embeddings, dtype=np.float64)
        books = []
        for _ in range(levels):
            book = kmeans(residual, size, rng)
            residual = residual - book[nearest(residual, book)]
            books.append(book)
        return cls(np.stack(books))

    def encode(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, dim) -> (N, levels) int codes."""
        residual = np.atleast_2d(embeddings).astype(np.float32)
        codes = []
        for book in self.codebooks:
            index = nearest(residual, book)
            codes.append(index)
            residual = residual - book[index]
        return np.stack(codes, axis=1)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(N, levels) codes -> (N, dim) reconstructed embeddings."""
        codes = np.atleast_2d(codes)
        return sum(book[codes[:, level]] for level, book in enumerate(self.codebooks))
