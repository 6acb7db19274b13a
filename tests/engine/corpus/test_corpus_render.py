"""Real FluidSynth renders: deterministic, fresh synth per stem, the mix is the stems' sum."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from engine.corpus.composer import compose, sample_spec, to_midi
from engine.corpus.example import make_example
from engine.corpus.render import SAMPLE_RATE, render_track


def _decode(data: bytes) -> np.ndarray:
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE
    return audio.T


def test_same_seed_same_bytes_other_seed_other_bytes(short_seeds, fluidsynth) -> None:
    first, second = short_seeds(2)
    meta_a, files_a = make_example(first)
    meta_b, files_b = make_example(first)
    assert files_a == files_b
    assert meta_a == meta_b
    _, files_c = make_example(second)
    assert files_c["mix.flac"] != files_a["mix.flac"]


def test_stems_sum_exactly_to_the_mix(short_seeds, fluidsynth) -> None:
    for seed in short_seeds(3):
        meta, files = make_example(seed)
        stems = [_decode(files[f"{s['name']}.flac"]) for s in meta["stems"]]
        mix = _decode(files["mix.flac"])
        assert 2 <= len(stems) <= 6
        assert mix.shape == (2, meta["frames"])
        assert abs(meta["frames"] / SAMPLE_RATE - meta["seconds"]) < 1e-3
        total = np.sum([s.astype(np.float64) for s in stems], axis=0)
        assert np.array_equal(total, mix.astype(np.float64))
        assert 0.1 < np.abs(mix).max() < 1.0
        assert all(np.abs(s).max() > 0 for s in stems)  # every stem is heard


def test_a_stem_renders_the_same_whatever_was_rendered_before(short_seeds, fluidsynth) -> None:
    spec = sample_spec(short_seeds(1)[0])
    midi = to_midi(compose(spec))
    frames = round(spec.seconds * SAMPLE_RATE)
    alone = render_track(midi.tracks[-1], midi.ticks_per_beat, spec.bpm, frames)
    for track in midi.tracks[1:]:
        render_track(track, midi.ticks_per_beat, spec.bpm, frames)
    again = render_track(midi.tracks[-1], midi.ticks_per_beat, spec.bpm, frames)
    assert alone.dtype == np.float32 and alone.shape == (2, frames)
    assert np.array_equal(alone, again)
