"""Codes as a generator makes them: the true codes with some swapped for near neighbours.

The generator's coarse stage samples tokens, so the decoder meets codes a little off the
encoder's choice. Training the decoder on codes where a random share of tokens is replaced by
one of the k codes nearest to it in the same codebook teaches it to turn such codes into clean
sound rather than grit (measured: at a 30 % swap rate the shipped decoder's bass loses 0.06 of
harmonic share and its left/right correlation falls from 0.98 to 0.81).
"""

from __future__ import annotations

import torch

from engine.codec.quantizer import ResidualVectorQuantizer


def nearest_codes(quantizer: ResidualVectorQuantizer, k: int) -> list[torch.Tensor]:
    """Per level, (bins, k) indices of each code's k nearest other codes."""
    tables = []
    for level in quantizer.levels:
        book = level.codebook.float()
        distances = torch.cdist(book, book)
        distances.fill_diagonal_(float("inf"))
        tables.append(distances.topk(k, dim=1, largest=False).indices)
    return tables


def swap_codes(codes: torch.Tensor, neighbours: list[torch.Tensor], rates: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, n_q, F) codes with each token, at its row's rate in `rates` (N,), replaced by one
    of its nearest codes (chosen uniformly). Draws come from the CPU `generator`, so a seed
    gives the same swaps on any device."""
    out = codes.clone()
    n, n_q, frames = codes.shape
    for level in range(n_q):
        table = neighbours[level].to(codes.device)
        swap = torch.rand(n, frames, generator=generator) < rates.cpu()[:, None]
        pick = torch.randint(table.shape[1], (n, frames), generator=generator)
        swapped = table[codes[:, level], pick.to(codes.device)]
        out[:, level] = torch.where(swap.to(codes.device), swapped, codes[:, level])
    return out
