"""The reference the codec is measured against: ffmpeg's libopus in hard CBR."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


class OpusUnavailableError(RuntimeError):
    """ffmpeg (with libopus) is not installed."""


def opus_roundtrip(audio: np.ndarray, sample_rate: int, bitrate: int) -> tuple[np.ndarray, float]:
    """Encode (channels, T) audio with libopus at ``bitrate`` b/s, constant bit rate
    (``-vbr off``), and decode it back to ``sample_rate``; returns the decode, cut or
    zero-padded to T, and the bitrate of the Opus packets actually written (container
    overhead left out, as for the codec's tokens)."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise OpusUnavailableError("ffmpeg is not installed (apt-get install -y ffmpeg)")
    with tempfile.TemporaryDirectory() as tmp:
        src, enc, dec = (Path(tmp) / n for n in ("in.wav", "enc.opus", "dec.wav"))
        sf.write(src, audio.T, sample_rate, subtype="FLOAT")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:a", "libopus",
                        "-b:a", str(bitrate), "-vbr", "off", str(enc)], check=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(enc), "-ar", str(sample_rate),
                        "-c:a", "pcm_f32le", str(dec)], check=True)
        sizes = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a",
                                "-show_entries", "packet=size", "-of", "csv=p=0", str(enc)],
                               check=True, capture_output=True, text=True).stdout.split()
        decoded, _ = sf.read(dec, dtype="float32", always_2d=True)
    out = np.zeros_like(audio)
    n = min(audio.shape[1], decoded.shape[0])
    out[:, :n] = decoded[:n].T
    bits = 8 * sum(int(s.split(",")[0]) for s in sizes)
    return out, bits / (audio.shape[1] / sample_rate)
