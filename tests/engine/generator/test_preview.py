"""The streamed preview: it starts after a few coarse frames (not a second's worth), grows
by whole chunks to the full clip, and plays at about the finished level."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from bridge.loudness import PEAK_CEILING_DBTP
from engine.generator import pipeline
from engine.generator.finish import Mastering, PreviewFinisher, finish_stems
from engine.generator.pipeline import (
    FIRST_PREVIEW_FRAMES,
    PREVIEW_EVERY_FRAMES,
    PREVIEW_LOOKAHEAD,
    HierarchicalGenerator,
    load_default,
    preview_due,
)
from engine.generator.sound import loudness_lufs
from engine.request import GenerationRequest

RATE = 32000
OLD_FIRST_PREVIEW_FRAMES = 50  # one second of audio: the first preview before this change
REFERENCE = {"drums": {"lr_correlation": 0.9, "loudness_lufs": -21.0},
             "bass": {"lr_correlation": 1.0, "loudness_lufs": -23.0},
             "mix": {"lr_correlation": 0.8, "loudness_lufs": -18.0}}


class Previews:
    def __init__(self) -> None:
        self.previews: list[np.ndarray] = []

    def progress(self, fraction: float, stage: str) -> None:
        pass

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        self.previews.append(mix)


def test_the_schedule_starts_early_then_keeps_a_chunk_a_second() -> None:
    due = [frames for frames in range(1, 301) if preview_due(frames)]
    assert due[0] == FIRST_PREVIEW_FRAMES < OLD_FIRST_PREVIEW_FRAMES
    assert due[0] - PREVIEW_LOOKAHEAD >= 10  # the first chunk holds sound worth playing
    assert [f for f in due if f >= PREVIEW_EVERY_FRAMES] == [50, 100, 150, 200, 250, 300]
    # Playback starts on the first chunk; with coarse sampling at twice real time or more
    # (the default model measures 2.5-3x), every chunk arrives before the audio sent ends.
    for before, after in itertools.pairwise(due):
        assert (after - due[0]) / 2 <= before - PREVIEW_LOOKAHEAD


@pytest.fixture(scope="module")
def generator(tiny_generator: Path) -> HierarchicalGenerator:
    return load_default(tiny_generator)


def test_the_first_preview_comes_after_fewer_coarse_frames(
        generator: HierarchicalGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
    known: list[int] = []
    push = pipeline._Previewer.push

    def counting(self: pipeline._Previewer, coarse, final: bool = False):
        mix = push(self, coarse, final)
        if mix is not None:
            known.append(coarse.shape[-1])
        return mix

    monkeypatch.setattr(pipeline._Previewer, "push", counting)
    context = Previews()
    request = GenerationRequest(prompt="warm keys", bpm=120.0, bars=2, stems=("drums", "bass"))
    result = generator.generate(request, 7, 4.0, context)
    hop = generator.codec.cfg.hop
    assert known[0] == FIRST_PREVIEW_FRAMES < OLD_FIRST_PREVIEW_FRAMES
    first = context.previews[0]
    assert first.shape == (2, (FIRST_PREVIEW_FRAMES - PREVIEW_LOOKAHEAD) * hop)
    for before, after in itertools.pairwise(context.previews):
        assert after.shape[1] > before.shape[1]
        assert np.array_equal(after[:, : before.shape[1]], before)  # sent audio stays
    # The last preview covers the whole clip, at most the ceiling loud.
    length = next(iter(result.stems.values())).shape[1]
    assert context.previews[-1].shape[1] == length
    assert np.abs(context.previews[-1]).max() <= 10 ** (PEAK_CEILING_DBTP / 20) + 1e-6


def _stem(rng: np.random.Generator, seconds: float, level: float, width: float
          ) -> np.ndarray:
    mid = rng.standard_normal(int(seconds * RATE))
    side = rng.standard_normal(int(seconds * RATE))
    return (level * np.stack([mid + width * side, mid - width * side])).astype(np.float32)


def _stream(finisher: PreviewFinisher, stems: dict[str, np.ndarray], chunk: int
            ) -> list[np.ndarray]:
    rows = np.stack(list(stems.values()))
    return [finisher(rows[..., i : i + chunk]) for i in range(0, rows.shape[-1], chunk)]


def test_the_preview_level_stays_near_the_finished_level() -> None:
    rng = np.random.default_rng(0)
    stems = {"drums": _stem(rng, 6.0, 0.02, 0.8), "bass": _stem(rng, 6.0, 0.005, 0.3)}
    final = finish_stems(stems, RATE, REFERENCE).stems
    target = loudness_lufs(sum(final.values()), RATE)
    raw = loudness_lufs(sum(stems.values()), RATE)
    finisher = PreviewFinisher(list(stems), RATE, REFERENCE)
    chunks = _stream(finisher, stems, int(0.24 * RATE))
    preview = np.concatenate(chunks, axis=1)
    assert abs(raw - target) > 6.0  # as decoded, the preview would be far off
    assert abs(loudness_lufs(preview, RATE) - target) < 1.0
    first = np.concatenate(chunks[:2], axis=1)  # already the first half second is levelled
    assert abs(loudness_lufs(first, RATE) - target) < 1.5


def test_the_preview_cut_only_deepens_and_keeps_the_ceiling() -> None:
    rng = np.random.default_rng(1)
    ramp = np.linspace(0.2, 3.0, 4 * RATE, dtype=np.float32)  # gets louder as it goes
    stems = {"mix": _stem(rng, 4.0, 0.05, 0.2) * ramp}
    loud = {"mix": {"lr_correlation": 0.8, "loudness_lufs": -8.0}}  # peaks over the ceiling
    finisher = PreviewFinisher(list(stems), RATE, loud)
    cuts = []
    chunks = []
    for i in range(0, 4 * RATE, RATE // 2):
        chunks.append(finisher(np.stack(list(stems.values()))[..., i : i + RATE // 2]))
        cuts.append(finisher.cut)
    assert all(b <= a for a, b in itertools.pairwise(cuts)) and cuts[-1] < cuts[0]
    ceiling = 10 ** (PEAK_CEILING_DBTP / 20)
    assert max(float(np.abs(c).max()) for c in chunks) <= ceiling * (1 + 1e-6)


def test_a_stem_silent_at_first_is_levelled_when_it_comes_in() -> None:
    rng = np.random.default_rng(2)
    bass = _stem(rng, 4.0, 0.003, 0.0)
    bass[:, : RATE] = 0.0  # comes in after a second
    stems = {"drums": _stem(rng, 4.0, 0.02, 0.5), "bass": bass}
    finisher = PreviewFinisher(list(stems), RATE, REFERENCE)
    _stream(finisher, stems, RATE // 4)
    assert finisher.settings[1] is not None  # measured once it sounded
    levelled = {name: REFERENCE[name] for name in stems}  # the stems' own levels, unmastered
    final = finish_stems(stems, RATE, levelled).stems
    finished_gain = float(np.abs(final["bass"]).max() / np.abs(bass).max())
    assert abs(finisher.settings[1][1] - 20 * np.log10(finished_gain)) < 1.5


def test_a_kept_take_previews_at_its_kept_gain() -> None:
    rng = np.random.default_rng(3)
    stems = {"bass": _stem(rng, 4.0, 0.01, 0.0)}
    kept = {1: Mastering(3.0)}
    finisher = PreviewFinisher(list(stems), RATE, REFERENCE, kept)
    preview = np.concatenate(_stream(finisher, stems, RATE // 4), axis=1)
    final = finish_stems(stems, RATE, REFERENCE, kept).stems["bass"]
    assert finisher.mix_level is None  # the kept gain, not the mix target, sets the level
    assert abs(loudness_lufs(preview, RATE) - loudness_lufs(final, RATE)) < 1.0
    assert abs(loudness_lufs(final, RATE) - (REFERENCE["bass"]["loudness_lufs"] + 3.0)) < 0.3
