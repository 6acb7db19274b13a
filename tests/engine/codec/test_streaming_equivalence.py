"""Streaming decode equals offline decode, on the shipped decoder's architecture.

test_codec_model.py checks streaming on the tiny test codec (one ConvNeXt block on each side
of the upsampling, so a receptive field of a few frames). Here the decoder has the shipped
depth, kernel and iSTFT head (only its widths are tiny), so ``context_frames`` is checked
against the receptive field it claims to cover; float64 makes the comparison tight enough
that one frame of missing context shows. The preview path (pipeline._Previewer: growing pushes of
coarse levels, the first candidate's rows summed, the continued clip skipped) is checked the
same way.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.codec.model import Codec, CodecConfig, ConvNeXtBlock
from engine.codec.streaming import StreamingDecoder, context_frames, decode_chunked

FRAMES = 64
BINS = 16
TOLERANCE = 1e-13  # of the peak, in float64


def _shipped_shape(dtype: torch.dtype) -> Codec:
    """The shipped decoder's structure (blocks, kernel, upsampling, iSTFT head) at tiny width."""
    torch.manual_seed(0)
    cfg = CodecConfig(latent_dim=8, enc_dim=8, enc_blocks=1, dec_dim=16, dec_up_dim=8,
                      n_q=3, bins=BINS)
    shipped = CodecConfig()
    for name in ("hop", "dec_blocks", "dec_up", "dec_up_blocks", "head_n_fft", "kernel"):
        assert getattr(cfg, name) == getattr(shipped, name)
    codec = Codec(cfg)
    with torch.no_grad():
        # ConvNeXt residual scales start at 0.1, which damps far frames' influence to below
        # float64 rounding; at 1 (trained blocks grow theirs) one frame of context too few
        # leaves an error of about 1e-10 of the peak, well above the 1e-13 the tests allow.
        for block in codec.decoder.modules():
            if isinstance(block, ConvNeXtBlock):
                block.scale.fill_(1.0)
    return codec.to(dtype).eval()


@pytest.fixture(scope="module")
def codec64() -> Codec:
    return _shipped_shape(torch.float64)


def _codes(frames: int = FRAMES, seed: int = 1, rows: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, BINS, (rows, 2, 3, frames), generator=generator)


def test_the_context_covers_the_receptive_field(codec64: Codec) -> None:
    """Changing one token frame changes the audio of frames within ``context_frames`` of it
    and no further: the context streaming keeps is at least the decoder's real reach (any
    change at all counts: outside the reach both decodes run the same arithmetic on the same
    numbers), and not much more (it is the preview's latency)."""
    codes = _codes()
    hop, middle = codec64.cfg.hop, FRAMES // 2
    changed = codes.clone()
    changed[..., middle] = (changed[..., middle] + 1) % BINS
    diff = (codec64.decode(changed) - codec64.decode(codes)).abs().amax(dim=(0, 1))
    moved = (diff > 0).nonzero()[:, 0]
    first, last = int(moved.min()) // hop, int(moved.max()) // hop
    reach = max(middle - first, last - middle)
    assert reach <= context_frames(codec64.cfg) <= reach + 2


@pytest.mark.parametrize("chunk", [7, 17, 1000])  # chunk 1: test_codec_model.py
def test_streamed_equals_offline_float64(codec64: Codec, chunk: int) -> None:
    codes = _codes()
    offline = codec64.decode(codes)
    streamed = decode_chunked(codec64, codes, chunk)
    assert streamed.shape == offline.shape
    assert (streamed - offline).abs().max() <= TOLERANCE * offline.abs().max()


def test_irregular_pushes_emit_all_but_the_lookahead(codec64: Codec) -> None:
    """Pushes of any size (empty, shorter than the look-ahead, longer) each return exactly
    the frames that became final, and together the offline decode."""
    codes = _codes()
    offline = codec64.decode(codes)
    hop = codec64.cfg.hop
    stream = StreamingDecoder(codec64)
    lag = stream.latency_frames
    parts, received = [], 0
    for size in (0, 2, 1, 30, 0, 9, 22):
        out = stream.push(codes[..., received : received + size])
        received += size
        parts.append(out)
        emitted = sum(p.shape[-1] for p in parts)
        assert emitted == max(0, received - lag) * hop
        if out.shape[-1]:
            expected = offline[..., emitted - out.shape[-1] : emitted]
            assert (out - expected).abs().max() <= TOLERANCE * offline.abs().max()
    assert received == FRAMES
    parts.append(stream.flush())
    assert (torch.cat(parts, -1) - offline).abs().max() <= TOLERANCE * offline.abs().max()


def test_streamed_equals_offline_float32() -> None:
    """The shipped dtype: equal up to float32 rounding."""
    codec = _shipped_shape(torch.float32)
    codes = _codes()
    offline = codec.decode(codes)
    streamed = decode_chunked(codec, codes, 16)
    assert (streamed - offline).abs().max() <= 1e-5 * offline.abs().max()


def test_the_preview_is_the_offline_decode_of_what_is_final(codec64: Codec) -> None:
    """The generation preview: coarse codes (fewer levels than the codec's) arrive as a
    growing array, the first candidate's rows are summed and the continued clip's frames are
    skipped. Each preview reaches ``PREVIEW_LOOKAHEAD`` frames short of what is known (a short
    look-ahead, for a first sound sooner: close to the offline decode, not equal), never
    changes what it sent, and the last one (``final``) ends the clip exactly as decoded
    offline."""
    from engine.generator.pipeline import PREVIEW_LOOKAHEAD, _Previewer

    codes = _codes(rows=3)[:, :, :2]  # coarse levels only
    hop = codec64.cfg.hop
    prompt_frames = 3  # 25 Hz frames of a continued clip: 6 codec frames
    plan = SimpleNamespace(prompt_frames=prompt_frames, candidate=[0, 1, 0])
    previewer = _Previewer(codec64, plan)
    skip = 2 * prompt_frames * hop
    offline = codec64.decode(codes)[[0, 2]].sum(0).numpy()[:, skip:]
    peak = np.abs(offline).max()
    previews: list[np.ndarray] = []
    for known in (4, 11, 40, 41, FRAMES):
        mix = previewer.push(codes[..., :known], final=known == FRAMES)
        if mix is None:
            continue
        end = known if known == FRAMES else known - PREVIEW_LOOKAHEAD
        assert mix.shape == (2, end * hop - skip)
        if previews:  # what was sent stays as it was sent
            assert np.array_equal(mix[:, : previews[-1].shape[1]], previews[-1])
        assert np.abs(mix - offline[:, : mix.shape[1]]).max() <= 0.1 * peak
        previews.append(mix)
    assert len(previews) >= 3 and previews[-1].shape == offline.shape
    last = previews[-2].shape[1]  # the final chunk is decoded with everything after it
    assert np.abs(previews[-1][:, last:] - offline[:, last:]).max() <= TOLERANCE * peak
