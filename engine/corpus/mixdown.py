"""The mix is the sum of the stems (DESIGN.md), so a corpus may leave `mix.flac` out of an
example that has stems; every reader derives it here.

Derivation is exact: stems are stored on the PCM grid of their bit depth and a stored mix
was their integer sum (engine.corpus.render.balance), so the float64 sum of the decoded
stems, rounded to float32, is the stored mix sample for sample, and `encode_flac` of it is
the stored mix's bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from engine.corpus.flac import decode_flac, encode_flac

MIX = "mix.flac"
_NOT_STEMS = frozenset({MIX, "hum.flac"})


def stem_members(names: Iterable[str]) -> list[str]:
    """The stem FLAC names among an example's member names (not the mix, not the hum)."""
    return sorted(n for n in names if n.endswith(".flac") and n not in _NOT_STEMS)


def sum_stems(stems: Sequence[np.ndarray]) -> np.ndarray:
    """The float32 mix of stems shaped (channels, frames), exact for stems on a PCM grid
    (float64 holds every partial sum; the total is back on the grid)."""
    total: np.ndarray = np.stack(stems).sum(axis=0, dtype=np.float64)
    return total.astype(np.float32)


def with_mix(example: dict, decoded: bool) -> dict:
    """`example` (a dict of members, as engine.corpus.shards reads them) with `mix.flac`
    derived from its stems when it was not stored: float32 (channels, frames) when the
    members are `decoded`, else FLAC bytes at the stems' bit depth. Examples that stored
    their mix, or have no stems, are returned as they are."""
    names = stem_members(example)
    if MIX in example or not names:
        return example
    if decoded:
        example[MIX] = sum_stems([example[n] for n in names])
    else:
        stems, depths = zip(*(decode_flac(example[n]) for n in names), strict=True)
        example[MIX] = encode_flac(sum_stems(stems), max(depths))
    return example
