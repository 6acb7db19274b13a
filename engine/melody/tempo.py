"""The beat of a hum sung without a click: its tempo and its first downbeat, from note onsets.

The transcribed notes are the onset detector (a hum's onsets are soft; the segmenter already
found them). Each candidate beat period between 50 and 200 BPM is scored by how often onsets
lie one, two, three or four periods apart (the onset train's autocorrelation) and by how well
onsets sit on its beats and eighths (their phase coherence), weighted by a broad prior around
an expected tempo: the request's, so that of two readings an octave apart the one nearer the
music's tempo wins. The winner is refined by least squares on the eighth-note grid. The first
downbeat is the bar line before the first note: the beat, among the bar's positions, where the
long notes start (and the first note, unless it is a short pickup).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.melody.tokens import MelodyNote

MIN_BPM, MAX_BPM = 50.0, 200.0
CANDIDATES = 600  # log-spaced beat periods between them (0.23% apart)
PRIOR_OCTAVES = 1.0  # width (standard deviation, octaves) of the tempo prior
FPS = 200.0  # frames per second of the onset train
MAX_ACCENT = 1.5  # seconds: an onset's accent is the time to the next one, up to this
SMEAR = 0.03  # seconds: a singer's timing spread, the onset train's Gaussian width
ON_BEAT = 0.2  # beats: an onset this close to a beat is on it
PICKUP_BEATS = 1.0  # a first note lasting no longer than this may be a pickup
FIRST_NOTE_BARS = 0.5  # accent (in bars) the first note's beat gets as the downbeat


@dataclass(frozen=True)
class Pulse:
    """A take's beat: `beat` seconds per beat, `downbeat` the time of the bar line that
    starts the bar holding the first note."""

    beat: float
    downbeat: float

    @property
    def bpm(self) -> float:
        """The tempo in beats per minute."""
        return 60.0 / self.beat

    def beats(self, seconds: float) -> float:
        """Where `seconds` of the take falls, in beats from the first downbeat."""
        return (seconds - self.downbeat) / self.beat


def find_pulse(notes: Sequence[MelodyNote], beats_per_bar: float,
               expected_bpm: float = 110.0) -> Pulse | None:
    """The beat and first downbeat of `notes` sung at a steady but unknown tempo (None for
    fewer than three onsets: too little to hear a beat in)."""
    onsets, lengths = onset_lengths(notes)
    if len(onsets) < 3:
        return None
    accents = np.clip(np.append(np.diff(onsets), lengths[-1:]), 0.05, MAX_ACCENT)
    beat, phase = find_beat(onsets, accents, expected_bpm)
    return Pulse(beat, first_downbeat(onsets, lengths, beat, phase, beats_per_bar))


def onset_lengths(notes: Sequence[MelodyNote]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct onsets (seconds) and the length of the longest note starting at each."""
    by_start: dict[float, float] = {}
    for note in notes:
        key = round(note.start, 3)
        by_start[key] = max(by_start.get(key, 0.0), note.end - note.start)
    onsets = sorted(by_start)
    return np.array(onsets), np.array([by_start[o] for o in onsets])


def find_beat(onsets: np.ndarray, accents: np.ndarray, expected_bpm: float
              ) -> tuple[float, float]:
    """Beat period and phase (seconds: the time of some beat) of the onsets."""
    periods = 60.0 / np.geomspace(MAX_BPM, MIN_BPM, CANDIDATES)
    lags = _autocorrelation(onsets, accents)
    support = sum(np.interp(k * periods * FPS, np.arange(len(lags)), lags, right=0.0) / k
                  for k in (1, 2, 3, 4))
    coherence = (_coherence(onsets, accents, periods)
                 + 0.5 * _coherence(onsets, accents, periods / 2))
    prior = np.exp(-0.5 * (np.log2(60.0 / periods / expected_bpm) / PRIOR_OCTAVES) ** 2)
    score = (support / max(float(support.max()), 1e-9) + coherence) * prior
    return _refine(onsets, accents, float(periods[int(np.argmax(score))]))


def first_downbeat(onsets: np.ndarray, lengths: np.ndarray, beat: float, phase: float,
                   beats_per_bar: float) -> float:
    """The time of the bar line at or before the first onset: of the bar's beat positions,
    the one where the onsets on beats last longest until the next onset (a phrase's closing
    note most of all); the first onset's beat gets a bar more unless it is a short pickup."""
    per_bar = max(1, round(beats_per_bar))
    position = (onsets - phase) / beat
    index = np.round(position).astype(np.int64)
    on_beat = np.abs(position - index) < ON_BEAT
    spans = np.append(np.diff(position), lengths[-1] / beat)
    weight = np.zeros(per_bar)
    np.add.at(weight, index[on_beat] % per_bar, np.minimum(spans[on_beat], per_bar))
    first = int(np.floor(position[0] + ON_BEAT))
    if on_beat[0] and spans[0] > PICKUP_BEATS:
        weight[first % per_bar] += FIRST_NOTE_BARS * per_bar
    bar_beat = int(np.argmax(weight))
    start = first - (first - bar_beat) % per_bar
    return phase + start * beat


def _autocorrelation(onsets: np.ndarray, accents: np.ndarray) -> np.ndarray:
    """Autocorrelation of the accent-weighted onset train smeared by a singer's timing,
    one value per frame of lag, normalized to 1 at lag 0."""
    frames = int((onsets[-1] - onsets[0]) * FPS) + 1
    train = np.zeros(frames + 1)
    np.add.at(train, np.round((onsets - onsets[0]) * FPS).astype(np.int64), accents)
    width = SMEAR * FPS
    kernel = np.exp(-0.5 * (np.arange(-3 * width, 3 * width + 1) / width) ** 2)
    smooth = np.convolve(train, kernel)
    spectrum = np.fft.rfft(smooth, 2 * len(smooth))
    lags = np.fft.irfft(np.abs(spectrum) ** 2)[: len(smooth)]
    return lags / max(float(lags[0]), 1e-12)


def _coherence(onsets: np.ndarray, accents: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """How closely the onsets sit on a grid of each period (1: all on it), at the grid's
    best phase: the accent-weighted mean resultant length of their phases."""
    phases = np.exp(2j * np.pi * onsets[None, :] / periods[:, None])
    return np.abs(phases @ accents) / accents.sum()


def _refine(onsets: np.ndarray, accents: np.ndarray, beat: float) -> tuple[float, float]:
    """Period and phase fitted by weighted least squares to the onsets that lie near the
    eighth-note grid of `beat`, twice (the first fit may move which onsets those are)."""
    phase = float(np.angle(np.exp(2j * np.pi * onsets / beat) @ accents)) / (2 * np.pi) * beat
    for _ in range(3):
        position = (onsets - phase) / beat * 2
        grid = np.round(position)
        near = np.abs(position - grid) < 0.3
        if near.sum() < 2 or np.ptp(grid[near]) == 0:
            break
        design = np.stack([np.ones(int(near.sum())), grid[near] / 2], axis=1)
        root = np.sqrt(accents[near])
        (phase, beat), *_ = np.linalg.lstsq(design * root[:, None], onsets[near] * root,
                                            rcond=None)
        phase, beat = float(phase), float(beat)
    return beat, phase
