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


# Rhythm cells of a sung bar, in beats (a negative length is a rest), and how often each is
# sung: quarters, eighths, dotted figures, half notes, rests.
CELLS = [[1.0], [0.5, 0.5], [1.5, 0.5], [2.0], [-1.0], [1.0, 1.0], [0.75, 0.25], [3.0],
         [-0.5, 0.5]]
CELL_ODDS = np.array([6, 4, 2, 3, 1, 2, 1, 1, 1], float) / 21


def sung_rhythm(bars: int, rng: np.random.Generator, per_bar: int = 4,
                pickup: bool = False) -> list[tuple[float, float]]:
    """(start, length) in beats of a made-up tune of `bars` bars: each bar starts with a
    note, rests come inside bars, and most tunes close on a long note on the last downbeat.
    A pickup is sung in the beat before the first bar line (negative beats)."""
    events = [(-1.0, 0.9)] if pickup else []
    for bar in range(bars):
        position = 0.0
        while position < per_bar:
            for _ in range(50):
                cell = CELLS[rng.choice(len(CELLS), p=CELL_ODDS)]
                if (position + sum(map(abs, cell)) <= per_bar
                        and not (position == 0 and cell[0] < 0)):
                    break
            else:
                cell = [per_bar - position]
            for length in cell:
                if length > 0:
                    events.append((bar * per_bar + position, length))
                position += abs(length)
    if bars > 1 and rng.random() < 0.7:
        last = (bars - 1) * per_bar
        events = [e for e in events if e[0] < last] + [(last, float(per_bar))]
    return events


def sung_take(bpm: float, bars: int, seed: int, per_bar: int = 4, pickup: bool = False,
              jitter: float = 0.025, drift: float = 0.0) -> tuple[list[MelodyNote], float]:
    """Notes of a tune sung without a click at about `bpm` (every onset off by a normal
    `jitter` in seconds, the tempo sliding by `drift` over the take), after a random silence;
    and the time of its first bar line (after the pickup, if any)."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    downbeat = float(rng.uniform(0.1, 1.0)) + (beat if pickup else 0.0)
    total = bars * per_bar

    def time(at: float) -> float:
        return downbeat + at * beat * (1 + drift * at / total / 2)

    notes, pitch = [], 62
    for start, length in sung_rhythm(bars, rng, per_bar, pickup):
        onset = max(0.0, time(start) + float(rng.normal(0, jitter)))
        end = max(onset + 0.05, time(start + length * float(rng.uniform(0.75, 0.95))))
        notes.append(MelodyNote(onset, end, pitch))
        pitch = int(np.clip(pitch + rng.choice([-2, -1, 1, 2, 3]), 55, 72))
    return notes, downbeat
