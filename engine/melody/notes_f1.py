"""Note-level transcription scores, by mir_eval: a note is found when its onset is within 50 ms
of a reference onset (and, for the pitched score, its pitch within 50 cents); each reference
note matches at most one estimated note (a maximum bipartite matching). Offsets are ignored."""

from __future__ import annotations

from collections.abc import Sequence

import mir_eval
import numpy as np

from engine.melody.tokens import MelodyNote

ONSET_TOLERANCE = 0.05  # seconds
PITCH_TOLERANCE = 0.5  # semitones (50 cents)


def note_scores(reference: Sequence[MelodyNote], estimate: Sequence[MelodyNote],
                with_pitch: bool = True) -> dict[str, float]:
    """Precision, recall and F1 of `estimate` against `reference`, ignoring offsets;
    `with_pitch` False scores onsets alone."""
    if not reference or not estimate:
        return precision_recall_f1(0, len(reference), len(estimate))
    if with_pitch:
        precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
            *_intervals_hz(reference), *_intervals_hz(estimate), offset_ratio=None,
            onset_tolerance=ONSET_TOLERANCE, pitch_tolerance=PITCH_TOLERANCE * 100)
    else:
        precision, recall, f1 = mir_eval.transcription.onset_precision_recall_f1(
            _intervals_hz(reference)[0], _intervals_hz(estimate)[0],
            onset_tolerance=ONSET_TOLERANCE)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def precision_recall_f1(matched: int, references: int, estimates: int) -> dict[str, float]:
    """The three scores from the number of matched, reference and estimated notes (counts
    summed over many takes score them as one)."""
    precision = matched / estimates if estimates else 0.0
    recall = matched / references if references else 0.0
    f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def matched_count(reference: Sequence[MelodyNote], estimate: Sequence[MelodyNote],
                  with_pitch: bool = True) -> int:
    """Size of the largest one-to-one matching of reference to estimated notes."""
    if not reference or not estimate:
        return 0
    ref_intervals, ref_hz = _intervals_hz(reference)
    est_intervals, est_hz = _intervals_hz(estimate)
    if with_pitch:
        return len(mir_eval.transcription.match_notes(
            ref_intervals, ref_hz, est_intervals, est_hz, onset_tolerance=ONSET_TOLERANCE,
            pitch_tolerance=PITCH_TOLERANCE * 100, offset_ratio=None))
    return len(mir_eval.transcription.match_note_onsets(
        ref_intervals, est_intervals, onset_tolerance=ONSET_TOLERANCE))


def _intervals_hz(notes: Sequence[MelodyNote]) -> tuple[np.ndarray, np.ndarray]:
    """mir_eval's (n, 2) intervals in seconds and pitches in Hz. Offsets are not scored, so a
    note that ends where it starts is given a sliver of length, which mir_eval requires."""
    starts = np.array([note.start for note in notes], dtype=np.float64)
    ends = np.array([note.end for note in notes], dtype=np.float64)
    intervals = np.stack([starts, np.maximum(ends, starts + 1e-6)], axis=1)
    hz = 440.0 * 2.0 ** ((np.array([note.pitch for note in notes], dtype=np.float64) - 69) / 12)
    return intervals, hz
