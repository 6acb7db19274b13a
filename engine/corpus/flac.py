"""FLAC bytes of corpus audio: one encoder, so a mix derived from stems at read time is
encoded exactly as a build would have stored it."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from engine.codec.config import SAMPLE_RATE

BITS_OF_SUBTYPE = {"PCM_16": 16, "PCM_24": 24}


def encode_flac(audio: np.ndarray, bits: int = 16) -> bytes:
    """FLAC bytes of float audio shaped (channels, frames) or (frames,)."""
    buffer = io.BytesIO()
    sf.write(buffer, audio.T if audio.ndim == 2 else audio, SAMPLE_RATE, format="FLAC",
             subtype=f"PCM_{bits}")
    return buffer.getvalue()


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    """Float32 (channels, frames) audio of FLAC bytes and their bit depth."""
    with sf.SoundFile(io.BytesIO(data)) as handle:
        bits = BITS_OF_SUBTYPE.get(handle.subtype, 16)
        return handle.read(dtype="float32", always_2d=True).T, bits
