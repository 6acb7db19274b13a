"""Level gains carried beside the codes: the decode comes back at the input's level."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.codec import io, level
from engine.codec.model import Codec, CodecConfig
from tests.engine.codec.conftest import TINY_MODEL, song

HOP = 640


def _block_levels_db(audio: np.ndarray, size: int) -> np.ndarray:
    blocks = audio[:, : audio.shape[1] // size * size].reshape(audio.shape[0], -1, size)
    return 20 * np.log10(np.sqrt(np.mean(blocks**2, axis=-1)))


def test_gains_undo_a_level_loss_that_varies_by_channel_and_time() -> None:
    rng = np.random.default_rng(1)
    original = rng.standard_normal((2, 40 * HOP * 25)).astype(np.float32) * 0.1
    # A "decoder" that loses 3..12 dB, slowly varying, more on the right channel.
    loss_db = np.stack([np.linspace(-3, -9, original.shape[1]),
                        np.linspace(-6, -12, original.shape[1])])
    decoded = original * 10 ** (loss_db / 20)
    gains = level.measure_gains(original, decoded, HOP)
    assert gains.dtype == np.int8 and gains.shape == (2, 40)
    fixed = level.apply_gains(decoded, gains, HOP)
    error = _block_levels_db(fixed, 25 * HOP) - _block_levels_db(original, 25 * HOP)
    assert np.abs(error).max() < 0.3
    assert abs(level.level_error_db(original, decoded)) > 3
    assert abs(level.level_error_db(original, fixed)) < 0.1


def test_silence_and_extremes_stay_bounded() -> None:
    original = np.zeros((2, 3 * 25 * HOP), np.float32)
    original[0, 25 * HOP: 2 * 25 * HOP] = 0.5  # one loud block on the left only
    decoded = original * 1e-4  # 80 dB quieter: beyond what a gain may say
    gains = level.measure_gains(original, decoded, HOP)
    assert gains[0, 1] == 127 and (gains[1] == 0).all() and gains[0, 0] == 0
    silent = level.measure_gains(original, np.zeros_like(original), HOP)
    assert (silent == 0).all()  # nothing to scale: never divides by zero


@pytest.fixture(scope="module")
def tiny_codec() -> Codec:
    torch.manual_seed(0)
    return Codec(CodecConfig(**TINY_MODEL)).eval()


def test_token_files_carry_gains_and_old_files_still_load(tmp_path, tiny_codec: Codec) -> None:
    cfg = tiny_codec.cfg
    audio = song(np.random.default_rng(3), 1.5)["mix"]
    codes = tiny_codec.encode(torch.from_numpy(audio)[None])[0].numpy()
    gains = level.measure_gains(audio, tiny_codec.decode(torch.from_numpy(codes)[None])[
        0, :, : audio.shape[1]].numpy(), cfg.hop)
    io.save_tokens(tmp_path / "v2.npz", codes, audio.shape[1], cfg, gains)
    loaded = io.load_tokens(tmp_path / "v2.npz", cfg)
    assert loaded.samples == audio.shape[1] and np.array_equal(loaded.gains, gains)
    io.save_tokens(tmp_path / "v1.npz", codes, audio.shape[1], cfg)
    assert io.load_tokens(tmp_path / "v1.npz", cfg).gains is None
    io.save_tokens(tmp_path / "bad.npz", codes, audio.shape[1], cfg, gains[:, :1])
    with pytest.raises(io.CodecFileError, match="level gains do not fit"):
        io.load_tokens(tmp_path / "bad.npz", cfg)
