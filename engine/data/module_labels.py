"""Score the channel-to-family mapping against hand labels.

The labels file (evals/module_channel_labels.json) names channels by module key and channel
number, with the family a person gave each and the half it belongs to ("tune": thresholds
may be set on it; "test": only reported). Predictions are recomputed from the evidence that
`prepare-modules` stored in OUT/module-channels.json, so a change of rules is scored
without rendering again.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from engine.corpus.instruments import FAMILIES
from engine.data.stem_families import Evidence, map_family


class LabelError(ValueError):
    """A labels file that cannot be scored (the message says why)."""


@dataclass(frozen=True)
class Score:
    """Accuracy and confusion of one half of the labels."""

    half: str
    n: int
    correct: int
    confusion: dict[str, dict[str, int]]  # true family -> predicted family -> count
    missing: int  # labelled channels with no evidence row
    sure: tuple[int, int]  # (correct, n) over the labels marked sure

    @property
    def accuracy(self) -> float:
        """Share of labelled channels mapped to their label."""
        return self.correct / self.n if self.n else 0.0

    def table(self) -> str:
        """The confusion as text: rows are the labels, columns the predictions."""
        names = [f for f in FAMILIES if f in self.confusion
                 or any(f in row for row in self.confusion.values())]
        right, sure = self.sure
        lines = [f"{self.half}: {self.correct}/{self.n} = {self.accuracy:.1%}"
                 + (f"; labels marked sure {right}/{sure}" if sure else "")
                 + (f" ({self.missing} labelled channels not found)" if self.missing else ""),
                 "label \\ mapped " + " ".join(f"{n[:7]:>7}" for n in names)]
        for true in names:
            row = self.confusion.get(true, {})
            lines.append(f"{true:14} " + " ".join(f"{row.get(p, 0):>7}" for p in names))
        return "\n".join(lines)


def load_labels(path: Path) -> list[dict]:
    """The label rows of a labels file, checked."""
    try:
        rows: list[dict] = json.loads(Path(path).read_text())["labels"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise LabelError(f"cannot read labels from {path}: {error}") from error
    for row in rows:
        if row.get("family") not in FAMILIES or row.get("half") not in ("tune", "test"):
            raise LabelError(f"{path}: bad label row {row} (family one of {FAMILIES}, "
                             "half 'tune' or 'test')")
    return rows


def score(labels: list[dict], channels_file: Path) -> list[Score]:
    """Scores of the 'tune' and 'test' halves against the evidence in `channels_file`."""
    evidence = {}
    for row in json.loads(Path(channels_file).read_text()):
        evidence[(row["module"], row["channel"])] = row["evidence"]
    scores = []
    for half in ("tune", "test"):
        confusion: dict[str, Counter[str]] = {}
        n = correct = missing = sure = sure_correct = 0
        for row in (r for r in labels if r["half"] == half):
            found = evidence.get((row["module"], row["channel"]))
            if found is None:
                missing += 1
                continue
            predicted, _ = map_family(Evidence(**found))
            confusion.setdefault(row["family"], Counter())[predicted] += 1
            n += 1
            correct += predicted == row["family"]
            if row.get("sure"):
                sure += 1
                sure_correct += predicted == row["family"]
        scores.append(Score(half, n, correct, {k: dict(v) for k, v in confusion.items()},
                            missing, (sure_correct, sure)))
    return scores
