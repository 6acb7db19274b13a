"""Semantic tokens: k-means over 25 Hz frames of harmony, rhythm and timbre features.

MusicLM clusters w2v-BERT activations; no such self-supervised music encoder ships inside a
wheel, and training one here would cost more than the whole generator. What the semantic stage
must plan is the music's long-range content — which chord sounds, where the onsets fall, what
the texture is — so each frame is described by exactly that: a 12-bin chroma (pitch class,
which MuLan's mel tower cannot resolve), onset strength (rhythm) and a mel cepstrum (timbre).
The k-means codebook over these standardised frames is fitted once on the training corpus and
shipped with the generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bridge.atomic import atomic_write
from engine.codec.config import SAMPLE_RATE, SEMANTIC_RATE
from engine.codec.spectral import hann, stft
from engine.mulan.tokens import kmeans, nearest

FRAME_RATE = SEMANTIC_RATE
HOP = SAMPLE_RATE // FRAME_RATE
N_FFT = 4096
N_MELS = 40
N_CEPSTRUM = 13
CHROMA_WEIGHT = 1.5  # harmony matters most to the plan; scales chroma after standardising
FEATURE_DIM = 12 + 2 + N_CEPSTRUM


def _chroma_matrix(n_fft: int, fmin: float = 55.0, fmax: float = 4200.0) -> np.ndarray:
    """(12, bins) map from STFT bins to pitch classes (C = 0), Gaussian in cents."""
    freqs = np.arange(n_fft // 2 + 1) * SAMPLE_RATE / n_fft
    matrix = np.zeros((12, len(freqs)), dtype=np.float32)
    valid = (freqs >= fmin) & (freqs <= fmax)
    midi = 69 + 12 * np.log2(np.maximum(freqs[valid], 1e-6) / 440.0)
    for pitch_class in range(12):
        distance = (midi - pitch_class + 6) % 12 - 6  # semitones to the nearest such pitch
        matrix[pitch_class, valid] = np.exp(-0.5 * (distance / 0.35) ** 2)
    return matrix


def _mel_matrix(n_fft: int) -> np.ndarray:
    """(N_MELS, bins) triangular mel filters, 30 Hz to 14 kHz."""
    from engine.codec.spectral import mel_filterbank

    return mel_filterbank(SAMPLE_RATE, n_fft, N_MELS, fmin=30.0, fmax=14000.0).numpy()


def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) orthonormal DCT-II rows."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    matrix = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


class FrameFeatures:
    """Mono 32 kHz audio -> (frames, FEATURE_DIM) raw features at 25 Hz."""

    def __init__(self) -> None:
        self._window = hann(N_FFT)
        self._chroma = torch.from_numpy(_chroma_matrix(N_FFT))
        self._mel = torch.from_numpy(_mel_matrix(N_FFT))
        self._dct = torch.from_numpy(_dct_matrix(N_MELS, N_CEPSTRUM))

    @torch.inference_mode()
    def __call__(self, mono: np.ndarray) -> np.ndarray:
        """Features of one signal; frame i covers samples around i * HOP."""
        frames = int(np.ceil(len(mono) / HOP))
        padded = np.zeros(frames * HOP, dtype=np.float32)
        padded[: len(mono)] = mono
        power = stft(torch.from_numpy(padded)[None], N_FFT, HOP, self._window).abs().square()[0]
        chroma = self._chroma @ power
        chroma = chroma / (chroma.sum(0, keepdim=True) + 1e-6)
        log_mel = torch.log(self._mel @ power + 1e-5)
        flux = torch.relu(log_mel[:, 1:] - log_mel[:, :-1]).mean(0)
        flux = torch.cat([flux.new_zeros(1), flux])
        loudness = torch.log(power.sum(0) + 1e-5)
        cepstrum = self._dct @ log_mel
        features = torch.cat([chroma, flux[None], loudness[None], cepstrum], 0)
        return features.T.numpy().astype(np.float32)


class SemanticTokenizer:
    """Standardise frame features and assign each to its nearest of ``k`` centroids."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, centroids: np.ndarray) -> None:
        self.mean, self.std, self.centroids = mean, std, centroids
        self._features = FrameFeatures()

    @property
    def vocab_size(self) -> int:
        """How many distinct semantic tokens there are."""
        return len(self.centroids)

    @classmethod
    def fit(cls, features: np.ndarray, k: int, seed: int) -> SemanticTokenizer:
        """Fit the standardisation and k-means codebook on (N, FEATURE_DIM) raw features."""
        mean = features.mean(0)
        std = features.std(0) + 1e-4
        points = cls._scale((features - mean) / std)
        centroids = kmeans(points.astype(np.float64), k, np.random.default_rng(seed))
        return cls(mean.astype(np.float32), std.astype(np.float32), centroids)

    @staticmethod
    def _scale(standardised: np.ndarray) -> np.ndarray:
        weights = np.ones(FEATURE_DIM, dtype=np.float32)
        weights[:12] = CHROMA_WEIGHT
        return standardised * weights

    def tokens_of_features(self, features: np.ndarray) -> np.ndarray:
        """(frames,) int64 tokens of (frames, FEATURE_DIM) raw features."""
        return nearest(self._scale((features - self.mean) / self.std), self.centroids)

    def tokens(self, mono: np.ndarray) -> np.ndarray:
        """(frames,) int64 tokens of mono 32 kHz audio."""
        return self.tokens_of_features(self._features(mono))

    def token_chroma(self) -> np.ndarray:
        """(vocab, 12) each centroid's raw chroma: the harmony each token stands for."""
        return self.centroids[:, :12] / CHROMA_WEIGHT * self.std[:12] + self.mean[:12]

    def chroma(self, tokens: np.ndarray) -> np.ndarray:
        """(12,) the summed raw chroma of ``tokens``: the harmony a plan asks for."""
        return self.token_chroma()[np.asarray(tokens, dtype=np.int64)].sum(axis=0)

    def transposed(self, features: np.ndarray, semitones: int) -> np.ndarray:
        """(frames,) int64 tokens of raw features with the chroma moved up ``semitones``: the
        same music in another key, as far as the plan can tell (training augmentation)."""
        shifted = features.copy()
        shifted[:, :12] = np.roll(features[:, :12], semitones, axis=1)
        return self.tokens_of_features(shifted)

    def save(self, path: Path) -> None:
        """Write the standardisation and centroids to ``path`` (.npz), shipped beside the
        generator weights."""
        state = {"mean": self.mean, "std": self.std, "centroids": self.centroids}
        atomic_write(path, lambda handle: np.savez(handle, **state))

    @classmethod
    def load(cls, path: Path) -> SemanticTokenizer:
        """Read a tokenizer written by ``save``."""
        with np.load(path) as data:
            return cls(data["mean"], data["std"], data["centroids"])
