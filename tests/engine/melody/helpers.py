"""Test material: synthetic hums with known notes, and MIDI files written with mido."""

from __future__ import annotations

import io

import mido
import numpy as np

from engine.corpus.hum import HumNote, synth_hum
from engine.melody.tokens import MelodyNote

RATE = 32000


def tune(seconds: float, start: float = 0.2, seed: int = 0) -> list[HumNote]:
    """A stepwise tune of quarter and eighth notes at 100 BPM with short rests between."""
    rng = np.random.default_rng(seed)
    notes, now, pitch = [], start, 62
    while now < seconds - 0.7:
        length = float(rng.choice([0.3, 0.6]))
        notes.append(HumNote(now, now + length * 0.9, pitch))
        pitch = int(np.clip(pitch + rng.choice([-3, -2, -1, 1, 2, 4]), 55, 72))
        now += length
    return notes


def hum(notes: list[HumNote], seconds: float, seed: int) -> tuple[np.ndarray, list[MelodyNote]]:
    """The corpus's synthetic hum of `notes` (scoops, vibrato, drift, intonation error,
    breath and room noise, all drawn from `seed`) and the notes it really sings: the tune
    moved into the voice's range."""
    audio, info = synth_hum(notes, seconds, np.random.default_rng(seed), RATE)
    shift = info["transpose"]
    return audio, [MelodyNote(n.start, n.end, n.pitch + shift) for n in notes]


def midi_file(tracks: list[tuple[str, list[tuple[int, float, float, int]]]],
              bpm: float = 120.0, midi_type: int = 1, ticks_per_beat: int = 480) -> bytes:
    """A standard MIDI file: a tempo track, then one track per (name, notes), each note
    (channel, start beat, end beat, pitch). Type 0 puts every note in one track."""
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))])
    made = []
    for name, notes in tracks:
        events = []
        for channel, start, end, pitch in notes:
            events.append((round(start * ticks_per_beat), 1,
                           mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
            events.append((round(end * ticks_per_beat), 0,
                           mido.Message("note_on", channel=channel, note=pitch, velocity=0)))
        made.append((name, sorted(events, key=lambda e: e[:2])))
    if midi_type == 0:
        merged = sorted((e for _, events in made for e in events), key=lambda e: e[:2])
        made = [("", merged)]
        tracks_out = []
    else:
        tracks_out = [tempo]
    for name, events in made:
        track = mido.MidiTrack()
        if midi_type == 0:
            track.extend(tempo)
        if name:
            track.append(mido.MetaMessage("track_name", name=name))
        now = 0
        for at, _, message in events:
            track.append(message.copy(time=at - now))
            now = at
        tracks_out.append(track)
    buffer = io.BytesIO()
    mido.MidiFile(type=midi_type, ticks_per_beat=ticks_per_beat, tracks=tracks_out).save(
        file=buffer)
    return buffer.getvalue()


def beats(notes: list[MelodyNote], bpm: float = 120.0) -> list[tuple[float, float, int]]:
    """(start, end, pitch) in beats, rounded to a 64th, for comparing with what was written."""
    per = bpm / 60.0
    return [(round(n.start * per * 16) / 16, round(n.end * per * 16) / 16, n.pitch)
            for n in notes]
