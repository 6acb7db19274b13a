"""``stemloom eval realism``: how far sets of clips sit from held-out real music.

Every clip is cut to the same length and loudness-matched to one integrated loudness
(``bridge.loudness``) before it is embedded: log-mel embeddings move with level, and the
generator's stems are about 10 dB quieter than the music they learned from. Two embeddings:

* ``mulan`` — the shipped MuLan audio tower (``engine.mulan.api``), trained on our corpus;
* ``stats`` — a non-learned control: per log-mel band the mean, the spread and the mean
  frame-to-frame change (flux) over time, and spectral contrast (mean and spread per band).

Two distances, each against the reference set (held-out real music):

* Fréchet distance of Gaussians fitted to the embeddings. With 48 clips and 128-206
  dimensions a covariance is singular, so both sets are projected on the first
  ``components`` principal axes of the pooled pair (``components`` well under n) first;
* kernel distance: the unbiased MMD^2 with KID's cubic polynomial kernel, on all dimensions.

Features are standardised by the reference set's mean and spread per dimension first (the
spread floored at its median over dimensions: ``standardise``), so no dimension weighs by
its units. The spread is over ``resamples`` random subsets of 3/4 of
each set drawn without replacement (a resample with replacement biases the unbiased MMD up).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from bridge.loudness import integrated_lufs
from engine.codec.config import SAMPLE_RATE

TARGET_LUFS = -16.0  # the level the real-recordings corpus was normalised to
COMPONENTS = 16  # principal axes the Fréchet distance is fitted in (at most n // 3)
RESAMPLES = 50
SUBSET = 0.75  # share of each set one resample draws
Embedder = Callable[[np.ndarray], np.ndarray]  # float32 (2, samples) at 32 kHz -> (dim,)


def match_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float = TARGET_LUFS
                   ) -> np.ndarray:
    """(channels, samples) ``audio`` scaled to an integrated loudness of ``target_lufs``
    (not limited: embeddings read float audio, a peak over 1 is kept as it is)."""
    loudness = integrated_lufs(audio, sample_rate)
    if not math.isfinite(loudness):
        raise ValueError("the clip is silent or shorter than 400 ms: its loudness cannot be "
                         "matched")
    return (audio * 10 ** ((target_lufs - loudness) / 20)).astype(np.float32)


def frechet_from_moments(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray,
                         cov_b: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance of two Gaussians:
    |mean_a - mean_b|^2 + tr(cov_a + cov_b - 2 (cov_a^1/2 cov_b cov_a^1/2)^1/2)."""
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace = np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(np.clip(cross, 0, None)).sum()
    return float(np.sum((mean_a - mean_b) ** 2) + max(trace, 0.0))


def principal_axes(a: np.ndarray, b: np.ndarray, components: int = COMPONENTS) -> np.ndarray:
    """(dim, k) first principal axes of the pooled rows of ``a`` and ``b``, k at most
    ``components`` and at most a third of the smaller set (a covariance fitted in k
    dimensions from n samples is well conditioned only for k well under n)."""
    pooled = np.vstack([a, b])
    k = max(1, min(components, min(len(a), len(b)) // 3, pooled.shape[1]))
    _, _, rows = np.linalg.svd(pooled - pooled.mean(0), full_matrices=False)
    return np.asarray(rows[:k].T)


def frechet_distance(a: np.ndarray, b: np.ndarray, axes: np.ndarray | None = None) -> float:
    """Fréchet distance of Gaussians fitted to rows of ``a`` and ``b`` projected on ``axes``
    (default: ``principal_axes`` of the pair)."""
    axes = principal_axes(a, b) if axes is None else axes
    pa, pb = a @ axes, b @ axes
    return frechet_from_moments(pa.mean(0), np.atleast_2d(np.cov(pa, rowvar=False)),
                                pb.mean(0), np.atleast_2d(np.cov(pb, rowvar=False)))


def kernel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 of rows of ``a`` and ``b`` with KID's kernel (x.y / dim + 1)^3: about 0
    for one distribution (it can come out slightly below), larger the further apart."""
    if min(len(a), len(b)) < 2:
        raise ValueError("the kernel distance needs at least 2 clips per set")
    dim = a.shape[1]

    def kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.asarray((x @ y.T / dim + 1.0) ** 3)

    kaa, kbb = kernel(a, a), kernel(b, b)
    m, n = len(a), len(b)
    within_a = (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
    within_b = (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
    return float(within_a + within_b - 2 * kernel(a, b).mean())


def standardise(reference: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Every set minus the reference's mean, over the reference's spread per dimension
    floored at the median spread of all dimensions. Why the floor: a dimension nearly
    constant over the reference (a log-mel band above a lossy encoder's cut-off, in a
    reference of 9 recordings) otherwise turns small differences into huge ones; without it
    the ``stats`` embedding failed calibration (noise at -30 dB came out nearer the reference
    than the clean clips)."""
    mean, spread = reference.mean(0), reference.std(0)
    spread = np.maximum(spread, max(float(np.median(spread)), 1e-12))
    return [(x - mean) / spread for x in (reference, *others)]


def distance(reference: np.ndarray, other: np.ndarray, resamples: int = RESAMPLES,
             seed: int = 0, components: int = COMPONENTS, subset: int | None = None) -> dict:
    """Fréchet and kernel distance of ``other``'s embeddings to ``reference``'s: on the whole
    sets, and mean and spread over ``resamples`` subsets of ``subset`` clips of each (default
    SUBSET of the smaller set; drawn without replacement). Rows of one table compare only at
    one ``subset`` and ``components``: both estimates grow as n shrinks."""
    ref, oth = standardise(reference, other)
    axes = principal_axes(ref, oth, components)
    size = subset or max(2, round(SUBSET * min(len(ref), len(oth))))
    rng = np.random.default_rng(seed)
    fds, kds = [], []
    for _ in range(resamples):
        ia = rng.choice(len(ref), size, replace=False)
        ib = rng.choice(len(oth), size, replace=False)
        fds.append(frechet_distance(ref[ia], oth[ib], axes))
        kds.append(kernel_distance(ref[ia], oth[ib]))
    return {"n": [len(ref), len(oth)], "components": axes.shape[1], "subset": size,
            "fd": round(frechet_distance(ref, oth, axes), 4),
            "fd_mean": round(float(np.mean(fds)), 4), "fd_sd": round(float(np.std(fds)), 4),
            "kd": round(kernel_distance(ref, oth), 5),
            "kd_mean": round(float(np.mean(kds)), 5), "kd_sd": round(float(np.std(kds)), 5),
            "resamples": resamples}


def stats_embedding(audio: np.ndarray) -> np.ndarray:
    """(206,) non-learned embedding of (2, samples) audio at 32 kHz: per log-mel band
    (MuLan's frames) mean, spread and mean |frame-to-frame change|, and librosa's spectral
    contrast (7 bands) mean and spread."""
    import librosa
    import torch

    from engine.mulan.features import LogMel

    mono = audio.mean(0).astype(np.float32)
    with torch.inference_mode():
        mel = LogMel()(torch.from_numpy(mono)[None])[0].numpy()
    contrast = librosa.feature.spectral_contrast(y=mono, sr=SAMPLE_RATE)
    flux = np.abs(np.diff(mel, axis=1)).mean(1)
    return np.concatenate([mel.mean(1), mel.std(1), flux, contrast.mean(1), contrast.std(1)])


def mulan_embedder(directory: object = None) -> Embedder:
    """The shipped MuLan audio tower (or the one in ``directory``) as an Embedder."""
    from engine.mulan.api import MulanConditioner

    mulan = MulanConditioner.load(directory) if directory else MulanConditioner.load()
    return lambda audio: mulan.embed_audio(audio, SAMPLE_RATE)


def embed_set(clips: Sequence[tuple[str, np.ndarray]], embedders: dict[str, Embedder],
              target_lufs: float = TARGET_LUFS) -> dict[str, np.ndarray]:
    """Per embedder, the (n, dim) embeddings of ``clips`` each loudness-matched first."""
    matched = [match_loudness(audio, SAMPLE_RATE, target_lufs) for _, audio in clips]
    return {name: np.stack([embed(audio) for audio in matched]).astype(np.float64)
            for name, embed in embedders.items()}


def distance_table(reference: dict[str, np.ndarray], sets: dict[str, dict[str, np.ndarray]],
                   resamples: int = RESAMPLES) -> dict[str, dict[str, dict]]:
    """Per embedder, per named set, its ``distance`` to the reference embeddings, every row
    on the same subset size and principal axes count (set by the smallest set)."""
    smallest = min(len(e) for e in (*reference.values(),
                                    *(x for embedded in sets.values() for x in embedded.values())))
    subset = max(2, round(SUBSET * smallest))
    components = max(1, min(COMPONENTS, smallest // 3))
    return {name: {label: distance(ref, embedded[name], resamples, components=components,
                                   subset=subset)
                   for label, embedded in sets.items()}
            for name, ref in reference.items()}


def calibration_checks(rows: dict[str, dict], real: Sequence[str], noise: Sequence[str],
                       degraded: Sequence[str]) -> dict[str, bool]:
    """The known answers, on the subset means of one embedder's ``rows``: every real
    set below every degraded one; the noise steps (weakest first) rising; and each
    degradation above the clean set it was made from (``noise``'s first entry)."""
    checks = {}
    for metric in ("fd", "kd"):
        value = {label: rows[label][f"{metric}_mean"] for label in rows}
        checks[f"{metric}_real_below_degraded"] = max(value[r] for r in real) < min(
            value[d] for d in degraded)
        checks[f"{metric}_noise_monotonic"] = all(value[x] < value[y]
                                                  for x, y in itertools.pairwise(noise))
        checks[f"{metric}_degradations_above_clean"] = all(value[d] > value[noise[0]]
                                                           for d in degraded)
    return checks
