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
  MAX_GAIN_DB up or down;
* mastering — then one gain for every stem of a take (a variation: "bass.2" with
  "drums.2") brings their sum to the corpus mixes' median loudness (the reference's "mix"
  row), and one look-ahead limiter curve computed from their sum (the corpus production's
  ``limiter_gain``), applied to every stem alike, keeps the mix and every stem under
  PEAK_CEILING_DBTP (true peak); both are shared, so the mix stays the sum of the stems. The
  corpus's mixes are about as loud with 2 stems as with 6 (the corpus brought each whole
  song to a level), so one target for every take is the corpus's own rule. Generated mixes
  have sharper peaks than the corpus's (peak-to-loudness 16.8 dB against 14.3, median), so
  a gain held back at the ceiling alone left them 2.5 dB short (median of 64 takes). The
  limiter takes about MAX_LIMIT_DB at most off the take's peaks (an isolated click more),
  and the gain stops short of the target where more was needed. A stem made again on a
  kept plan (``keep_plan``) gets the gain and curve its take's other stems got (kept in the
  plan, ``TAKE_GAINS`` and ``TAKE_CURVES``), so it does not jump in level against them (a
  take the plan lacks, asked for anew, is mastered as a new take);
  the engine does not see the kept stems, so the plan also keeps each stem's peak envelope,
  and the new stem alone is fitted under the ceiling against the kept ones' (``kept_mix``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bridge.loudness import PEAK_CEILING_DBTP, integrated_lufs, take_headroom_db, true_peak_dbtp
from bridge.takes import by_take, take_of
from engine.corpus.production import STEM_CEILING, limiter_gain
from engine.generator.kept_mix import fit_curve, peak_envelope, stem_key
from engine.generator.sound import loudness_lufs
from engine.request import KeptPlan

REFERENCE_NAME = "stem_sound.json"
MAX_GAIN_DB = 18.0
MIX_FAMILY = "mix"  # the reference's row for whole mixes: what a take's stems sum to
TAKE_GAINS = "take_gain_db"  # the kept plan's entry: each take's common gain, in take order
TAKE_CURVES = "take_limiter"  # ... and each take's limiter curve, every CURVE_HOP-th sample
CURVE_HOP = 32  # 1 kHz at 32 kHz: the curve ramps over ~30 ms around each peak
# About the most the mastering limiter takes off a peak (more would squash it); its ceiling
# (LIMITER_CEILING_DB) sits half a dB under the true-peak one, so a peak may lose that too.
MAX_LIMIT_DB = 6.0
# The limiter's reach is measured from the take's REACH_SKIP + 1-th loudest REACH_BLOCK_S:
# an isolated click (the codec's first frames often hold one) is limited deeper, not let
# hold the whole take back.
REACH_BLOCK_S, REACH_SKIP = 0.01, 2
# The limiter holds sample peaks here, so true peaks between samples stay near the ceiling.
LIMITER_CEILING_DB = PEAK_CEILING_DBTP - 0.5
_MASTERING_PASSES = 3  # limiting costs loudness: measure and push the gain again
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


@dataclass(frozen=True)
class Mastering:
    """What one take's stems share on top of their family levels: a gain (dB) and a
    limiter curve (<= 1; None: no limiting) with a value every ``hop``-th sample: 1 as
    ``master`` makes it, CURVE_HOP as a plan keeps it."""

    gain_db: float
    curve: np.ndarray | None = None
    hop: int = 1

    def apply(self, audio: np.ndarray) -> np.ndarray:
        """(2, samples) audio with this gain and curve (the curve stretched to its length)."""
        gain = np.float32(10 ** (self.gain_db / 20))
        if self.curve is None:
            return audio if self.gain_db == 0 else (audio * gain).astype(audio.dtype)
        curve = _stretched(self.curve, self.hop, audio.shape[1])
        return (audio * gain * curve).astype(audio.dtype)


@dataclass(frozen=True)
class Finished:
    """Finished stems, the mastering each take's stems share, and the peak envelope of
    every stem of every take by (stem, take): these stems' and the kept ones they join."""

    stems: dict[str, np.ndarray]
    takes: dict[int, Mastering]
    peaks: dict[tuple[str, int], np.ndarray]


def finish_stems(stems: dict[str, np.ndarray], sample_rate: int,
                 reference: dict[str, dict[str, float]],
                 kept: Mapping[int, Mastering] | None = None,
                 kept_peaks: Mapping[tuple[str, int], np.ndarray] | None = None) -> Finished:
    """Every stem imaged and levelled to its family's corpus medians (families the
    reference lacks keep their image and level), then every take mastered (``master``) to
    the corpus's mix loudness. ``kept`` (stems made again on a kept plan: ``kept_takes``)
    gives each take the mastering its other stems got instead (``_kept_mastering``), held
    back only as far as these stems' own peaks need, and ``kept_peaks`` (the plan's
    ``kept_mix.kept_peaks``) fits them under the ceiling beside the take's kept stems."""
    levelled = {name: _levelled(audio, sample_rate, reference.get(family_of(name)))
                for name, audio in stems.items()}
    mix_target = reference.get(MIX_FAMILY, {}).get("loudness_lufs")
    finished: dict[str, np.ndarray] = {}
    takes: dict[int, Mastering] = {}
    peaks = dict(kept_peaks or {})
    for take, names in by_take(list(levelled)).items():
        group = [levelled[name] for name in names]
        ours = _kept_mastering(kept, take)
        if ours is None:
            takes[take] = master(group, sample_rate, mix_target)
            applied = takes[take]
        else:  # the take's other stems' mastering, kept as it was for the next time
            takes[take] = ours
            applied = _held_back(ours, group)
        done = [applied.apply(audio) for audio in group]
        made = {stem_key(name)[0] for name in names}
        beside = [envelope for (stem, number), envelope in peaks.items()
                  if number == take and stem not in made]
        # The limiter's sample ceiling: at 32 kHz a higher one (-1.25 dB) let 2 of the first
        # 3 end-to-end regenerated takes' true peaks over PEAK_CEILING_DBTP, this one none.
        curve = fit_curve(done, beside, 10 ** (LIMITER_CEILING_DB / 20), sample_rate)
        for name, audio in zip(names, done, strict=True):
            finished[name] = audio if curve is None else (audio * curve).astype(audio.dtype)
            peaks[stem_key(name)] = peak_envelope(finished[name])
    return Finished(finished, takes, peaks)


def _kept_mastering(kept: Mapping[int, Mastering] | None, take: int) -> Mastering | None:
    """The mastering ``take``'s stems made again share with its kept stems: the plan's; no
    gain for any take of a plan made before plans kept one ({}: its stems were not
    mastered); None for a new take (no plan, or one with fewer takes): mastered anew."""
    if kept is None or (kept and take not in kept):
        return None
    return kept.get(take, Mastering(0.0))


def master(stems: list[np.ndarray], sample_rate: int, target_lufs: float | None) -> Mastering:
    """The gain and limiter curve, shared by all of a take's stems, that bring their sum to
    ``target_lufs`` (None: no gain) with no true peak of the mix or a stem over
    PEAK_CEILING_DBTP; the limiter takes at most MAX_LIMIT_DB off a peak."""
    mix = np.sum(stems, axis=0)
    wanted = 0.0 if target_lufs is None else level_gain_db(mix, sample_rate, target_lufs)
    headroom = take_headroom_db(stems)
    highest = max(headroom, _reach_headroom_db(stems, sample_rate)) + MAX_LIMIT_DB
    gain = min(wanted, highest)
    if gain <= headroom:  # no peak to limit
        return Mastering(gain)
    ceiling = 10 ** (LIMITER_CEILING_DB / 20)
    # limiter_gain holds stems to STEM_CEILING: scaled so, they are held to ``ceiling`` too.
    to_stem_ceiling = STEM_CEILING / ceiling
    for attempt in range(_MASTERING_PASSES):
        scale = np.float32(10 ** (gain / 20))
        curve = limiter_gain(mix * scale, ceiling, sample_rate,
                             np.stack(stems) * (scale * to_stem_ceiling))
        if target_lufs is None or attempt == _MASTERING_PASSES - 1:
            break
        missing = target_lufs - loudness_lufs(mix * scale * curve, sample_rate)
        if abs(missing) < 0.1 or gain >= highest:
            break
        gain = min(gain + missing, highest)
    return _held_back(Mastering(gain, curve), stems)


def _reach_headroom_db(stems: list[np.ndarray], sample_rate: int) -> float:
    """How far (dB) the take may rise before the sample peaks of its REACH_SKIP + 1-th
    loudest REACH_BLOCK_S (of the mix or a stem) reach PEAK_CEILING_DBTP (inf for silence)."""
    envelope = np.max([np.abs(audio).max(axis=0) for audio in (np.sum(stems, axis=0), *stems)],
                      axis=0)
    block = max(1, round(REACH_BLOCK_S * sample_rate))
    padded = np.pad(envelope, (0, -len(envelope) % block))
    peaks = np.sort(padded.reshape(-1, block).max(axis=1))[::-1]
    peak = float(peaks[min(REACH_SKIP, len(peaks) - 1)])
    return PEAK_CEILING_DBTP - 20 * np.log10(peak) if peak > 0 else float("inf")


def _held_back(mastering: Mastering, stems: list[np.ndarray]) -> Mastering:
    """``mastering`` with its gain lowered as far as the true peaks of the stems, and of
    their sum, mastered need to stay under PEAK_CEILING_DBTP."""
    done = [mastering.apply(audio) for audio in stems]
    over = max(true_peak_dbtp(audio) for audio in (np.sum(done, axis=0), *done))
    if over <= PEAK_CEILING_DBTP:
        return mastering
    return replace(mastering, gain_db=mastering.gain_db - (over - PEAK_CEILING_DBTP))


def _stretched(curve: np.ndarray, hop: int, samples: int) -> np.ndarray:
    """A limiter curve with a value every ``hop``-th sample over ``samples`` samples."""
    if hop == 1:
        return curve
    at = np.arange(samples) / hop
    return np.interp(at, np.arange(len(curve)), curve).astype(np.float32)


def _levelled(audio: np.ndarray, sample_rate: int, target: dict[str, float] | None
              ) -> np.ndarray:
    """One stem imaged and levelled to its family's ``target`` medians (None: as it is)."""
    if target is None:
        return audio
    audio = image_to(audio, max(target["lr_correlation"], MIN_CORRELATION))
    gain = level_gain_db(audio, sample_rate, target["loudness_lufs"])
    return (audio * 10 ** (gain / 20)).astype(audio.dtype)


def kept_takes(plan: KeptPlan | None) -> dict[int, Mastering] | None:
    """The mastering of each take of a kept plan (take -> Mastering; {} for a plan made
    before takes kept one), or None without a plan (the takes are new)."""
    if plan is None:
        return None
    gains = plan.get(TAKE_GAINS, np.zeros(0))
    curves = plan.get(TAKE_CURVES)
    return {take: Mastering(float(gain), None if curves is None or not curves.shape[1]
                            else curves[take - 1], CURVE_HOP)
            for take, gain in enumerate(gains, 1)}


def plan_entries(takes: Mapping[int, Mastering]) -> KeptPlan:
    """A kept plan's entries for the mastering of takes 1, 2, ... (``kept_takes`` reads them
    back): gains, and curves every CURVE_HOP-th sample (a take without one keeps ones: no
    limiting). A curve read from a plan is kept as it is: thinned again, it would shrink
    by CURVE_HOP with every stem made again."""
    order = sorted(takes)
    curves = [np.zeros(0) if (curve := takes[t].curve) is None
              else curve[:: CURVE_HOP // takes[t].hop] for t in order]
    width = max((len(c) for c in curves), default=0)
    table = np.ones((len(order), width), dtype=np.float32)
    for row, curve in enumerate(curves):
        table[row, : len(curve)] = curve
    return {TAKE_GAINS: np.array([takes[t].gain_db for t in order], dtype=np.float64),
            TAKE_CURVES: table}


class PreviewFinisher:
    """``finish_stems``'s rule applied to a preview made chunk by chunk, as far as the audio
    so far tells, so the preview plays at about the level of what lands. Each stem's side
    gain is measured on its first chunk with at least PREVIEW_MIN_SECONDS of audible sound
    and then kept; its level gain is set there too and then follows the loudness of all its
    audio so far (``RunningLevel``); a stem silent so far plays as decoded (silent). The
    levelled mix's common gain follows the mix's loudness so far the same way (or is the
    kept take's gain, ``kept`` and ``_kept_mastering`` as in ``finish_stems``). Each chunk's
    mix is limited on its own, taking at most MAX_LIMIT_DB off a peak; beyond that a cut
    only ever deepens, from the chunk that needs it on (audio already sent is not taken
    back)."""

    def __init__(self, names: list[str], sample_rate: int,
                 reference: dict[str, dict[str, float]],
                 kept: Mapping[int, Mastering] | None = None) -> None:
        self.sample_rate = sample_rate
        self.targets = [reference.get(family_of(name)) for name in names]
        self.levels = [None if target is None else RunningLevel(target["loudness_lufs"])
                       for target in self.targets]
        self.sides: list[float | None] = [None] * len(names)  # side gain, once measured
        # A kept take's stems get its gain, fixed; new takes' gain follows the mix.
        take = take_of(names[0]) if names else 1
        ours = _kept_mastering(kept, take)
        self.kept_gain = None if ours is None else ours.gain_db
        mix_target = reference.get(MIX_FAMILY, {}).get("loudness_lufs")
        self.mix_level = (None if mix_target is None or self.kept_gain is not None
                          else RunningLevel(mix_target))
        self.cut = 1.0  # the mix's peak cut beyond what the limiter takes, so far (linear)

    @property
    def settings(self) -> list[tuple[float | None, float] | None]:
        """Per stem: (side gain or None, level gain in dB) once measured, else None."""
        return [None if level is None or level.gain_db is None else (side, level.gain_db)
                for side, level in zip(self.sides, self.levels, strict=True)]

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """The finished mix (2, samples) of the next chunk of every stem (rows, 2, samples)."""
        finished = []
        for row, (audio, target) in enumerate(zip(rows, self.targets, strict=True)):
            level = self.levels[row]
            if target is None or level is None:
                finished.append(audio)
                continue
            # Too short a chunk to tell, before anything was measured: wait for a longer one.
            ready = (level.gain_db is not None
                     or audio.shape[1] >= PREVIEW_MIN_SECONDS * self.sample_rate)
            if ready and level.gain_db is None:  # the side gain: measured until it is heard
                self.sides[row] = side_gain(audio, max(target["lr_correlation"],
                                                       MIN_CORRELATION))
            side = self.sides[row]
            audio = audio if side is None else with_side_gain(audio, side)
            if ready:
                level.update(audio, self.sample_rate)
            gain = level.gain_db
            finished.append(audio if gain is None else audio * 10 ** (gain / 20))
        mix = np.sum(finished, axis=0)
        common = self.kept_gain
        if self.mix_level is not None:
            self.mix_level.update(mix, self.sample_rate)
            common = self.mix_level.gain_db
        if common is not None:
            mix = mix * 10 ** (common / 20)
        peak = float(np.abs(mix).max()) if mix.size else 0.0
        reach = 10 ** ((LIMITER_CEILING_DB + MAX_LIMIT_DB) / 20)  # the limiter's reach
        if peak * self.cut > reach:
            self.cut = reach / peak
        mix = mix * self.cut
        if mix.size:
            mix = mix * limiter_gain(mix, 10 ** (LIMITER_CEILING_DB / 20), self.sample_rate)
        return mix.astype(np.float32)


class RunningLevel:
    """A gain (dB) toward a target loudness that follows the loudness of all the audio so
    far (chunks' powers averaged by duration, silent chunks left out): set on the first
    audible chunk, then moving at most PREVIEW_STEP_DB a chunk so the level never jumps."""

    def __init__(self, target_lufs: float) -> None:
        self.target_lufs = target_lufs
        self.gain_db: float | None = None  # None until something audible was heard
        self._power = 0.0  # sum of audible chunks' power x seconds
        self._seconds = 0.0

    def update(self, audio: np.ndarray, sample_rate: int) -> None:
        """Fold a (2, samples) chunk into the loudness so far and move the gain toward it."""
        loudness = short_loudness_lufs(audio, sample_rate)
        if not np.isfinite(loudness) or loudness < QUIET_LUFS:
            return  # silent (so far): nothing to level by
        seconds = audio.shape[1] / sample_rate
        self._power += 10 ** ((loudness + 0.691) / 10) * seconds
        self._seconds += seconds
        so_far = -0.691 + 10 * np.log10(self._power / self._seconds)
        wanted = float(np.clip(self.target_lufs - so_far, -MAX_GAIN_DB, MAX_GAIN_DB))
        if self.gain_db is not None:
            wanted = float(np.clip(wanted, self.gain_db - PREVIEW_STEP_DB,
                                   self.gain_db + PREVIEW_STEP_DB))
        self.gain_db = wanted


def short_loudness_lufs(stereo: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of (2, samples) audio that may be shorter than the
    standard 0.4 s gating block (then one block as long as the audio); -inf for silence."""
    seconds = stereo.shape[1] / sample_rate
    if seconds <= 0:
        return float("-inf")
    return integrated_lufs(stereo, sample_rate, block_s=min(0.4, seconds))
