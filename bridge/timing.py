"""Musical time: bar lengths from tempo and meter, and loop tails."""

from __future__ import annotations

from fractions import Fraction

# Looping generates this much past the end and folds it into the start.
LOOP_TAIL_BEATS = 1


def quarters_per_bar(time_signature: str) -> Fraction:
    """Quarter notes in one bar: 4/4 -> 4, 3/4 -> 3, 6/8 -> 3 (tempo counts quarter notes,
    as Ardour, Live, Bitwig and DAWproject do)."""
    numerator, denominator = (int(part) for part in time_signature.split("/"))
    return Fraction(numerator * 4, denominator)


def clip_seconds(bpm: float, bars: int, time_signature: str) -> float:
    """Exact length of ``bars`` bars in seconds."""
    return float(_clip_seconds(bpm, bars, time_signature))


def clip_samples(bpm: float, bars: int, time_signature: str, sample_rate: int) -> int:
    """Exact length in samples of ``bars`` bars, rounded to the nearest sample."""
    return round(_clip_seconds(bpm, bars, time_signature) * sample_rate)


def loop_tail_seconds(bpm: float) -> float:
    """Length of the tail generated past the end of a loop."""
    return LOOP_TAIL_BEATS * 60 / bpm


def loop_tail_samples(bpm: float, sample_rate: int) -> int:
    """Length in samples of the tail generated past the end of a loop."""
    return round(loop_tail_seconds(bpm) * sample_rate)


def _clip_seconds(bpm: float, bars: int, time_signature: str) -> Fraction:
    return Fraction(bars) * quarters_per_bar(time_signature) * 60 / Fraction(bpm)
