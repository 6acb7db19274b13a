"""The melody as a MIDI clip, so the host can put the transcription on a track of its own."""

from __future__ import annotations

import io
from collections.abc import Sequence

import mido

from engine.melody.grid import STEPS_PER_BEAT, quantize
from engine.melody.tokens import MelodyNote

TICKS_PER_BEAT = 480
VELOCITY = 100


def melody_to_midi(notes: Sequence[MelodyNote], bpm: float, name: str = "Melody") -> bytes:
    """A type-1 standard MIDI file: a tempo track at `bpm`, then one track `name` on channel 1
    holding `notes` snapped to sixteenths (times in seconds from the clip's start)."""
    tick = TICKS_PER_BEAT // STEPS_PER_BEAT
    step = 60.0 / bpm / STEPS_PER_BEAT
    events = []  # (tick, order, message): note-offs before note-ons at the same tick
    for note in quantize(notes, step):
        pitch = min(127, max(0, note.pitch))
        events.append((round(note.start / step) * tick, 1,
                       mido.Message("note_on", note=pitch, velocity=VELOCITY)))
        events.append((round(note.end / step) * tick, 0,
                       mido.Message("note_off", note=pitch, velocity=0)))
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)])
    melody = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    now = 0
    for at, _, message in sorted(events, key=lambda event: event[:2]):
        melody.append(message.copy(time=at - now))
        now = at
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT, tracks=[tempo, melody])
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()
