"""The codec network: an STFT + ConvNeXt encoder, an RVQ bottleneck and a Vocos-like decoder.

Both sides work on mono signals at frame rate; stereo is two channels through the same
weights (MusicGen's stereo), folded into the batch. The decoder runs ConvNeXt blocks at the
50 Hz token rate, upsamples to 100 Hz and ends in an inverse-STFT head, so almost all of its
work is a few small matrix products per 20 ms frame: that is what makes CPU decoding fast.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.codec import spectral
from engine.codec.config import CodecConfig
from engine.codec.quantizer import ResidualVectorQuantizer


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over time, LayerNorm, a 4x MLP, a learned residual scale."""

    def __init__(self, dim: int, kernel: int) -> None:
        """A block of width `dim` with a depthwise kernel of `kernel` frames."""
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, 4 * dim)
        self.down = nn.Linear(4 * dim, dim)
        self.scale = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim, frames) -> same shape."""
        y = self.dwconv(x).transpose(1, 2)
        y = self.down(nn.functional.gelu(self.up(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


class Encoder(nn.Module):
    """Mono audio (N, T) -> latents (N, latent_dim, T / hop)."""

    def __init__(self, cfg: CodecConfig) -> None:
        """Build from the codec config."""
        super().__init__()
        self.cfg = cfg
        bins = cfg.enc_n_fft // 2 + 1
        stride = cfg.hop // cfg.enc_hop
        self.register_buffer("window", spectral.hann(cfg.enc_n_fft), persistent=False)
        # A strided conv over 4 STFT frames turns a 200 Hz spectrogram into 50 Hz features.
        self.inp = nn.Conv1d(2 * bins, cfg.enc_dim, stride, stride=stride)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(cfg.enc_dim, cfg.kernel)
                                      for _ in range(cfg.enc_blocks)])
        self.norm = nn.LayerNorm(cfg.enc_dim)
        self.out = nn.Linear(cfg.enc_dim, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode; T must be a multiple of hop."""
        spec = spectral.stft(x, self.cfg.enc_n_fft, self.cfg.enc_hop, self.window)
        # Power-law compression keeps quiet partials visible without a log's -inf.
        mag = spec.abs().clamp_min(1e-7)
        spec = spec * (mag.pow(0.3) / mag)
        h = self.blocks(self.inp(torch.cat([spec.real, spec.imag], dim=1)))
        return self.out(self.norm(h.transpose(1, 2))).transpose(1, 2)


class Decoder(nn.Module):
    """Latents (N, latent_dim, F) -> mono audio (N, F * hop) through an iSTFT head."""

    def __init__(self, cfg: CodecConfig) -> None:
        """Build from the codec config."""
        super().__init__()
        self.cfg = cfg
        self.head_hop = cfg.hop // cfg.dec_up
        bins = cfg.head_n_fft // 2 + 1
        self.register_buffer("window", spectral.hann(cfg.head_n_fft), persistent=False)
        self.inp = nn.Conv1d(cfg.latent_dim, cfg.dec_dim, cfg.kernel, padding=cfg.kernel // 2)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(cfg.dec_dim, cfg.kernel)
                                      for _ in range(cfg.dec_blocks)])
        self.norm = nn.LayerNorm(cfg.dec_dim)
        # Sub-frame upsampling: one linear map gives dec_up frames' features per token frame.
        self.up = nn.Linear(cfg.dec_dim, cfg.dec_up * cfg.dec_up_dim)
        self.up_blocks = nn.Sequential(*[ConvNeXtBlock(cfg.dec_up_dim, cfg.kernel)
                                         for _ in range(cfg.dec_up_blocks)])
        self.up_norm = nn.LayerNorm(cfg.dec_up_dim)
        self.head = nn.Linear(cfg.dec_up_dim, 2 * bins)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode latents of F frames to F * hop samples."""
        n, _, frames = z.shape
        h = self.blocks(self.inp(z))
        h = self.up(self.norm(h.transpose(1, 2)))  # (N, F, up * d)
        h = h.reshape(n, frames * self.cfg.dec_up, self.cfg.dec_up_dim).transpose(1, 2)
        h = self.up_norm(self.up_blocks(h).transpose(1, 2))
        log_mag, phase = self.head(h).transpose(1, 2).chunk(2, dim=1)
        # exp of a clamped log keeps early training from overflowing (Vocos does the same).
        spec = torch.polar(torch.exp(log_mag.clamp(max=6.0)), phase)
        return spectral.istft(spec, self.cfg.head_n_fft, self.head_hop, self.window)


class Codec(nn.Module):
    """Encoder, residual vector quantizer and decoder for stereo (or any channel count)."""

    def __init__(self, cfg: CodecConfig) -> None:
        """Build from the codec config."""
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualVectorQuantizer(cfg.n_q, cfg.bins, cfg.latent_dim,
                                                  cfg.ema_decay, cfg.dead_after)
        self.decoder = Decoder(cfg)

    def _fold(self, audio: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(B, C, T) -> (B * C, T') with T' padded up to whole frames; returns T."""
        b, c, t = audio.shape
        frames = spectral.frames_for(t, self.cfg.hop)
        x = nn.functional.pad(audio.reshape(b * c, t), (0, frames * self.cfg.hop - t))
        return x, t

    def forward(self, audio: torch.Tensor, n_q: int | None = None,
                codes: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (B, C, T) -> (reconstruction, commitment loss, codes). Given
        ``codes`` (B, C, levels, frames), the decoder decodes those instead and the loss is 0
        (the decoder-only fine-tune; through here so that DDP averages its gradients)."""
        b, c, _ = audio.shape
        x, t = self._fold(audio)
        if codes is not None:
            z = self.quantizer.decode(codes.reshape(b * c, *codes.shape[2:]))
            y = self.decoder(z)[:, :t].reshape(b, c, t)
            return y, torch.zeros((), device=audio.device), codes
        q, commit, codes = self.quantizer(self.encoder(x), n_q)
        y = self.decoder(q)[:, :t].reshape(b, c, t)
        return y, commit, codes.reshape(b, c, *codes.shape[1:])

    @torch.no_grad()
    def encode(self, audio: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """(B, C, T) float audio -> (B, C, n_q, frames) int64 codes."""
        b, c, _ = audio.shape
        x, _ = self._fold(audio)
        codes = self.quantizer.encode(self.encoder(x), n_q)
        return codes.reshape(b, c, *codes.shape[1:])

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, C, n_q, frames) codes (any n_q up to the model's) -> (B, C, frames * hop)."""
        b, c, n_q, frames = codes.shape
        z = self.quantizer.decode(codes.reshape(b * c, n_q, frames))
        return self.decoder(z).reshape(b, c, -1)
