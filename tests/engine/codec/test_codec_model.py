"""Codec network shapes, bitrates and the streaming decoder on tiny random models."""

from __future__ import annotations

import pytest
import torch

from engine.codec.model import Codec, CodecConfig
from engine.codec.streaming import StreamingDecoder, context_frames, decode_chunked
from tests.engine.codec.conftest import TINY_MODEL


@pytest.fixture(scope="module")
def tiny() -> Codec:
    torch.manual_seed(0)
    return Codec(CodecConfig(**TINY_MODEL)).eval()


def test_shapes_and_padding(tiny: Codec) -> None:
    audio = 0.1 * torch.randn(3, 2, 32000 + 123)  # not a whole number of frames
    codes = tiny.encode(audio)
    assert codes.shape == (3, 2, 4, 51) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < 32
    y = tiny.decode(codes)
    assert y.shape == (3, 2, 51 * 640)
    y, commit, train_codes = tiny.train()(audio, n_q=2)
    tiny.eval()
    assert y.shape == audio.shape and train_codes.shape == (3, 2, 2, 51)
    assert torch.isfinite(commit)


def test_fewer_levels_decode(tiny: Codec) -> None:
    codes = tiny.encode(0.1 * torch.randn(1, 2, 6400), n_q=2)
    assert codes.shape[2] == 2
    assert tiny.decode(codes).shape == (1, 2, 6400)
    with pytest.raises(ValueError, match="levels"):
        tiny.decode(torch.zeros(1, 2, 5, 10, dtype=torch.long))


def test_bitrate() -> None:
    cfg = CodecConfig()
    assert cfg.frame_rate == 50
    assert cfg.bitrate == 50 * 8 * 10  # per channel: 4 kb/s; stereo 8 kb/s
    assert cfg.bitrate_at(4) == 2000
    assert CodecConfig(**TINY_MODEL).bitrate == 50 * 4 * 5


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_streaming_matches_offline(tiny: Codec, chunk: int) -> None:
    codes = torch.randint(0, 32, (2, 2, 4, 83))
    offline = tiny.decode(codes)
    streamed = decode_chunked(tiny, codes, chunk)
    assert streamed.shape == offline.shape
    assert (streamed - offline).abs().max() < 1e-5


def test_streaming_needs_its_context(tiny: Codec) -> None:
    """With less context than the receptive field the chunks no longer match: the stated
    context is what makes streaming exact, not luck."""
    codes = torch.randint(0, 32, (1, 2, 4, 60))
    offline = tiny.decode(codes)
    stream = StreamingDecoder(tiny, context=1)
    parts = [stream.push(codes[..., i:i + 5]) for i in range(0, 60, 5)] + [stream.flush()]
    assert (torch.cat(parts, -1) - offline).abs().max() > 1e-4
    assert context_frames(tiny.cfg) > 1


def test_streaming_emits_with_bounded_latency(tiny: Codec) -> None:
    stream = StreamingDecoder(tiny)
    lag = stream.latency_frames
    codes = torch.randint(0, 32, (1, 2, 4, lag + 10))
    out = stream.push(codes)
    assert out.shape[-1] == 10 * 640  # everything but the look-ahead is final
    assert stream.flush().shape[-1] == lag * 640
