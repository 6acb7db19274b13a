"""The tempo comb and the scale share on synthetic audio with a known tempo and key."""

from __future__ import annotations

import numpy as np
import pytest

from engine.generator.fit import (
    IN_KEY_SHARE,
    beat_grid_fit,
    candidate_tempi,
    scale_fit,
    scale_fit_of_chroma,
    scale_pitch_classes,
    scale_share,
)

RATE = 22050  # not the measures' own rate: the resampling path runs too


def _clicks(bpm: float, seconds: float = 10.0, start: float = 0.1) -> np.ndarray:
    """Short noise bursts on every beat from ``start`` seconds, every fourth louder."""
    rng = np.random.default_rng(0)
    mono = np.zeros(int(seconds * RATE))
    burst = rng.normal(0.0, 0.5, 1000) * np.exp(-np.arange(1000) / 150)
    for k in range(int((seconds - start) * bpm / 60)):
        at = int((start + k * 60 / bpm) * RATE)
        mono[at : at + 1000] += burst[: len(mono) - at] * (1.0 if k % 4 == 0 else 0.6)
    return mono


def _tones(pitches: list[int], bpm: float, seconds: float | None = None) -> np.ndarray:
    """One plucked sine per beat (MIDI ``pitches`` in turn, repeated to fill ``seconds``)."""
    beat = 60 / bpm
    count = len(pitches) if seconds is None else int(seconds / beat)
    t = np.arange(int(beat * RATE)) / RATE
    notes = [np.sin(2 * np.pi * 440 * 2 ** ((pitches[k % len(pitches)] - 69) / 12) * t)
             * np.exp(-t * 6) for k in range(count)]
    return 0.3 * np.concatenate(notes)


def test_candidate_tempi_span_the_window_around_the_asked_tempo() -> None:
    tempi = candidate_tempi(120.0)
    assert tempi.min() == pytest.approx(108.0) and tempi.max() == pytest.approx(132.0)
    assert np.isclose(tempi, 120.0).any()
    assert np.diff(tempi).max() == pytest.approx(0.12)


def test_a_click_track_is_on_grid_at_its_tempo_and_its_phase_is_found() -> None:
    fit = beat_grid_fit(_clicks(120), RATE, 120)
    assert fit.verdict == "on_grid" and fit.on_grid
    assert abs(fit.tempo_error) < 0.003
    assert fit.asked_score == pytest.approx(fit.best_score, rel=0.05)
    # The first click is 0.1 s = 0.2 beats in (onset frames lag the attack by a few ms).
    assert fit.phase == pytest.approx(0.2, abs=0.03)


@pytest.mark.parametrize("factor", [1.05, 1 / 1.05])
def test_the_same_clicks_asked_5_percent_off_are_not_on_grid(factor: float) -> None:
    fit = beat_grid_fit(_clicks(120), RATE, 120 * factor)
    assert fit.verdict == "off_tempo"
    assert fit.best_bpm == pytest.approx(120, rel=0.003)  # the comb finds the real tempo
    assert fit.asked_score < fit.best_score / 2


def test_a_drumless_tone_sequence_is_on_grid_only_at_its_tempo() -> None:
    melody = _tones([60, 64, 67, 72, 67, 64], 96, seconds=12)
    assert beat_grid_fit(melody, RATE, 96).on_grid
    assert not beat_grid_fit(melody, RATE, 96 * 1.05).on_grid


def test_noise_and_silence_have_no_pulse() -> None:
    noise = np.random.default_rng(1).normal(0, 0.1, 10 * RATE)
    assert beat_grid_fit(noise, RATE, 120).verdict == "no_pulse"
    silent = beat_grid_fit(np.zeros(5 * RATE), RATE, 120)
    assert silent.verdict == "no_pulse" and silent.best_score == 0.0


def test_scale_pitch_classes_of_major_and_natural_minor_keys() -> None:
    assert scale_pitch_classes("C major") == (0, 2, 4, 5, 7, 9, 11)
    assert set(scale_pitch_classes("A minor")) == set(scale_pitch_classes("C major"))
    assert scale_pitch_classes("F# major") == (6, 8, 10, 11, 1, 3, 5)
    assert scale_pitch_classes("Bb minor") == (10, 0, 1, 3, 5, 6, 8)
    with pytest.raises(ValueError):
        scale_pitch_classes("H minor")


def test_scale_share_of_a_chroma_profile() -> None:
    chroma = np.zeros(12)
    chroma[[0, 4, 7]] = 1.0  # a C major triad
    chroma[1] = 1.0  # and a C#
    assert scale_share(chroma, "C major") == pytest.approx(0.75)
    assert scale_share(chroma, "C# major") == pytest.approx(0.5)  # C# and C (its B#) only
    assert scale_share(np.zeros(12), "C major") == 0.0


def test_flat_chroma_fits_every_scale_alike_and_is_in_no_key() -> None:
    flat = 1.0 + 0.01 * np.random.default_rng(2).random(12)  # noise-like: no pitch stands out
    fit = scale_fit_of_chroma(flat, "C major")
    assert fit.relative > 0.95 and fit.share < IN_KEY_SHARE and not fit.in_key


def test_a_c_major_melody_is_in_c_major_and_not_in_c_sharp_major() -> None:
    melody = _tones([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60, 65, 69, 62, 71, 60], 180)
    in_c = scale_fit(melody, RATE, "C major")
    assert in_c.in_key and in_c.share >= IN_KEY_SHARE and in_c.share > 0.85
    assert in_c.relative == 1.0  # no other diatonic scale holds more
    in_c_sharp = scale_fit(melody, RATE, "C# major")
    assert not in_c_sharp.in_key and in_c_sharp.share < in_c.share - 0.3
    assert in_c_sharp.best_share == in_c.share
