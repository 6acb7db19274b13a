"""A small synthetic song with known tempo, meter, downbeats and key, for the labelling and
preparation tests: a kick on each downbeat, a click on every beat, a bass note and a
sustained triad per bar (i-iv-i-v in A minor, so the chord changes on the downbeats)."""

from __future__ import annotations

import numpy as np

# Triads (MIDI notes) of A minor: i, iv, i, v.
CHORDS = ((57, 60, 64), (62, 65, 69), (57, 60, 64), (64, 67, 71))
KEY = "A minor"


def _hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def song(bpm: float, seconds: float, rate: int, beats_per_bar: int = 4,
         level: float = 0.3, drums: float = 1.0) -> np.ndarray:
    """Stereo float32 (2, frames): the song at `bpm`, bars starting at time 0, its peak at
    `level`; `drums` scales the kick and clicks against the chords."""
    frames = int(seconds * rate)
    mono = np.zeros(frames, dtype=np.float64)
    beat = 60.0 / bpm
    t = np.arange(int(0.12 * rate)) / rate
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-t * 30)
    click = np.random.default_rng(0).standard_normal(len(t)) * np.exp(-t * 120) * 0.3
    for index, start in enumerate(np.arange(0.0, seconds, beat)):
        first = int(start * rate)
        hit = drums * ((kick + click) if index % beats_per_bar == 0 else click)
        end = min(frames, first + len(hit))
        mono[first:end] += hit[: end - first]
    bar = beat * beats_per_bar
    for index, start in enumerate(np.arange(0.0, seconds, bar)):
        first, end = int(start * rate), min(frames, int((start + bar) * rate))
        tt = np.arange(end - first) / rate
        envelope = np.minimum(1.0, tt / 0.01) * np.exp(-tt * 0.8)
        chord = CHORDS[index % len(CHORDS)]
        tone = sum(np.sin(2 * np.pi * _hz(n) * tt) for n in chord) * 0.15
        tone += np.sin(2 * np.pi * _hz(chord[0] - 24) * tt) * 0.3
        mono[first:end] += tone * envelope
    mono *= level / max(np.max(np.abs(mono)), 1e-9)
    return np.stack([mono, mono]).astype(np.float32)


def downbeats(bpm: float, seconds: float, beats_per_bar: int = 4) -> list[float]:
    """The true bar starts of `song`."""
    return list(np.arange(0.0, seconds - 0.05, 60.0 / bpm * beats_per_bar))
