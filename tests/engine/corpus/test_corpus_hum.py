"""The synthetic hum follows the melody's pitch (checked with a YIN tracker written here)."""

from __future__ import annotations

import numpy as np

from engine.corpus.composer import compose, sample_spec
from engine.corpus.example import melody_notes
from engine.corpus.hum import VOICES, HumNote, synth_hum

RATE = 32000


def yin(frame: np.ndarray, rate: int, fmin: float = 70.0, fmax: float = 900.0,
        window: int = 1024, threshold: float = 0.1) -> float:
    """YIN fundamental estimate (Hz) of the start of `frame`."""
    x = frame.astype(np.float64)
    tau_max, tau_min = int(rate / fmin), int(rate / fmax)
    diff = np.array([np.sum((x[:window] - x[t:t + window]) ** 2) for t in range(tau_max + 2)])
    cmnd = np.ones_like(diff)
    cmnd[1:] = diff[1:] * np.arange(1, len(diff)) / np.maximum(np.cumsum(diff[1:]), 1e-12)
    below = np.nonzero(cmnd[tau_min:tau_max] < threshold)[0]
    tau = tau_min + (below[0] if len(below) else int(np.argmin(cmnd[tau_min:tau_max])))
    while tau + 1 < tau_max and cmnd[tau + 1] < cmnd[tau]:
        tau += 1
    a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) else 0.0
    return rate / (tau + shift)


def _errors(notes: list[HumNote], hum: np.ndarray, transpose: int) -> np.ndarray:
    """Semitone error of the tracked pitch in the middle of every note long enough to track."""
    errors = []
    for note in notes:
        if note.end - note.start < 0.15:
            continue
        centre = int((note.start + 0.55 * (note.end - note.start)) * RATE)
        frame = hum[centre - 600: centre + 1700]
        if len(frame) < 2300:
            continue
        midi = 69 + 12 * np.log2(yin(frame, RATE) / 440.0)
        errors.append(midi - (note.pitch + transpose))
    return np.array(errors)


def test_hum_tracks_the_melody_of_composed_songs() -> None:
    checked = 0
    for seed in range(200):
        song = compose(sample_spec(seed))
        rows = melody_notes(song)
        if not rows or song.spec.seconds > 20:
            continue
        notes = [HumNote(a, b, int(p)) for a, b, p, _ in rows]
        hum, info = synth_hum(notes, song.spec.seconds, np.random.default_rng(seed))
        errors = _errors(notes, hum, info["transpose"])
        if len(errors) < 4:
            continue
        assert np.median(np.abs(errors)) < 0.5, (seed, info, errors)
        assert np.mean(np.abs(errors) < 1.0) >= 0.75, (seed, info, errors)
        checked += 1
        if checked == 6:
            break
    assert checked == 6


def test_transposed_into_a_voice_range_and_silent_between_phrases() -> None:
    notes = [HumNote(0.1, 0.6, 84), HumNote(0.6, 1.1, 86), HumNote(2.0, 2.8, 88)]
    for seed in range(8):
        hum, info = synth_hum(notes, 3.0, np.random.default_rng(seed))
        low, high = VOICES[info["voice"]]
        median = np.median([n.pitch + info["transpose"] for n in notes])
        assert low - 6 <= median <= high + 6
        assert hum.dtype == np.float32 and hum.shape == (3 * RATE,)
        gap = np.abs(hum[int(1.35 * RATE): int(1.85 * RATE)]).max()
        assert gap < 0.05 * np.abs(hum).max()  # only room noise and breath between phrases


def test_hum_is_deterministic_and_varied() -> None:
    notes = [HumNote(0.1, 0.9, 60), HumNote(1.0, 1.8, 64)]
    a, _ = synth_hum(notes, 2.0, np.random.default_rng(1))
    b, _ = synth_hum(notes, 2.0, np.random.default_rng(1))
    assert np.array_equal(a, b)
    infos = [synth_hum(notes, 2.0, np.random.default_rng(s))[1] for s in range(12)]
    assert len({i["vowel"] for i in infos}) >= 3 and len({i["voice"] for i in infos}) >= 2
