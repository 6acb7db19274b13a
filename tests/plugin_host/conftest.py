"""Shared fixtures for the plugin_host tests: real clip WAVs and MIDI files on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mido
import numpy as np
import pytest

from plugin_host.clips import AcidInfo, write_clip

ClipMaker = Callable[..., Path]


@pytest.fixture
def make_clip(tmp_path: Path) -> ClipMaker:
    """Write a real clip WAV: ``make_clip("drums", seconds=2.0, bpm=120, beats=4)``.

    Its ACID chunk says ``bpm`` and ``meter``: adapters refuse a clip made off their grid."""

    def make(name: str, seconds: float = 2.0, sample_rate: int = 48000, bpm: float = 120.0,
             beats: int = 4, folder: Path | None = None, seed: int = 0,
             meter: tuple[int, int] = (4, 4)) -> Path:
        frames = round(seconds * sample_rate)
        audio = np.random.default_rng(seed).uniform(-0.5, 0.5, size=(frames, 2))
        file_name = name if name.endswith(".wav") else f"{name}.wav"
        path = (folder or tmp_path / "clips") / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_clip(path, audio, sample_rate, AcidInfo(tempo=bpm, beats=beats, meter=meter))

    return make


@pytest.fixture
def midi_file(tmp_path: Path) -> Path:
    """A one-track MIDI file: C4 for a beat, E4 for half a beat from beat 1.5, length 2 beats."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100), time=0))
    track.append(mido.Message("note_on", note=60, velocity=100, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    track.append(mido.Message("note_on", note=64, velocity=64, time=240))
    track.append(mido.Message("note_on", note=64, velocity=0, time=240))  # running-status off
    path = tmp_path / "melody.mid"
    midi.save(path)
    return path
