"""Reconstruction losses: multi-resolution log-mel, a phase-aware compressed complex STFT
loss, time-domain L1 and (optionally) spectral convergence as the evaluation measures it. No
adversarial terms (see the model card for why)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from engine.codec import spectral
from engine.codec.metrics import RESOLUTIONS

# A row whose STFT magnitudes average less than this is silent for the spectral-convergence
# term (about -60 dB below a full-scale sine's).
SILENT_BIN_MAGNITUDE = 1e-3


@dataclass
class LossConfig:
    """Loss weights and resolutions."""

    mel: float = 1.0
    mel_n_ffts: list[int] = field(default_factory=lambda: [256, 1024, 2048])
    mel_bins: list[int] = field(default_factory=lambda: [32, 96, 128])
    complex: float = 1.0
    complex_n_fft: int = 1024
    l1: float = 1.0
    # Spectral convergence at the evaluation's resolutions: linear magnitudes, so the loud
    # low end the log-mel term compresses away counts as much as the measure counts it.
    sc: float = 0.0
    commit: float = 0.25


class ReconstructionLoss(nn.Module):
    """Weighted sum of the reconstruction terms; returns the total and each term."""

    def __init__(self, cfg: LossConfig, sample_rate: int) -> None:
        """Precompute windows and mel filterbanks."""
        super().__init__()
        self.cfg = cfg
        self.scales = list(zip(cfg.mel_n_ffts, cfg.mel_bins, strict=True))
        for n_fft, n_mels in self.scales:
            self.register_buffer(f"win{n_fft}", spectral.hann(n_fft), persistent=False)
            self.register_buffer(f"fb{n_fft}", spectral.mel_filterbank(sample_rate, n_fft, n_mels),
                                 persistent=False)
        self.register_buffer("cwin", spectral.hann(cfg.complex_n_fft), persistent=False)
        for n_fft in RESOLUTIONS if cfg.sc else ():
            self.register_buffer(f"scwin{n_fft}", spectral.hann(n_fft), persistent=False)

    def forward(self, y: torch.Tensor, x: torch.Tensor, commit: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of reconstruction `y` against target `x` (both (B, C, T))."""
        y, x = y.reshape(-1, y.shape[-1]), x.reshape(-1, x.shape[-1])
        mel = y.new_zeros(())
        for n_fft, _ in self.scales:
            win, fb = getattr(self, f"win{n_fft}"), getattr(self, f"fb{n_fft}")
            my = fb @ spectral.stft(y, n_fft, n_fft // 4, win).abs()
            mx = fb @ spectral.stft(x, n_fft, n_fft // 4, win).abs()
            mel = mel + (torch.log10(my.clamp_min(1e-5)) - torch.log10(mx.clamp_min(1e-5))
                         ).abs().mean()
        mel = mel / len(self.scales)
        n = self.cfg.complex_n_fft
        sy, sx = (spectral.stft(s, n, n // 4, self.cwin) for s in (y, x))
        # |S|^0.3 e^{i phase}: a phase-sensitive distance whose scale does not follow loudness.
        cy, cx = (s * s.abs().clamp_min(1e-7).pow(-0.7) for s in (sy, sx))
        complex_term = (cy - cx).abs().square().mean()
        l1 = (y - x).abs().mean()
        c = self.cfg
        total = c.mel * mel + c.complex * complex_term + c.l1 * l1 + c.commit * commit
        named = [("mel", mel), ("complex", complex_term), ("l1", l1), ("commit", commit)]
        if c.sc:
            sc = self.spectral_convergence(y, x)
            total = total + c.sc * sc
            named.append(("sc", sc))
        return total, {name: value.item() for name, value in named}

    def spectral_convergence(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """||S_x - S_y||_F / ||S_x||_F of STFT magnitudes per row and resolution, averaged
        (metrics.spectral_convergence's definition, differentiable; rows are (N, T)). Rows
        whose reference is silent (a hard-panned stem's empty channel) are left out: the
        ratio has no scale there and would swamp the batch."""
        values = []
        for n_fft in RESOLUTIONS:
            win = getattr(self, f"scwin{n_fft}")
            my = spectral.stft(y, n_fft, n_fft // 4, win).abs()
            mx = spectral.stft(x, n_fft, n_fft // 4, win).abs()
            diff = torch.linalg.matrix_norm(mx - my)
            norm = torch.linalg.matrix_norm(mx)
            sounding = norm > SILENT_BIN_MAGNITUDE * mx[0].numel() ** 0.5
            ratios = diff / norm.clamp_min(1e-7)
            values.append(torch.where(sounding, ratios, 0.0).sum()
                          / sounding.sum().clamp_min(1))
        return torch.stack(values).mean()
