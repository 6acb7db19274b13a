"""A hum's own beat: its tempo and first downbeat found from the notes sung, and a take laid
on the request's bars by its beats (sung freely), as sung (to the click), or stretched only
when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.messages import Generate
from engine.corpus.hum import HumNote
from engine.melody.condition import request_melody
from engine.melody.tempo import find_pulse
from engine.melody.tokens import MelodyNote

from .helpers import RATE, beats, hum, sung_take


def tempo_error(found: float, truth: float) -> str:
    """'ok' within 4% of the truth, 'octave' within 4% of half or twice it, else 'wrong'."""
    if abs(found / truth - 1) <= 0.04:
        return "ok"
    return "octave" if any(abs(found / truth / f - 1) <= 0.04 for f in (0.5, 2.0)) else "wrong"


@pytest.mark.parametrize("bpm", [62.0, 75.0, 92.0, 108.0, 126.0, 150.0, 176.0])
def test_the_tempo_of_a_take_sung_without_a_click(bpm: float) -> None:
    """Four bars with rests, eighths and dotted figures, every onset ~25 ms off, expecting
    the request's tempo: the tempo within 2% and the first bar line within a sixth of a
    beat. Expecting 110 BPM instead, the tempo is right or an octave off (62 heard as 124)."""
    for seed in (1, 2):
        notes, downbeat = sung_take(bpm, 4, seed)
        pulse = find_pulse(notes, 4, expected_bpm=bpm)
        assert pulse is not None
        assert pulse.bpm == pytest.approx(bpm, rel=0.02), seed
        assert pulse.downbeat == pytest.approx(downbeat, abs=60 / bpm / 6), seed
        unsure = find_pulse(notes, 4, expected_bpm=110.0)
        assert unsure is not None and tempo_error(unsure.bpm, bpm) in ("ok", "octave")


def test_a_take_with_long_rests_and_a_pickup() -> None:
    """A 3/4 tune whose bars end in rests, after a pickup: 96 BPM, and the bar line found
    is the one before the pickup, so the pickup is the last beat of bar 1."""
    beat = 60 / 96
    sung = [(-1, 0.9), (0, 1.8), (2, 0.45), (3, 0.9), (4, 0.9), (6, 2.7), (9, 0.9), (10, 0.9),
            (12, 1.8), (15, 2.7)]  # (beat, length): beats 5 and 7-8 and 11 and 14 are rests
    notes = [MelodyNote(0.4 + (b + 1) * beat, 0.4 + (b + 1 + n) * beat, 60 + i % 5)
             for i, (b, n) in enumerate(sung)]
    pulse = find_pulse(notes, 3, expected_bpm=120)
    assert pulse is not None
    assert pulse.bpm == pytest.approx(96, rel=0.01)
    assert pulse.beats(notes[0].start) == pytest.approx(2.0, abs=0.05)


def test_too_few_notes_have_no_beat() -> None:
    """Two notes say nothing about a tempo."""
    assert find_pulse([MelodyNote(0.2, 0.8, 60), MelodyNote(1.0, 2.0, 62)], 4) is None


def test_tempo_accuracy_over_twenty_random_takes() -> None:
    """20 takes (seed 2024) at 60-180 BPM, 2-8 bars of 4/4 or 3/4, a quarter with a pickup,
    timing off by 10-40 ms and tempo sliding up to 3% over the take, found expecting 110 BPM:
    at least 17 within 4%, at most one neither that nor an octave off."""
    rng = np.random.default_rng(2024)
    outcomes = []
    for _ in range(20):
        bpm, per_bar = float(rng.uniform(60, 180)), int(rng.choice([4, 4, 3]))
        notes, _ = sung_take(bpm, int(rng.integers(2, 9)), int(rng.integers(1 << 30)), per_bar,
                             pickup=bool(rng.random() < 0.25),
                             jitter=float(rng.uniform(0.01, 0.04)),
                             drift=float(rng.uniform(-0.03, 0.03)))
        pulse = find_pulse(notes, per_bar, expected_bpm=110.0)
        outcomes.append(tempo_error(pulse.bpm, bpm) if pulse else "wrong")
    assert outcomes.count("ok") >= 17, outcomes
    assert outcomes.count("wrong") <= 1, outcomes


def write_hum(path: Path, notes: list[HumNote], seconds: float, seed: int) -> Path:
    """The corpus's synthetic voice humming `notes`, as a WAV at `path`."""
    audio, _ = hum(notes, seconds, seed)
    sf.write(path, audio, RATE)
    return path


# Two bars of 4/4 as (beat, length in beats, pitch): quarters, two eighths, a half note.
TWO_BARS = [(0, 1, 60), (1, 1, 62), (2, 0.5, 64), (2.5, 0.5, 65), (3, 1, 67), (4, 2, 64),
            (6, 1, 62), (7, 1, 60)]


def test_a_free_hum_keeps_its_beats_instead_of_filling_the_bars(tmp_path: Path) -> None:
    """Two bars hummed at 100 BPM after 0.37 s of silence, asked for as four bars at 120 BPM:
    each note lands on its own beat (a sixteenth at most off) and bars 3-4 stay empty; asked
    to stretch, the same take fills the four bars."""
    beat = 0.6
    sung = [HumNote(0.37 + b * beat, 0.37 + (b + n * 0.9) * beat, p) for b, n, p in TWO_BARS]
    path = write_hum(tmp_path / "hum.wav", sung, 5.8, seed=3)
    request = Generate(request_id="r", prompt="keys", bpm=120.0, bars=4, melody=str(path))
    assert request.melody_timing == "free"
    fitted = beats(request_melody(request))
    assert len(fitted) == len(TWO_BARS)
    for (start, _, _), (b, _, _) in zip(fitted, TWO_BARS, strict=True):
        assert start == pytest.approx(b, abs=0.25)
    assert max(end for _, end, _ in fitted) <= 8.0

    stretched = beats(request_melody(
        Generate(request_id="r", prompt="keys", bpm=120.0, bars=4, melody=str(path),
                 melody_timing="stretch")))
    assert stretched[0][0] == 0.0 and stretched[-1][1] == 16.0


def test_a_take_sung_to_the_click_keeps_its_onsets(tmp_path: Path) -> None:
    """A studio take at the request's 90 BPM, frame 0 on the downbeat, coming in half a beat
    late and syncopated: with ``click`` every onset stays where it was sung (within a
    sixteenth) and the late start is kept, nothing is moved to beat 0 or stretched."""
    beat = 60 / 90
    rhythm = [(0.5, 1.0, 62), (1.5, 1.0, 64), (2.75, 0.75, 65), (4.0, 1.5, 67), (6.0, 0.5, 65),
              (6.5, 1.0, 64), (8.0, 2.0, 62)]
    sung = [HumNote(b * beat, (b + n * 0.9) * beat, p) for b, n, p in rhythm]
    path = write_hum(tmp_path / "take.wav", sung, 8.0, seed=5)
    request = Generate(request_id="r", prompt="keys", bpm=90.0, bars=4, melody=str(path),
                       melody_timing="click")
    fitted = beats(request_melody(request), bpm=90.0)
    assert len(fitted) == len(rhythm)
    for (start, _, _), (b, _, _) in zip(fitted, rhythm, strict=True):
        assert start == pytest.approx(b, abs=0.25)
    assert fitted[0][0] == 0.5
