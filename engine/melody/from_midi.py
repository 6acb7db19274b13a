"""A melody from a MIDI file, in seconds: the part and line ``bridge.midi_melody`` picks (the
same picker the studio shows), timed through the file's tempo map or at a session's tempo.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import mido

from bridge.midi_melody import melody_line
from engine.melody.tokens import MelodyNote

DEFAULT_TEMPO = 500000  # µs per beat (120 BPM) until a file says otherwise


def midi_melody(midi: mido.MidiFile, bpm: float | None = None) -> list[MelodyNote]:
    """The melody of `midi` in seconds (empty when no part other than drums has notes): under
    the file's tempo map, or with `bpm` beat for beat at that tempo (a clip played in a
    session at another tempo keeps its rhythm)."""
    found = melody_line(midi.tracks, midi.ticks_per_beat)
    if found is None:
        return []
    seconds = tick_clock(midi, bpm)
    return [MelodyNote(seconds(note.start), seconds(note.end), note.pitch) for note in found[1]]


def tick_clock(midi: mido.MidiFile, bpm: float | None = None) -> Callable[[int], float]:
    """A function from absolute ticks to seconds under the file's tempo map (the tempo
    changes of every track, as a type-1 file may put them anywhere), or at a constant `bpm`."""
    if bpm is not None:
        return lambda tick: tick / midi.ticks_per_beat * 60.0 / bpm
    changes: dict[int, int] = {0: DEFAULT_TEMPO}
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type == "set_tempo":
                changes[now] = message.tempo
    ticks = sorted(changes)
    tempos = [changes[t] for t in ticks]
    elapsed = [0.0]
    for k in range(1, len(ticks)):
        elapsed.append(elapsed[-1] + mido.tick2second(ticks[k] - ticks[k - 1], midi.ticks_per_beat,
                                                      tempos[k - 1]))

    def seconds(tick: int) -> float:
        k = bisect_right(ticks, tick) - 1
        return elapsed[k] + mido.tick2second(tick - ticks[k], midi.ticks_per_beat, tempos[k])

    return seconds
