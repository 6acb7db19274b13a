"""The v2 production chain: per stem EQ, compression, saturation, placement and a room; then
mastering to a loudness a producer expects, done so the mix stays the sum of the stems.

Per stem (pedalboard): loudness-normalise the dry render, high-pass, shelves and a presence
peak, compress, saturate (tanh), loudness-normalise again (make-up), pan/width/level
(render.place), then a send into the song's room (a simulated Freeverb room, or the guitarix
great hall IR where it is present). Every stem goes through the same room, so the reverb
is the one a shared bus would give: a room is linear.

Mastering never processes the mix itself: a glue compressor and a limiter compute one gain
curve from the mix and apply it to every stem, and the loudness gain is one number, so the
processed stems still sum to the processed mix (render.balance then snaps both to the PCM
grid exactly).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from engine.corpus.measures import loudness
from engine.corpus.render import place

STEM_LUFS = -20.0  # every stem's loudness before its mix level
CEILING = 0.88  # limiter ceiling, about -1.1 dBFS sample peak (render.balance keeps it)
STEM_CEILING = 0.98  # no single stem may pass this either, or its PCM file would clip
LIMITER_WINDOW_S = 0.015  # look-ahead and release of the limiter's gain curve
GLUE_HOP_S = 0.001  # the glue compressor's gain is computed at 1 kHz


@dataclass(frozen=True)
class Style:
    """Seeded ranges of one production style (each genre has one)."""

    room: tuple[float, float]  # Freeverb room size
    send_db: tuple[float, float]  # added to every family's send level
    drive_db: tuple[float, float]  # saturation drive
    ratio: tuple[float, float]  # stem compressor ratio
    lowpass_hz: tuple[float, float] | None  # a darker top end (lo-fi), or none
    lufs: tuple[float, float]  # integrated loudness of the master
    hall: float  # chance of the great hall IR (when present) instead of a simulated room


STYLES: dict[str, Style] = {
    "lofi": Style((0.2, 0.45), (-4.0, 0.0), (6.0, 14.0), (2.0, 4.0), (4500.0, 9000.0),
                  (-14.0, -11.5), 0.0),
    "hiphop": Style((0.1, 0.35), (-8.0, -3.0), (3.0, 9.0), (3.0, 5.0), None, (-12.0, -10.0), 0.0),
    "electronic": Style((0.15, 0.45), (-8.0, -2.0), (0.0, 6.0), (3.0, 6.0), None,
                        (-11.5, -10.0), 0.0),
    "synth": Style((0.4, 0.75), (-4.0, 1.0), (0.0, 5.0), (2.0, 4.0), None, (-12.0, -10.0), 0.0),
    "band": Style((0.2, 0.5), (-6.0, -1.0), (2.0, 8.0), (2.5, 5.0), None, (-12.5, -10.0), 0.0),
    "rock": Style((0.25, 0.55), (-6.0, -1.0), (4.0, 12.0), (3.0, 6.0), None, (-11.5, -10.0), 0.0),
    "acoustic": Style((0.35, 0.7), (-3.0, 2.0), (0.0, 3.0), (1.5, 3.0), None, (-14.0, -12.0),
                      0.2),
    "ballad": Style((0.45, 0.8), (-2.0, 3.0), (0.0, 4.0), (2.0, 4.0), None, (-13.5, -11.0), 0.25),
    "cinematic": Style((0.7, 0.95), (0.0, 5.0), (0.0, 2.0), (1.5, 3.0), None, (-14.0, -12.5),
                       0.4),
}
GENRE_STYLE = {
    "lo-fi hip hop": "lofi", "boom bap": "hiphop", "trap": "electronic", "house": "electronic",
    "techno": "electronic", "drum and bass": "electronic", "synthwave": "synth", "funk": "band",
    "disco": "band", "reggae": "band", "rock": "rock", "metal": "rock", "pop ballad": "ballad",
    "r&b": "ballad", "jazz": "acoustic", "bossa nova": "acoustic", "ambient": "cinematic",
    "cinematic": "cinematic",
}


@dataclass(frozen=True)
class Family:
    """Per-family ranges: high-pass, low shelf (at 100 Hz), presence peak, high shelf (at
    8 kHz), compressor threshold below the stem's loudness, send level, drive scale and the
    widener's side level (a delayed copy of the mid, as double-tracking gives)."""

    highpass: tuple[float, float]
    low_db: tuple[float, float]
    presence_hz: tuple[float, float]
    presence_db: tuple[float, float]
    high_db: tuple[float, float]
    threshold_db: tuple[float, float]
    send_db: float
    drive: float
    widen: tuple[float, float]


FAMILIES: dict[str, Family] = {
    "drums": Family((25, 40), (0, 3), (3500, 6000), (1, 4), (0, 2), (-8, -2), -16.0, 1.0,
                    (0.1, 0.35)),
    "bass": Family((25, 35), (0, 2), (700, 1500), (-1, 2), (-4, 0), (-10, -4), -30.0, 1.2,
                   (0.0, 0.0)),
    "keys": Family((60, 120), (-2, 1), (2000, 4000), (0, 2), (-1, 2), (-6, 0), -12.0, 0.6,
                   (0.3, 0.6)),
    "guitar": Family((80, 140), (-3, 0), (2000, 4000), (0, 3), (-2, 1), (-6, 0), -12.0, 1.0,
                     (0.4, 0.8)),
    "strings": Family((60, 100), (-2, 1), (2000, 5000), (0, 2), (-1, 2), (-4, 2), -8.0, 0.3,
                      (0.3, 0.6)),
    "pad": Family((100, 200), (-4, -1), (1500, 3000), (-1, 1), (-3, 0), (-4, 2), -6.0, 0.3,
                  (0.4, 0.8)),
    "lead": Family((120, 200), (-3, 0), (2500, 4000), (1, 4), (0, 2), (-8, -2), -10.0, 0.6,
                   (0.05, 0.3)),
}


@dataclass(frozen=True)
class StemChain:
    """The drawn settings of one stem's chain."""

    family: str
    highpass_hz: float
    low_db: float
    presence_hz: float
    presence_db: float
    high_db: float
    lowpass_hz: float | None
    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    drive_db: float
    saturation_mix: float
    widen: float
    widen_ms: float
    pan: float
    width: float
    level_db: float
    send_db: float


@dataclass(frozen=True)
class Room:
    """The song's room: Freeverb settings and pre-delay, or the great hall IR."""

    size: float
    damping: float
    width: float
    predelay_ms: float
    hall_ir: bool


@dataclass(frozen=True)
class Bus:
    """Mastering: glue compression (threshold above the mix's RMS level) and loudness."""

    glue_threshold_db: float
    glue_ratio: float
    attack_ms: float
    release_ms: float
    target_lufs: float


@dataclass(frozen=True)
class Production:
    """Everything drawn for one song's production."""

    style: str
    room: Room
    stems: tuple[StemChain, ...]
    bus: Bus

    def to_meta(self) -> dict:
        """JSON-ready settings for the example's metadata."""
        return _rounded(asdict(self))


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _u(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def draw_production(genre: str, placements: list[tuple[str, float, float, float]],
                    rng: np.random.Generator, hall_available: bool) -> Production:
    """Draw a song's production from its genre's style; `placements` holds (family, pan,
    width, level_db) per stem, as the composer placed them."""
    style_name = GENRE_STYLE.get(genre, "band")
    style = STYLES[style_name]
    room = Room(size=_u(rng, style.room), damping=_u(rng, (0.3, 0.7)),
                width=_u(rng, (0.9, 1.0)), predelay_ms=_u(rng, (5.0, 30.0)),
                hall_ir=hall_available and rng.random() < style.hall)
    send_offset = _u(rng, style.send_db)
    drive = _u(rng, style.drive_db)
    stems = []
    for family, pan, width, level_db in placements:
        f = FAMILIES[family]
        stems.append(StemChain(
            family=family, highpass_hz=_u(rng, f.highpass), low_db=_u(rng, f.low_db),
            presence_hz=_u(rng, f.presence_hz), presence_db=_u(rng, f.presence_db),
            high_db=_u(rng, f.high_db),
            lowpass_hz=_u(rng, style.lowpass_hz) if style.lowpass_hz else None,
            threshold_db=_u(rng, f.threshold_db), ratio=_u(rng, style.ratio),
            attack_ms=_u(rng, (3.0, 30.0)), release_ms=_u(rng, (60.0, 250.0)),
            drive_db=drive * f.drive * _u(rng, (0.6, 1.2)),
            saturation_mix=_u(rng, (0.3, 0.8)), widen=_u(rng, f.widen),
            widen_ms=_u(rng, (8.0, 25.0)), pan=pan, width=width, level_db=level_db,
            send_db=f.send_db + send_offset + _u(rng, (-3.0, 3.0))))
    bus = Bus(glue_threshold_db=_u(rng, (0.0, 6.0)), glue_ratio=_u(rng, (1.5, 3.0)),
              attack_ms=_u(rng, (10.0, 30.0)), release_ms=_u(rng, (100.0, 300.0)),
              target_lufs=_u(rng, style.lufs))
    return Production(style_name, room, tuple(stems), bus)


def _to_lufs(audio: np.ndarray, target: float, sample_rate: int) -> np.ndarray:
    level = loudness(audio, sample_rate)
    if not np.isfinite(level):
        return audio
    return audio * np.float32(10.0 ** ((target - level) / 20.0))


def _saturate(audio: np.ndarray, drive_db: float, mix: float) -> np.ndarray:
    """Parallel tanh saturation, level-matched for small signals."""
    if drive_db <= 0.0:
        return audio
    k = np.float32(10.0 ** (drive_db / 20.0))
    return (1.0 - mix) * audio + mix * np.tanh(k * audio) / k


def _widen(audio: np.ndarray, amount: float, delay: int) -> np.ndarray:
    """Add a delayed copy of the mid as side signal: wider, and the mono sum is unchanged."""
    if amount <= 0.0:
        return audio
    mid = 0.5 * (audio[0] + audio[1])
    side = np.zeros_like(mid)
    side[delay:] = amount * mid[:mid.size - delay]
    return np.stack([audio[0] + side, audio[1] - side]).astype(np.float32)


def _room(audio: np.ndarray, room: Room, sample_rate: int, hall_ir: str | None) -> np.ndarray:
    import pedalboard

    if room.hall_ir and hall_ir:
        effect = pedalboard.Convolution(hall_ir, mix=1.0)
    else:
        effect = pedalboard.Reverb(room_size=room.size, damping=room.damping, wet_level=1.0,
                                   dry_level=0.0, width=room.width)
    delay = round(room.predelay_ms * 1e-3 * sample_rate)
    shifted = np.zeros_like(audio)
    shifted[:, delay:] = audio[:, :audio.shape[1] - delay]
    return effect(shifted, sample_rate).astype(np.float32)


def process_stem(audio: np.ndarray, chain: StemChain, room: Room, sample_rate: int,
                 hall_ir: str | None = None) -> np.ndarray:
    """One stem through its chain: float32 (2, frames) in, float32 (2, frames) out."""
    import pedalboard

    if not np.any(audio):
        return audio
    audio = _to_lufs(audio, STEM_LUFS, sample_rate)
    effects = [
        pedalboard.HighpassFilter(chain.highpass_hz),
        pedalboard.LowShelfFilter(cutoff_frequency_hz=100.0, gain_db=chain.low_db),
        pedalboard.PeakFilter(cutoff_frequency_hz=chain.presence_hz, gain_db=chain.presence_db,
                              q=1.0),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=8000.0, gain_db=chain.high_db),
        pedalboard.Compressor(threshold_db=STEM_LUFS + chain.threshold_db, ratio=chain.ratio,
                              attack_ms=chain.attack_ms, release_ms=chain.release_ms),
    ]
    if chain.lowpass_hz:
        effects.insert(1, pedalboard.LowpassFilter(chain.lowpass_hz))
    audio = pedalboard.Pedalboard(effects)(audio, sample_rate).astype(np.float32)
    audio = _saturate(audio, chain.drive_db, chain.saturation_mix)
    audio = _to_lufs(audio, STEM_LUFS, sample_rate)  # make-up gain
    placed = _widen(place(audio, chain.pan, chain.width, chain.level_db), chain.widen,
                    round(chain.widen_ms * 1e-3 * sample_rate))
    wet = _room(placed, room, sample_rate, hall_ir) * np.float32(10.0 ** (chain.send_db / 20.0))
    return (placed + wet).astype(np.float32)


def glue_gain(mix: np.ndarray, bus: Bus, sample_rate: int) -> np.ndarray:
    """The bus compressor's gain per frame (linear, <= 1), computed from the mix."""
    hop = max(1, round(GLUE_HOP_S * sample_rate))
    frames = mix.shape[1]
    blocks = -(-frames // hop)
    power = np.zeros(blocks * hop)
    power[:frames] = np.mean(np.square(mix, dtype=np.float64), axis=0)
    level = 10.0 * np.log10(np.maximum(uniform_filter1d(power.reshape(blocks, hop).mean(axis=1),
                                                        10, mode="nearest"), 1e-12))
    rms_db = 10.0 * np.log10(max(float(np.mean(power[:frames])), 1e-12))
    over = level - (rms_db + bus.glue_threshold_db)
    target = -np.maximum(over, 0.0) * (1.0 - 1.0 / bus.glue_ratio)
    attack = np.exp(-1.0 / (bus.attack_ms * 1e-3 / GLUE_HOP_S))
    release = np.exp(-1.0 / (bus.release_ms * 1e-3 / GLUE_HOP_S))
    smooth = np.empty_like(target)
    state = 0.0
    for i, value in enumerate(target):  # attack/release ballistics: 1 step per millisecond
        coef = attack if value < state else release
        state = coef * state + (1.0 - coef) * value
        smooth[i] = state
    at = (np.arange(frames) + 0.5) / hop - 0.5
    curve = np.interp(at, np.arange(blocks), smooth)
    return (10.0 ** (curve / 20.0)).astype(np.float32)


def limiter_gain(mix: np.ndarray, ceiling: float, sample_rate: int,
                 stems: np.ndarray | None = None) -> np.ndarray:
    """A look-ahead limiter's gain per frame (<= 1): |gain * mix| <= ceiling everywhere, and
    |gain * stem| <= STEM_CEILING for every one of `stems` when they are given.

    A centred minimum over 2W+1 frames, then a centred mean over 2W+1 frames: every value
    averaged at frame n is a minimum over a window holding n, so the mean never exceeds the
    gain frame n needs, and the curve ramps smoothly around each peak (``smoothed_gain``).
    """
    peak = np.abs(mix).max(axis=0).astype(np.float64) / ceiling
    if stems is not None:  # a stem can peak above the mix where others cancel it
        peak = np.maximum(peak, np.abs(stems).max(axis=(0, 1)) / STEM_CEILING)
    return smoothed_gain(np.minimum(1.0, 1.0 / np.maximum(peak, 1e-12)), sample_rate)


def smoothed_gain(need: np.ndarray, sample_rate: int) -> np.ndarray:
    """A gain curve that ramps smoothly (over LIMITER_WINDOW_S) and is nowhere above
    ``need``, the gain each frame may have at most (``limiter_gain``'s shaping)."""
    size = 2 * max(1, round(LIMITER_WINDOW_S * sample_rate)) + 1
    gain = uniform_filter1d(minimum_filter1d(need, size, mode="nearest"), size, mode="nearest")
    return np.minimum(gain, need).astype(np.float32)  # clears float rounding in the mean


def master(stems: np.ndarray, bus: Bus, sample_rate: int,
           ceiling: float = CEILING) -> tuple[np.ndarray, dict]:
    """Glue, loudness and limiting applied as shared gains to every stem; returns the stems
    (their sum is the master) and what was measured."""
    stems = stems * glue_gain(stems.sum(axis=0), bus, sample_rate)
    before = loudness(stems.sum(axis=0), sample_rate)
    if not np.isfinite(before):
        return stems, {"lufs": None, "peak_db": None, "limiter_db": 0.0}
    gain_db = bus.target_lufs - before
    for _ in range(3):  # limiting costs loudness: measure and push again
        scaled = stems * np.float32(10.0 ** (gain_db / 20.0))
        curve = limiter_gain(scaled.sum(axis=0), ceiling, sample_rate, scaled)
        out = scaled * curve
        reached = loudness(out.sum(axis=0), sample_rate)
        if abs(reached - bus.target_lufs) < 0.1:
            break
        gain_db += bus.target_lufs - reached
    mix = out.sum(axis=0)
    return out.astype(np.float32), {
        "lufs": round(reached, 2),
        "peak_db": round(20.0 * float(np.log10(max(float(np.abs(mix).max()), 1e-12))), 2),
        "limiter_db": round(20.0 * float(np.log10(max(float(curve.min()), 1e-12))), 2),
    }
