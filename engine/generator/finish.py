"""Stems finished to the stereo image and level of the stems the model learned from.

The coarse stage's left and right token streams do not hold the image the corpus has (drawn
independently they wander apart: a bass the corpus holds dead centre came out at an L/R
correlation near 0.4; drawn coupled, ``SamplingOptions.coupled_channels``, every family
comes out near 0.78, wide keys and strings too), and the codec decodes quieter than it
encodes. Both are put right here, per stem, with a rule read off the corpus
(``stem_sound.json`` beside the generator's weights, written by ``stemloom eval sound
--write``):

* width — the side signal (L - R) / 2 is scaled until the stem's L/R correlation reaches its
  family's corpus median (but at least MIN_CORRELATION: the corpus's pads are widened out
  of phase, median -0.61, which a producer would lose on a mono system): narrowed as far as
  needed, widened by at most MAX_SIDE_GAIN;
* level — each stem is brought to its family's median integrated loudness, at most
  MAX_GAIN_DB up or down, and a variation's stems share one cut if their sum would peak over
  PEAK_CEILING_DB, so the mix stays the sum of the stems.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bridge.loudness import integrated_lufs
from bridge.takes import by_take
from engine.generator.sound import loudness_lufs

REFERENCE_NAME = "stem_sound.json"
MAX_GAIN_DB = 18.0
PEAK_CEILING_DB = -1.0
MIN_CORRELATION = 0.0  # finishing never aims a stem out of phase
# Coupled sampling draws a stem's channels alike; finishing may widen what is left of its
# side by up to 6 dB toward its family's image, never more (louder side, louder artefacts).
MAX_SIDE_GAIN = 2.0
CORRELATION_TOLERANCE = 0.01
SIDE_FLOOR = 1e-6  # side energy below this share of the mid's: a mono stem, left mono
QUIET_LUFS = -60.0  # below this a stem is (nearly) silent: left as it is, not amplified
_BISECTIONS = 30
PREVIEW_MIN_SECONDS = 0.2  # audio a stem's preview needs before its gains are set
PREVIEW_STEP_DB = 1.0  # the most a stem's preview gain moves from one chunk to the next
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


def image_to(stereo: np.ndarray, correlation: float) -> np.ndarray:
    """(2, samples) audio with its side signal scaled (down, or up by at most
    MAX_SIDE_GAIN) until its L/R correlation is ``correlation``, or as near as that allows."""
    gain = side_gain(stereo, correlation)
    return stereo if gain is None else with_side_gain(stereo, gain)


def side_gain(stereo: np.ndarray, correlation: float) -> float | None:
    """The gain on the side signal, within [0, MAX_SIDE_GAIN], that brings the L/R
    correlation of (2, samples) audio to ``correlation`` (the range's end where it cannot);
    None when the audio is there already or has (almost) no side signal to widen."""
    mid, side = (stereo[0] + stereo[1]) / 2, (stereo[0] - stereo[1]) / 2
    centred_mid, centred_side = mid - mid.mean(), side - side.mean()
    energies = (float((centred_mid**2).sum()), float((centred_side**2).sum()),
                float((centred_mid * centred_side).sum()))
    now = _correlation(*energies, gain=1.0)
    if abs(now - correlation) < CORRELATION_TOLERANCE:
        return None
    if now < correlation:
        low, high = 0.0, 1.0  # narrow: the correlation falls as the side gain rises
    elif energies[1] <= SIDE_FLOOR * energies[0]:
        return None  # a mono stem has no side to widen
    elif _correlation(*energies, gain=MAX_SIDE_GAIN) > correlation:
        return MAX_SIDE_GAIN
    else:
        low, high = 1.0, MAX_SIDE_GAIN
    for _ in range(_BISECTIONS):
        gain = (low + high) / 2
        if _correlation(*energies, gain=gain) < correlation:
            high = gain
        else:
            low = gain
    return low


def with_side_gain(stereo: np.ndarray, gain: float) -> np.ndarray:
    """(2, samples) audio with its side signal (L - R) / 2 scaled by ``gain``."""
    mid, side = (stereo[0] + stereo[1]) / 2, (stereo[0] - stereo[1]) / 2
    return np.stack([mid + gain * side, mid - gain * side]).astype(stereo.dtype)


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
    """Every stem imaged and levelled to its family's corpus medians (families the
    reference lacks are left as they are); the stems of each variation ("bass.2" with
    "drums.2") share one cut when their sum would peak over PEAK_CEILING_DB."""
    finished = {}
    for name, audio in stems.items():
        target = reference.get(family_of(name))
        if target is None:
            finished[name] = audio
            continue
        audio = image_to(audio, max(target["lr_correlation"], MIN_CORRELATION))
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
    return list(by_take(list(stems)).values())


class PreviewFinisher:
    """``finish_stems``'s rule applied to a preview made chunk by chunk, as far as the audio
    so far tells, so the preview plays at about the level of what lands. Each stem's side
    gain is measured on its first chunk with at least PREVIEW_MIN_SECONDS of audible sound
    and then kept; its level gain is set there too and then follows the loudness of all its
    audio so far (chunks' powers averaged by duration, silent chunks left out), moving at
    most PREVIEW_STEP_DB a chunk so the level never jumps; a stem silent so far plays as
    decoded (silent). The mix's peak cut to PEAK_CEILING_DB only ever deepens, from the
    chunk that needs it on (audio already sent is not taken back)."""

    def __init__(self, names: list[str], sample_rate: int,
                 reference: dict[str, dict[str, float]]) -> None:
        self.sample_rate = sample_rate
        self.targets = [reference.get(family_of(name)) for name in names]
        # Per stem: (side gain or None, level gain in dB), once measured.
        self.settings: list[tuple[float | None, float] | None] = [None] * len(names)
        self._power = [0.0] * len(names)  # sum of audible chunks' power x seconds
        self._seconds = [0.0] * len(names)
        self.cut = 1.0  # the mix's peak cut so far (linear)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """The finished mix (2, samples) of the next chunk of every stem (rows, 2, samples)."""
        finished = []
        for row, (audio, target) in enumerate(zip(rows, self.targets, strict=True)):
            if target is not None:
                self._update(row, audio, target)
            setting = self.settings[row]
            if setting is not None:
                side, gain = setting
                audio = audio if side is None else with_side_gain(audio, side)
                audio = audio * 10 ** (gain / 20)
            finished.append(audio)
        mix = np.sum(finished, axis=0)
        peak = float(np.abs(mix).max()) if mix.size else 0.0
        ceiling = 10 ** (PEAK_CEILING_DB / 20)
        if peak * self.cut > ceiling:
            self.cut = ceiling / peak
        return (mix * self.cut).astype(np.float32)

    def _update(self, row: int, audio: np.ndarray, target: dict[str, float]) -> None:
        """Fold a stem's chunk into its loudness so far and move its gains toward it."""
        seconds = audio.shape[1] / self.sample_rate
        if seconds < PREVIEW_MIN_SECONDS and self.settings[row] is None:
            return  # too short to tell: wait for a longer chunk
        setting = self.settings[row]
        side = (side_gain(audio, max(target["lr_correlation"], MIN_CORRELATION))
                if setting is None else setting[0])
        narrowed = audio if side is None else with_side_gain(audio, side)
        loudness = short_loudness_lufs(narrowed, self.sample_rate)
        if not np.isfinite(loudness) or loudness < QUIET_LUFS:
            return  # silent (so far): nothing to level by
        self._power[row] += 10 ** ((loudness + 0.691) / 10) * seconds
        self._seconds[row] += seconds
        so_far = -0.691 + 10 * np.log10(self._power[row] / self._seconds[row])
        wanted = float(np.clip(target["loudness_lufs"] - so_far, -MAX_GAIN_DB, MAX_GAIN_DB))
        if setting is not None:
            wanted = float(np.clip(wanted, setting[1] - PREVIEW_STEP_DB,
                                   setting[1] + PREVIEW_STEP_DB))
        self.settings[row] = (side, wanted)


def short_loudness_lufs(stereo: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of (2, samples) audio that may be shorter than the
    standard 0.4 s gating block (then one block as long as the audio); -inf for silence."""
    seconds = stereo.shape[1] / sample_rate
    if seconds <= 0:
        return float("-inf")
    return integrated_lufs(stereo, sample_rate, block_s=min(0.4, seconds))
