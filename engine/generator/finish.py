"""Stems finished to the stereo image and level of the stems the model learned from.

The coarse stage samples the left and right token streams so that they wander apart (a bass
the corpus holds dead centre comes out at an L/R correlation near 0.4), and the codec decodes
quieter than it encodes. Neither is music: both are put right here, per stem, with a rule
read off the corpus (``stem_sound.json`` beside the generator's weights, written by
``stemloom eval sound --write``):

* width — the side signal (L - R) / 2 is narrowed until the stem's L/R correlation reaches
  its family's corpus median (but at least MIN_CORRELATION: the corpus's pads are widened
  out of phase, median -0.61, which a producer would lose on a mono system); a stem already
  narrower keeps its own image (never widened);
* level — each stem is brought to its family's median integrated loudness, at most
  MAX_GAIN_DB up or down, and a variation's stems share one cut if their sum would peak over
  PEAK_CEILING_DB, so the mix stays the sum of the stems.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.generator.sound import loudness_lufs

REFERENCE_NAME = "stem_sound.json"
MAX_GAIN_DB = 18.0
PEAK_CEILING_DB = -1.0
MIN_CORRELATION = 0.0  # finishing never aims a stem out of phase
QUIET_LUFS = -60.0  # below this a stem is (nearly) silent: left as it is, not amplified
_BISECTIONS = 30
# Protocol stem names -> corpus family names (the corpus calls the pad stem "pad").
_FAMILY = {"pads": "pad"}


def load_reference(folder: Path) -> dict[str, dict[str, float]] | None:
    """Family -> corpus medians ("lr_correlation", "loudness_lufs"), or None if the model
    folder has no ``stem_sound.json`` (then stems are left as decoded)."""
    path = folder / REFERENCE_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["families"]


def family_of(stem: str) -> str:
    """The corpus family of a stem name such as "bass" or "pads.2"."""
    name = stem.split(".")[0]
    return _FAMILY.get(name, name)


def narrow_to(stereo: np.ndarray, correlation: float) -> np.ndarray:
    """(2, samples) audio with its side signal scaled down (never up) until its L/R
    correlation is at least ``correlation``."""
    mid, side = (stereo[0] + stereo[1]) / 2, (stereo[0] - stereo[1]) / 2
    centred_mid, centred_side = mid - mid.mean(), side - side.mean()
    energies = (float((centred_mid**2).sum()), float((centred_side**2).sum()),
                float((centred_mid * centred_side).sum()))
    if _correlation(*energies, gain=1.0) >= correlation:
        return stereo
    low, high = 0.0, 1.0  # the correlation falls as the side gain rises
    for _ in range(_BISECTIONS):
        gain = (low + high) / 2
        if _correlation(*energies, gain=gain) < correlation:
            high = gain
        else:
            low = gain
    return np.stack([mid + low * side, mid - low * side]).astype(stereo.dtype)


def _correlation(mid: float, side: float, cross: float, gain: float) -> float:
    """L/R correlation of mid +- gain * side from the (centred) energies of mid and side
    and their cross term: L.R = M.M - g^2 S.S, |L|^2 |R|^2 = (M.M + g^2 S.S)^2 - 4 g^2 M.S^2."""
    product = (mid + gain**2 * side) ** 2 - 4 * gain**2 * cross**2
    return (mid - gain**2 * side) / np.sqrt(product) if product > 0 else 1.0


def level_gain_db(stereo: np.ndarray, sample_rate: int, target_lufs: float) -> float:
    """The gain (dB) that brings the stem to ``target_lufs``, within +-MAX_GAIN_DB; 0 for a
    (nearly) silent stem."""
    loudness = loudness_lufs(stereo, sample_rate)
    if not np.isfinite(loudness) or loudness < QUIET_LUFS:
        return 0.0
    return float(np.clip(target_lufs - loudness, -MAX_GAIN_DB, MAX_GAIN_DB))


def finish_stems(stems: dict[str, np.ndarray], sample_rate: int,
                 reference: dict[str, dict[str, float]]) -> dict[str, np.ndarray]:
    """Every stem narrowed and levelled to its family's corpus medians (families the
    reference lacks are left as they are); the stems of each variation ("bass.2" with
    "drums.2") share one cut when their sum would peak over PEAK_CEILING_DB."""
    finished = {}
    for name, audio in stems.items():
        target = reference.get(family_of(name))
        if target is None:
            finished[name] = audio
            continue
        audio = narrow_to(audio, max(target["lr_correlation"], MIN_CORRELATION))
        gain = level_gain_db(audio, sample_rate, target["loudness_lufs"])
        finished[name] = (audio * 10 ** (gain / 20)).astype(audio.dtype)
    for names in _variations(finished):
        mix = sum(finished[name] for name in names)
        peak = float(np.abs(mix).max())
        ceiling = 10 ** (PEAK_CEILING_DB / 20)
        if peak > ceiling:
            for name in names:
                finished[name] = (finished[name] * (ceiling / peak)).astype(
                    finished[name].dtype)
    return finished


def _variations(stems: dict[str, np.ndarray]) -> list[list[str]]:
    """Stem names grouped by variation: "bass.2" and "drums.2" together, "bass" alone."""
    groups: dict[str, list[str]] = {}
    for name in stems:
        groups.setdefault(name.partition(".")[2], []).append(name)
    return list(groups.values())
