"""The codec's configuration, and the rates every other part of the engine takes from it.

Torch-free, so the corpus, the melody code and the caches can read the sample rate and the
frame rates without loading the network. ``SAMPLE_RATE`` and ``ACOUSTIC_RATE`` are the shipped
codec's; a semantic frame spans two codec frames, so ``SEMANTIC_RATE`` is half the codec's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class CodecConfig:
    """Architecture hyper-parameters; the defaults are the shipped model's."""

    sample_rate: int = 32000
    hop: int = 640  # samples per token frame: 50 Hz at 32 kHz
    enc_n_fft: int = 640
    enc_hop: int = 160  # encoder STFT frames per token frame: hop / enc_hop
    enc_dim: int = 256
    enc_blocks: int = 4
    latent_dim: int = 128
    n_q: int = 8
    bins: int = 1024
    ema_decay: float = 0.99  # codebook EMA (training only)
    dead_after: int = 100  # updates a code may go unused before it is restarted
    dec_dim: int = 384
    dec_blocks: int = 6
    dec_up: int = 2  # decoder frame-rate multiplier before the iSTFT head
    dec_up_dim: int = 256
    dec_up_blocks: int = 2
    head_n_fft: int = 1280
    kernel: int = 7

    @property
    def frame_rate(self) -> float:
        """Token frames per second."""
        return self.sample_rate / self.hop

    @property
    def bitrate(self) -> float:
        """Bits per second per audio channel at all quantizer levels."""
        return self.bitrate_at(self.n_q)

    def bitrate_at(self, n_q: int) -> float:
        """Bits per second per audio channel with the first `n_q` levels."""
        return self.frame_rate * n_q * (self.bins - 1).bit_length()

    def to_dict(self) -> dict:
        """Plain-dict form for JSON files."""
        return asdict(self)


SHIPPED = CodecConfig()
SAMPLE_RATE = SHIPPED.sample_rate  # Hz: every waveform the engine reads, makes and renders
HOP = SHIPPED.hop  # samples per codec frame
ACOUSTIC_RATE = SAMPLE_RATE // HOP  # codec token frames per second
SEMANTIC_RATE = ACOUSTIC_RATE // 2  # semantic frames per second: one per two codec frames
