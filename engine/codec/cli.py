"""File-level encode and decode behind ``stemloom codec encode|decode``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from engine.codec import io, level
from engine.codec.streaming import decode_chunked


def _fail(message: str) -> int:
    print(f"stemloom codec: {message}", file=sys.stderr)
    return 2


def encode_file(source: Path, target: Path, weights: Path | None = None,
                levels: int | None = None) -> int:
    """Encode an audio file to a token file with the gains that bring its decode back to
    the file's level; returns an exit code (2 on bad input)."""
    try:
        codec = io.load_codec(weights)
        if levels is not None and not 1 <= levels <= codec.cfg.n_q:
            return _fail(f"--levels must be 1..{codec.cfg.n_q}")
        audio = io.read_audio(source, codec.cfg.sample_rate)
        if not np.isfinite(audio).all():
            return _fail(f"{source}: the audio holds NaN or infinite samples")
        codes = codec.encode(torch.from_numpy(audio)[None], levels)
        decoded = codec.decode(codes)[0, :, : audio.shape[1]].numpy()
        gains = level.measure_gains(audio, decoded, codec.cfg.hop)
        io.save_tokens(target, codes[0].numpy(), audio.shape[1], codec.cfg, gains,
                       io.decoder_fingerprint(codec))
    except (io.CodecFileError, FileNotFoundError) as error:
        return _fail(str(error))
    return 0


def decode_file(source: Path, target: Path, weights: Path | None = None,
                chunk_seconds: float = 0.0) -> int:
    """Decode a token file to a 32 kHz float WAV at the level it was encoded from (streamed
    in chunks when chunk_seconds > 0)."""
    try:
        codec = io.load_codec(weights)
        tokens = io.load_tokens(source, codec.cfg)
        tensor = torch.from_numpy(tokens.codes)[None]
        if chunk_seconds > 0:
            chunk = max(1, round(chunk_seconds * codec.cfg.frame_rate))
            audio = decode_chunked(codec, tensor, chunk)
        else:
            audio = codec.decode(tensor)
        decoded = audio[0, :, : tokens.samples].numpy()
        if tokens.gains is not None:
            decoded = level.apply_gains(decoded, tokens.gains, codec.cfg.hop)
            if tokens.decoder != io.decoder_fingerprint(codec):
                print(f"stemloom codec: note: {source}'s level gains were measured with "
                      "another decoder, so its level may be off by a dB or two; encode the "
                      "audio again for an exact level", file=sys.stderr)
        io.write_audio(target, decoded, codec.cfg.sample_rate)
    except (io.CodecFileError, FileNotFoundError) as error:
        return _fail(str(error))
    return 0


def export_checkpoint(checkpoint: Path, directory: Path, half: bool = True) -> int:
    """Write a training checkpoint's model as inference weights (codec.pt) in `directory`."""
    from engine.codec.model import Codec, CodecConfig

    if not Path(checkpoint).is_file():
        return _fail(f"{checkpoint}: no such checkpoint")
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = Codec(CodecConfig(**state["config"]["model"]))
    model.load_state_dict(state["model"])
    path = io.export(model, directory, state["step"], half=half)
    print(f"wrote {path} (step {state['step']}, {path.stat().st_size / 1e6:.2f} MB)")
    return 0
