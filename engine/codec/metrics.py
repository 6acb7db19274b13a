"""The codec's three quality measures, as issue #23 defines them (one definition each).

- log-mel distance: 80-band mel magnitudes at n_fft 512/1024/2048 (hop n_fft / 4), log10
  floored at 1e-5, mean absolute difference, averaged over resolutions and channels;
- spectral convergence: at the same resolutions, the Frobenius norm of the STFT magnitude
  difference over the reference's, averaged over resolutions and channels;
- SI-SDR: scale-invariant signal-to-distortion ratio in dB, per channel, averaged.

``Reference`` scores many estimates of one clip; the functions score one pair. All take
(channels, samples) float arrays of one shape, reference first.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from engine.codec import spectral

RESOLUTIONS = (512, 1024, 2048)
N_MELS = 80


def _tensor(audio: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))


def _magnitude(audio: torch.Tensor, n_fft: int) -> torch.Tensor:
    return spectral.stft(audio, n_fft, n_fft // 4, spectral.hann(n_fft)).abs().double()


class Reference:
    """A (channels, samples) reference clip whose spectra are computed once (on first use)
    and kept, so that many decodes of it are scored at the cost of their own spectra."""

    def __init__(self, audio: np.ndarray, sample_rate: int) -> None:
        """Score estimates against ``audio`` at ``sample_rate``."""
        if audio.ndim != 2:
            raise ValueError(f"audio {audio.shape} must be (channels, samples)")
        self.audio, self.sample_rate = audio, sample_rate

    @functools.cached_property
    def _log_mels(self) -> list[torch.Tensor]:
        return [spectral.log_mel(_tensor(self.audio), self.sample_rate, n_fft, N_MELS)
                for n_fft in RESOLUTIONS]

    @functools.cached_property
    def _magnitudes(self) -> list[torch.Tensor]:
        return [_magnitude(_tensor(self.audio), n_fft) for n_fft in RESOLUTIONS]

    def _check(self, estimate: np.ndarray) -> torch.Tensor:
        if estimate.shape != self.audio.shape:
            raise ValueError(f"reference {self.audio.shape} and estimate {estimate.shape} "
                             "must be (channels, samples) of one shape")
        return _tensor(estimate)

    def log_mel_distance(self, estimate: np.ndarray) -> float:
        """Mean absolute difference of log10 80-band mel magnitudes, averaged over the
        three resolutions and the channels (0 for identical audio; a 6 dB gain on broadband
        audio gives log10(2), less where cells sit at the 1e-5 floor)."""
        est = self._check(estimate)
        return float(np.mean([
            (ref - spectral.log_mel(est, self.sample_rate, n_fft, N_MELS)).abs().mean()
            for ref, n_fft in zip(self._log_mels, RESOLUTIONS, strict=True)]))

    def spectral_convergence(self, estimate: np.ndarray) -> float:
        """||S_ref - S_est||_F / ||S_ref||_F of STFT magnitudes per channel and resolution,
        averaged (0 for identical audio; 1 for an estimate twice as loud, or silent)."""
        est = self._check(estimate)
        values = []
        for ref, n_fft in zip(self._magnitudes, RESOLUTIONS, strict=True):
            diff = torch.linalg.matrix_norm(ref - _magnitude(est, n_fft))  # one per channel
            values.append(float((diff / torch.linalg.matrix_norm(ref).clamp_min(1e-12)).mean()))
        return float(np.mean(values))

    def si_sdr(self, estimate: np.ndarray) -> float:
        """Scale-invariant SDR in dB per channel, averaged over channels (unchanged by a
        gain on the estimate; for a perfect copy only the 1e-12 noise floor bounds it)."""
        self._check(estimate)
        values = []
        for ref, est in zip(self.audio.astype(np.float64), estimate.astype(np.float64),
                            strict=True):
            alpha = np.dot(est, ref) / max(np.dot(ref, ref), 1e-12)
            target = alpha * ref
            noise = est - target
            values.append(10 * np.log10(max(np.dot(target, target), 1e-12)
                                        / max(np.dot(noise, noise), 1e-12)))
        return float(np.mean(values))


def log_mel_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """``Reference.log_mel_distance`` for one pair."""
    return Reference(reference, sample_rate).log_mel_distance(estimate)


def spectral_convergence(reference: np.ndarray, estimate: np.ndarray) -> float:
    """``Reference.spectral_convergence`` for one pair (the sample rate plays no part)."""
    return Reference(reference, 0).spectral_convergence(estimate)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """``Reference.si_sdr`` for one pair."""
    return Reference(reference, 0).si_sdr(estimate)
