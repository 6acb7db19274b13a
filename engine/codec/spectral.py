"""STFT framing with "same" padding: T samples <-> T / hop frames exactly.

torch.stft/istft with ``center=True`` give T / hop + 1 frames, which does not line up with the
codec's 50 Hz latent grid; here both directions pad (n_fft - hop) / 2 zeros on each side, so
frame k is centred on samples [k * hop, (k + 1) * hop) and chunked decoding can crop exactly.
"""

from __future__ import annotations

import math
import warnings

import librosa
import numpy as np
import torch
import torch.nn.functional as F


def stft(x: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """Complex STFT of (N, T) audio: (N, n_fft // 2 + 1, T // hop)."""
    pad = (n_fft - hop) // 2
    x = F.pad(x, (pad, pad + (n_fft - hop) % 2))
    return torch.stft(x, n_fft, hop, window=window, center=False, return_complex=True)


def istft(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """Inverse of ``stft``: (N, n_fft // 2 + 1, F) complex -> (N, F * hop) audio by
    windowed overlap-add, normalised by the summed squared window."""
    frames = spec.shape[-1]
    pad = (n_fft - hop) // 2
    y = torch.fft.irfft(spec, n=n_fft, dim=1) * window[None, :, None]
    length = (frames - 1) * hop + n_fft
    y = F.fold(y, output_size=(1, length), kernel_size=(1, n_fft), stride=(1, hop))[:, 0, 0]
    env = window.square()[None, :, None].expand(1, n_fft, frames)
    env = F.fold(env, output_size=(1, length), kernel_size=(1, n_fft), stride=(1, hop))[0, 0, 0]
    return y[:, pad:pad + frames * hop] / env[pad:pad + frames * hop].clamp_min(1e-8)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> torch.Tensor:
    """A (n_mels, n_fft // 2 + 1) triangular HTK-mel filterbank, each filter area-normalised
    (librosa's, built in float64 and stored as float32)."""
    with warnings.catch_warnings():
        # Small FFTs leave the lowest filters empty; they stay zero, as they always have.
        warnings.filterwarnings("ignore", message="Empty filters detected", category=UserWarning)
        fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                 fmax=fmax or sample_rate / 2, htk=True, norm="slaney",
                                 dtype=np.float64)
    return torch.from_numpy(fb.astype(np.float32))


def hann(n: int) -> torch.Tensor:
    """A periodic Hann window of length n."""
    return torch.hann_window(n, periodic=True)


def log_mel(x: torch.Tensor, sample_rate: int, n_fft: int, n_mels: int,
            hop: int | None = None) -> torch.Tensor:
    """log10 mel magnitudes of (N, T) audio, floored at 1e-5: (N, n_mels, frames)."""
    hop = hop or n_fft // 4
    mag = stft(x, n_fft, hop, hann(n_fft).to(x.device)).abs()
    fb = mel_filterbank(sample_rate, n_fft, n_mels).to(x.device)
    return torch.log10(torch.clamp(torch.einsum("mf,nft->nmt", fb, mag), min=1e-5))


def frames_for(samples: int, hop: int) -> int:
    """Number of codec frames covering `samples` (the audio is zero-padded up to it)."""
    return max(1, math.ceil(samples / hop))
