"""Files: exported codec weights, token files (.npz) and audio, each written atomically."""

from __future__ import annotations

import io as _io
import json
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bridge.atomic import atomic_write_bytes
from engine.codec.model import Codec, CodecConfig
from engine.training.export import export_weights, load_weights

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "weights" / "default" / "codec"
WEIGHTS = "codec.pt"
_REBUILT = (".ema_sum", ".idle")  # quantizer buffers exports leave out
TOKEN_FORMAT = "stemloom-codec-tokens"


class CodecFileError(ValueError):
    """An input file is missing, unreadable or not what it should be."""


def export(model: Codec, directory: Path, step: int, half: bool = True,
           extra: dict | None = None) -> Path:
    """Write inference weights (fp16 floats when `half`) with config and step. The codebook
    EMA sums and idle counters are left out (``restore`` rebuilds them): they would double
    the codebooks' share of the file and decoding never reads them."""
    state = {k: v for k, v in model.state_dict().items() if not k.endswith(_REBUILT)}
    return export_weights(state, model.cfg.to_dict(), Path(directory) / WEIGHTS, step,
                          half=half, extra=extra)


def restore(model: Codec, state: dict[str, torch.Tensor]) -> Codec:
    """Load exported weights into `model`, rebuilding each codebook's EMA sum from its
    codebook and counts so that training can continue from them."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith(_REBUILT) for k in missing):
        raise ValueError(f"weights do not fit the codec: missing {missing}, "
                         f"unexpected {unexpected}")
    for level in model.quantizer.levels:
        level.rebuild_ema()
    return model


def _read_weights(path: Path) -> dict:
    path = Path(path)
    return load_weights(path / WEIGHTS if path.is_dir() else path)


def load_state(path: Path) -> tuple[dict[str, torch.Tensor], int]:
    """The (fp32) state dict and training step of exported weights (a directory or file)."""
    blob = _read_weights(path)
    return blob["state"], int(blob["step"])


def load_codec(path: Path | None = None) -> Codec:
    """The exported codec (the shipped default when `path` is None), fp32, in eval mode."""
    blob = _read_weights(path or DEFAULT_DIR)
    return restore(Codec(CodecConfig(**blob["config"])), blob["state"]).eval()


def save_tokens(path: Path, codes: np.ndarray, samples: int, cfg: CodecConfig) -> None:
    """Write (channels, n_q, frames) codes and what decoding needs to a .npz."""
    meta = {"format": TOKEN_FORMAT, "version": 1, "sample_rate": cfg.sample_rate,
            "hop": cfg.hop, "bins": cfg.bins, "samples": int(samples)}
    buffer = _io.BytesIO()
    np.savez_compressed(buffer, codes=codes.astype(np.int16), meta=json.dumps(meta))
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_tokens(path: Path, cfg: CodecConfig) -> tuple[np.ndarray, int]:
    """Read a token file written by ``save_tokens``: (codes (C, n_q, F), samples)."""
    path = Path(path)
    if not path.is_file():
        raise CodecFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            codes, meta = data["codes"].astype(np.int64), json.loads(str(data["meta"]))
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise CodecFileError(f"{path}: not a codec token file ({error})") from error
    if meta.get("format") != TOKEN_FORMAT or codes.ndim != 3:
        raise CodecFileError(f"{path}: not a {TOKEN_FORMAT} file")
    if meta["sample_rate"] != cfg.sample_rate or meta["hop"] != cfg.hop:
        raise CodecFileError(f"{path}: made for {meta['sample_rate']} Hz / hop {meta['hop']}, "
                             f"this codec is {cfg.sample_rate} Hz / hop {cfg.hop}")
    if codes.shape[1] > cfg.n_q or codes.min() < 0 or codes.max() >= cfg.bins:
        raise CodecFileError(f"{path}: codes do not fit this codec ({cfg.n_q} levels of "
                             f"{cfg.bins})")
    return codes, int(meta["samples"])


def read_audio(path: Path, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Read an audio file as float32 stereo (2, samples) at `sample_rate` (mono is
    duplicated; other rates are resampled with soxr). With `max_seconds`, a longer file is
    refused from its header, before anything is decoded (a small FLAC can hold hours)."""
    path = Path(path)
    if not path.is_file():
        raise CodecFileError(f"{path}: no such file")
    try:
        if max_seconds is not None and (seconds := sf.info(path).duration) > max_seconds:
            raise CodecFileError(f"{path}: {seconds:.0f} s long; at most {max_seconds:.0f} s "
                                 "is read")
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise CodecFileError(f"{path}: not a readable audio file ({error})") from error
    if audio.shape[0] == 0:
        raise CodecFileError(f"{path}: the file holds no audio")
    if audio.shape[1] > 2:
        raise CodecFileError(f"{path}: {audio.shape[1]} channels; the codec takes mono or "
                             "stereo")
    if rate != sample_rate:
        import soxr

        audio = soxr.resample(audio, rate, sample_rate).astype(np.float32)
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    return np.ascontiguousarray(audio.T)


def write_audio(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write (channels, samples) float audio to a WAV (float32), atomically."""
    buffer = _io.BytesIO()
    sf.write(buffer, audio.T, sample_rate, format="WAV", subtype="FLOAT")
    atomic_write_bytes(Path(path), buffer.getvalue())
