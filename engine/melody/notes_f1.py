"""Note-level transcription scores as mir_eval computes them: a note is found when its onset
is within 50 ms of a reference onset (and, for the pitched score, its pitch within 50 cents);
each reference note matches at most one estimated note (a maximum bipartite matching)."""

from __future__ import annotations

from collections.abc import Sequence

from engine.melody.tokens import MelodyNote

ONSET_TOLERANCE = 0.05  # seconds
PITCH_TOLERANCE = 0.5  # semitones (50 cents)


def note_scores(reference: Sequence[MelodyNote], estimate: Sequence[MelodyNote],
                with_pitch: bool = True) -> dict[str, float]:
    """Precision, recall and F1 of `estimate` against `reference`, ignoring offsets;
    `with_pitch` False scores onsets alone."""
    matched = matched_count(reference, estimate, with_pitch)
    return precision_recall_f1(matched, len(reference), len(estimate))


def precision_recall_f1(matched: int, references: int, estimates: int) -> dict[str, float]:
    """The three scores from the number of matched, reference and estimated notes."""
    precision = matched / estimates if estimates else 0.0
    recall = matched / references if references else 0.0
    f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def matched_count(reference: Sequence[MelodyNote], estimate: Sequence[MelodyNote],
                  with_pitch: bool = True) -> int:
    """Size of the largest one-to-one matching of reference to estimated notes."""
    candidates = [
        [j for j, e in enumerate(estimate)
         if round(abs(e.start - r.start), 4) <= ONSET_TOLERANCE
         and (not with_pitch or abs(e.pitch - r.pitch) <= PITCH_TOLERANCE)]
        for r in reference]
    owner: dict[int, int] = {}  # estimate index → reference index

    def augment(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(reference)))
