"""MusicGen's delay pattern: level l of the codes runs l frames late, so one transformer step
predicts every level of a frame while each level still sees the levels below it."""

from __future__ import annotations

import torch


def delayed(codes: torch.Tensor, pad: int) -> torch.Tensor:
    """(batch, channels, levels, frames) -> (batch, levels * channels, frames + levels - 1)
    streams where level l is shifted l frames late (MusicGen's delay pattern) and stream
    l * channels + c holds channel c of level l; unknown positions hold ``pad``."""
    batch, channels, levels, frames = codes.shape
    out = codes.new_full((batch, levels * channels, frames + levels - 1), pad)
    for level in range(levels):
        for channel in range(channels):
            out[:, level * channels + channel, level : level + frames] = codes[:, channel, level]
    return out


def undelayed(streams: torch.Tensor, channels: int, frames: int) -> torch.Tensor:
    """The inverse of ``delayed``: (batch, levels * channels, steps) -> (batch, channels,
    levels, frames)."""
    batch, count, _ = streams.shape
    levels = count // channels
    out = streams.new_empty((batch, channels, levels, frames))
    for level in range(levels):
        for channel in range(channels):
            out[:, channel, level] = streams[:, level * channels + channel, level : level + frames]
    return out
