"""The generator's building blocks, each against what it must mean musically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.generator import conditions as cond
from engine.generator.patterns import delayed, undelayed
from engine.generator.semantic import FrameFeatures, SemanticTokenizer
from engine.melody.key import estimate_key
from engine.melody.tokens import NO_MELODY, REST, MelodyNote, melody_tokens
from engine.models.transformer import sample_next

SR = 32000


def _tone(midi: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * 2 ** ((midi - 69) / 12) * t)).astype(np.float32)


def test_delay_pattern_shifts_each_level_and_inverts() -> None:
    codes = torch.arange(2 * 3 * 5).view(1, 2, 3, 5)
    streams = delayed(codes, pad=-1)
    assert streams.shape == (1, 6, 7)
    # Level 2 of channel 1 starts two frames late, after pads.
    assert streams[0, 2 * 2 + 1, :2].tolist() == [-1, -1]
    assert streams[0, 5, 2:].tolist() == codes[0, 1, 2].tolist()
    assert torch.equal(undelayed(streams, channels=2, frames=5), codes)


@pytest.mark.parametrize("name", ["C major", "A minor", "F# minor", "Bb major", "Eb minor"])
def test_key_index_round_trips(name: str) -> None:
    assert cond.key_name(cond.key_index(name)) == name


def test_key_index_folds_modes_and_aliases() -> None:
    assert cond.key_index("D dorian") == cond.key_index("D minor")
    assert cond.key_index("A# major") == cond.key_index("Bb major")
    assert cond.key_index("") == cond.NULL_KEY
    with pytest.raises(ValueError, match="unknown key"):
        cond.key_index("H minor")


def test_timing_features_mark_beats_and_bars() -> None:
    # 120 BPM, 50 frames per second: a beat every 25 frames, a 4/4 bar every 100.
    features = cond.timing_features(400, 50, 120, "4/4", 0.0, 8.0)
    beat_cos, bar_cos = features[:, 1], features[:, 3]
    assert np.allclose(beat_cos[[0, 25, 50, 75]], 1.0, atol=1e-5)
    assert np.allclose(bar_cos[[0, 100, 200]], 1.0, atol=1e-5)
    assert bar_cos[50] == pytest.approx(-1.0, abs=1e-5)  # half a bar in
    assert features[-1, 7] == pytest.approx(399 / 400, abs=1e-3)  # progress
    three_four = cond.timing_features(400, 50, 120, "3/4", 0.0, 8.0)
    assert three_four[75, 3] == pytest.approx(1.0, abs=1e-5)  # a 3/4 bar is 75 frames


def test_bpm_buckets_are_monotonic_and_bounded() -> None:
    buckets = [cond.bpm_bucket(b) for b in range(20, 320, 5)]
    assert buckets == sorted(buckets)
    assert buckets[0] == 0 and buckets[-1] == cond.BPM_BUCKETS - 1


def test_melody_tokens_follow_the_skyline() -> None:
    notes = [MelodyNote(0.0, 1.0, 60), MelodyNote(0.5, 1.5, 67), MelodyNote(2.0, 2.5, 69)]
    tokens = melody_tokens(notes, 75, 25)
    assert tokens[5] == 1 + 0  # C
    assert tokens[20] == 1 + 7  # G is higher than the C it overlaps
    assert tokens[45] == REST
    assert tokens[55] == 1 + 9  # A
    assert NO_MELODY not in tokens


def test_chroma_finds_the_pitch_class_of_a_tone() -> None:
    features = FrameFeatures()(_tone(64))  # E4
    assert features.shape[1] == 27
    assert int(features[5:-5, :12].mean(0).argmax()) == 4


def test_semantic_tokenizer_separates_different_sounds() -> None:
    features = FrameFeatures()
    a, b = features(_tone(60, 2.0)), features(_tone(66, 2.0))
    tokenizer = SemanticTokenizer.fit(np.concatenate([a, b]), k=2, seed=0)
    ta, tb = tokenizer.tokens(_tone(60, 2.0))[5:-5], tokenizer.tokens(_tone(66, 2.0))[5:-5]
    assert len(set(ta)) == 1 and len(set(tb)) == 1 and ta[0] != tb[0]


def test_transposed_features_take_the_token_of_the_transposed_sound(tmp_path: Path) -> None:
    features = FrameFeatures()
    tones = [features(_tone(60 + step, 1.0))[5:-5] for step in range(12)]  # C4 .. B4
    # One centroid per pitch class: k-means over the twelve tones' mean frames.
    tokenizer = SemanticTokenizer.fit(np.stack([t.mean(0) for t in tones]), k=12, seed=0)
    tokenizer.save(tmp_path / "tokenizer.npz")
    tokenizer = SemanticTokenizer.load(tmp_path / "tokenizer.npz")
    token_of = [int(np.median(tokenizer.tokens_of_features(tone))) for tone in tones]
    assert len(set(token_of)) == 12
    for step in (0, 2, 7):
        moved = tokenizer.transposed(tones[0], step)
        assert int(np.median(moved)) == token_of[step]


def _chord_audio(pitches: list[int], seconds: float = 1.0) -> np.ndarray:
    return sum(_tone(p, seconds) for p in pitches)


@pytest.mark.parametrize(("chords", "key"), [
    ([[60, 64, 67], [65, 69, 72], [67, 71, 74], [60, 64, 67]], "C major"),
    ([[57, 60, 64], [62, 65, 69], [64, 68, 71], [57, 60, 64]], "A minor"),
])
def test_key_estimate_from_a_cadence(chords: list[list[int]], key: str) -> None:
    audio = np.concatenate([_chord_audio(c) for c in chords])
    chroma = FrameFeatures()(audio)[:, :12].sum(0)
    assert estimate_key(chroma) == key


def test_top_p_keeps_only_the_nucleus() -> None:
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.05, 0.05]]))
    generator = torch.Generator().manual_seed(0)
    drawn = {int(sample_next(logits, generator, top_p=0.8)) for _ in range(200)}
    assert drawn == {0, 1}
    greedy = sample_next(logits, generator, temperature=0)
    assert int(greedy) == 0


def test_chroma_cosine_is_high_for_the_played_tune_and_low_for_another() -> None:
    from engine.generator.melody_eval import SAMPLE_RATE, chroma_cosine

    pitches = (60, 62, 64, 65, 67, 65, 64, 62)
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    audio = np.concatenate([np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in pitches])
    stereo = np.stack([audio, audio]).astype(np.float32)
    played = [MelodyNote(0.5 * i, 0.5 * i + 0.5, p) for i, p in enumerate(pitches)]
    elsewhere = [MelodyNote(n.start, n.end, n.pitch + 6) for n in played]
    assert chroma_cosine(played, stereo) > 0.8
    assert chroma_cosine(elsewhere, stereo) < 0.2


def test_the_key_prior_favours_tokens_that_sound_in_the_key() -> None:
    from engine.generator.key_prior import key_fit, key_prior

    features = FrameFeatures()
    tones = [features(_tone(60 + step, 1.0))[5:-5] for step in range(12)]
    tokenizer = SemanticTokenizer.fit(np.stack([t.mean(0) for t in tones]), k=12, seed=0)
    token_of = [int(np.median(tokenizer.tokens_of_features(tone))) for tone in tones]
    c_major = key_fit(tokenizer, cond.key_index("C major"))
    in_key = [c_major[token_of[pc]] for pc in (0, 4, 7)]  # C E G
    out_of_key = [c_major[token_of[pc]] for pc in (1, 6, 8)]  # C# F# G#
    assert min(in_key) > max(out_of_key)
    assert key_prior(tokenizer, cond.NULL_KEY) is None
    prior = key_prior(tokenizer, cond.key_index("C major"), strength=2.0)
    assert prior is not None and prior.shape == (12,) and float(prior.abs().max()) <= 2.0
