"""Files: exported codec weights, token files (.npz) and audio, each written atomically."""

from __future__ import annotations

import hashlib
import io as _io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bridge.atomic import atomic_write_bytes
from engine.codec.level import block_samples
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


def decoder_fingerprint(codec: Codec) -> str:
    """A short hash of the decoder's weights: a token file's level gains hold only for the
    decoder that measured them."""
    digest = hashlib.sha256()
    for name, tensor in sorted(codec.decoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float16).cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class TokenFile:
    """What a token file holds: codes, the samples they stand for, and (from version 2)
    the level gains that bring their decode back to the input's level."""

    codes: np.ndarray  # (channels, n_q, frames) int64
    samples: int
    gains: np.ndarray | None  # (channels, blocks) int8, see engine.codec.level
    decoder: str | None = None  # decoder_fingerprint of the decoder the gains were measured on


def save_tokens(path: Path, codes: np.ndarray, samples: int, cfg: CodecConfig,
                gains: np.ndarray | None = None, decoder: str | None = None) -> None:
    """Write (channels, n_q, frames) codes, their level gains (if measured, with the
    fingerprint of the decoder they were measured on) and what decoding needs to a .npz."""
    meta = {"format": TOKEN_FORMAT, "version": 1 if gains is None else 2,
            "sample_rate": cfg.sample_rate, "hop": cfg.hop, "bins": cfg.bins,
            "samples": int(samples)}
    if gains is not None and decoder is not None:
        meta["decoder"] = decoder
    arrays = {"codes": codes.astype(np.int16), "meta": json.dumps(meta)}
    if gains is not None:
        arrays["gains"] = gains.astype(np.int8)
    buffer = _io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_tokens(path: Path, cfg: CodecConfig) -> TokenFile:
    """Read a token file written by ``save_tokens`` (version 1 files have no gains)."""
    path = Path(path)
    if not path.is_file():
        raise CodecFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            codes, meta = data["codes"].astype(np.int64), json.loads(str(data["meta"]))
            gains = data["gains"] if "gains" in data.files else None
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
    samples = int(meta["samples"])
    if gains is not None and (gains.dtype != np.int8 or gains.shape != (
            codes.shape[0], max(1, -(-samples // block_samples(cfg.hop))))):
        raise CodecFileError(f"{path}: its level gains do not fit its codes")
    decoder = meta.get("decoder")
    return TokenFile(codes, samples, gains, decoder if isinstance(decoder, str) else None)


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
