"""Note F1 as mir_eval scores transcriptions: onsets within 50 ms, pitches within 50 cents,
one-to-one."""

from __future__ import annotations

from engine.melody.notes_f1 import matched_count, note_scores
from engine.melody.tokens import MelodyNote as Note

REFERENCE = [Note(0.0, 0.5, 60), Note(0.5, 1.0, 62), Note(1.0, 1.5, 64), Note(1.5, 2.0, 65)]


def test_onsets_within_50_ms_count_and_pitch_must_agree() -> None:
    """50 ms late still counts, 51 ms does not; a wrong pitch counts for onsets only;
    offsets never matter."""
    estimate = [Note(0.05, 0.2, 60), Note(0.551, 1.0, 62), Note(1.0, 1.9, 63),
                Note(1.49, 1.6, 65)]
    assert matched_count(REFERENCE, estimate, with_pitch=False) == 3
    assert matched_count(REFERENCE, estimate) == 2
    scores = note_scores(REFERENCE, estimate)
    assert scores == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_matching_is_one_to_one_and_maximal() -> None:
    """Two estimates near one reference match it once; a greedy first choice that would
    block a later note is undone (0.03 could take 0.0, but must take 0.06)."""
    dense = [Note(0.0, 0.1, 60), Note(0.06, 0.2, 60)]
    assert matched_count(dense, [Note(0.03, 0.1, 60), Note(0.1, 0.2, 60)]) == 2
    assert matched_count(dense[:1], [Note(0.0, 0.1, 60), Note(0.01, 0.1, 60)]) == 1


def test_empty_sides_score_zero() -> None:
    """Nothing estimated, or nothing to find, scores zero rather than dividing by it."""
    assert note_scores(REFERENCE, [])["f1"] == 0.0
    assert note_scores([], REFERENCE)["f1"] == 0.0


def test_offsets_are_not_scored_even_a_note_without_length() -> None:
    """A note that ends where it starts is still found by its onset; an octave off is a
    pitch miss but an onset hit."""
    reference = [Note(0.2, 0.2, 60), Note(0.7, 0.9, 67)]
    estimate = [Note(0.25, 0.3, 60), Note(0.7, 0.7, 79)]
    assert note_scores(reference, estimate) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert note_scores(reference, estimate, with_pitch=False)["f1"] == 1.0
