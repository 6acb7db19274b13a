"""Notes out of a sung pitch contour: voicing, splitting, one pitch per note, tuning.

A frame is voiced when it is loud enough and the pitch tracker is confident. A voiced run is
split where the level dips (a re-articulated note) and where the pitch moves to a new level
and holds there (legato); vibrato, scoops into a note and slow drift move the pitch too, but
not far enough for long enough. A note's pitch is the median of its contour after the scoop,
taken relative to the take's own tuning, since nobody hums at A = 440 Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.melody.tokens import MelodyNote

VOICED_PERIODICITY = 0.4  # tracker confidence above which a loud frame is sung
LOWEST = 33  # MIDI pitch (A1, 55 Hz): lower is rumble or 50 Hz mains hum, not a voice
BRIDGE = 0.03  # seconds: shorter unvoiced gaps inside a note are a glitch, not a rest
MIN_NOTE = 0.04  # seconds: anything shorter is a blip
DIP_DB = 6.0  # a level dip this deep under the peaks on both sides re-articulates a note...
SAME_PITCH_DIP_DB = 12.0  # ...or this deep where the pitch is the same on both sides
SAME_PITCH = 0.5  # semitones
DIP_REACH = 0.12  # seconds each side of a dip to look for those peaks
SPLIT_SEMITONES = 0.8  # a pitch this far from the note's own...
SPLIT_HOLD = 0.06  # ...for this long starts a new note
SMOOTH = 0.05  # seconds: median filter of the contour before splitting
SPIKE = 1.5  # semitones off that median that make a frame an octave slip, not the tune
SETTLE = 0.1  # seconds a note's start is left out of its reference when splitting
SCOOP = 0.65  # share of a note's start left out of its pitch (the singer sliding in)...
SCOOP_MAX = 0.2  # ...but no more than this many seconds


@dataclass(frozen=True)
class Segment:
    """A note in frames (``end`` exclusive) with its fractional pitch."""

    start: int
    end: int
    pitch: float


def segment_notes(db: np.ndarray, loud: np.ndarray, pitch: np.ndarray,
                  periodicity: np.ndarray, hop: float) -> list[MelodyNote]:
    """Notes of a take from per-frame level (dB), loudness mask, fractional MIDI pitch (NaN
    where unknown) and tracker confidence, all on one grid of `hop` seconds."""
    contour = sung_contour(loud, pitch, periodicity, hop)
    smooth = median_smooth(contour, max(1, round(SMOOTH / hop)))
    segments = []
    for a, b in runs(bridged(~np.isnan(contour), hop)):
        dips = [a, *level_dips(db, smooth, a, b, hop), b]
        for lo, hi in pairwise(dips):
            cuts = [lo, *pitch_moves(smooth, lo, hi, hop), hi]
            segments.extend(Segment(start, end, note_pitch(contour, start, end, hop))
                            for start, end in pairwise(cuts)
                            if (end - start) * hop >= MIN_NOTE)
    if not segments:
        return []
    offset = tuning_offset(np.array([s.pitch for s in segments]),
                           np.array([s.end - s.start for s in segments], float))
    return [MelodyNote(s.start * hop, s.end * hop, round(s.pitch - offset)) for s in segments]


def sung_contour(loud: np.ndarray, pitch: np.ndarray, periodicity: np.ndarray,
                 hop: float) -> np.ndarray:
    """The pitch where the take is loud, the tracker confident and the pitch a voice's, NaN
    elsewhere; lone frames far off their neighbours (octave slips as a note fades) are NaN
    too."""
    sung = loud & (periodicity > VOICED_PERIODICITY) & (np.nan_to_num(pitch) >= LOWEST)
    contour = np.where(sung, pitch, np.nan)
    spikes = np.abs(contour - median_smooth(contour, max(1, round(SMOOTH / hop)))) > SPIKE
    contour[spikes] = np.nan
    return contour


def bridged(voiced: np.ndarray, hop: float) -> np.ndarray:
    """`voiced` with unvoiced gaps of at most `BRIDGE` inside it filled in."""
    voiced = voiced.copy()
    for a, b in runs(~voiced):
        if a > 0 and b < len(voiced) and (b - a) * hop <= BRIDGE:
            voiced[a:b] = True
    return voiced


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in `mask`, ``end`` exclusive."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def median_smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Running median over `width` frames (odd), ignoring NaN; edges use what is there."""
    width += 1 - width % 2
    padded = np.pad(values, width // 2, constant_values=np.nan)
    windows = sliding_window_view(padded, width)
    out = np.full(len(values), np.nan)
    known = ~np.all(np.isnan(windows), axis=1)
    out[known] = np.nanmedian(windows[known], axis=1)
    return out


def level_dips(db: np.ndarray, smooth: np.ndarray, a: int, b: int, hop: float) -> list[int]:
    """Frames inside [a, b) where the level dips under the loudest frame within `DIP_REACH`
    on each side: the singer re-articulating. Between two pitches `DIP_DB` is enough; on one
    pitch it takes `SAME_PITCH_DIP_DB`, as a room's echoes beating with vibrato make
    shallow dips in a held note."""
    reach = max(1, round(DIP_REACH / hop))
    dips = []
    for k in range(a + 1, b - 1):
        if db[k] > db[k - 1] or db[k] > db[k + 1]:
            continue
        depth = min(db[max(a, k - reach):k].max(), db[k + 1:min(b, k + 1 + reach)].max()) - db[k]
        if depth < DIP_DB or (dips and k - dips[-1] <= reach // 2):
            continue
        before = smooth[max(a, k - reach):k]
        after = smooth[k + 1:min(b, k + 1 + reach)]
        moved = abs(np.nanmedian(after) - np.nanmedian(before)) if (
            np.isfinite(before).any() and np.isfinite(after).any()) else np.inf
        if moved >= SAME_PITCH or depth >= SAME_PITCH_DIP_DB:
            dips.append(k)
    return dips


def pitch_moves(smooth: np.ndarray, a: int, b: int, hop: float) -> list[int]:
    """Frames inside [a, b) where a new note starts legato: the smoothed pitch leaves the
    current note by `SPLIT_SEMITONES` (half of that at least, as vibrato rides on it) and
    holds there for `SPLIT_HOLD`. The current note's pitch is taken after it settles, so a
    slide into a note never splits it; the new note starts where the pitch crossed halfway."""
    hold = max(1, round(SPLIT_HOLD / hop))
    skip = max(1, round(SETTLE / hop))
    moves = []
    start = a
    k = a + skip + hold
    while k + hold <= b:
        reference = np.nanmedian(smooth[start + skip:k])
        away = np.abs(smooth[k:k + hold] - reference)
        if np.median(away) >= SPLIT_SEMITONES and away.min() >= SPLIT_SEMITONES / 2:
            level = np.median(smooth[k:k + hold])
            seen = smooth[start + skip:k + hold]
            behind = np.flatnonzero(np.sign(level - reference) * (seen - (reference + level) / 2)
                                    <= 0)
            k = start + skip + (int(behind[-1]) + 1 if len(behind) else 0)
            moves.append(k)
            start, k = k, k + skip + hold
        else:
            k += 1
    return moves


def note_pitch(pitch: np.ndarray, start: int, end: int, hop: float) -> float:
    """Fractional pitch of the note in frames [start, end): the median after the scoop."""
    skip = min(round(SCOOP * (end - start)), round(SCOOP_MAX / hop))
    held = pitch[start + skip:end]
    held = held[~np.isnan(held)]
    return float(np.median(held)) if len(held) else float(np.nanmedian(pitch[start:end]))


def tuning_offset(pitches: np.ndarray, weights: np.ndarray) -> float:
    """The take's tuning in semitones (-0.5..0.5): the weighted circular mean of how far each
    note sits from the equal-tempered pitch nearest to it."""
    angle = 2 * np.pi * pitches
    return float(np.arctan2((weights * np.sin(angle)).sum(), (weights * np.cos(angle)).sum())
                 / (2 * np.pi))
