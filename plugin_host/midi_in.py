"""MIDI in: the melody of a MIDI file or clip, and notes played live into a MIDI input port.

A file's melody is the part and line :mod:`bridge.midi_melody` picks, the same the engine
follows, timed in beats and, through the file's tempo map, in seconds. A live take is recorded
for a number of bars at the DAW's tempo into a MIDI file, whose melody is read the same way.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mido

from bridge.midi_melody import melody_line

DEFAULT_TEMPO = 500_000  # microseconds per beat: 120 bpm, the MIDI default
TICKS_PER_BEAT = 480
# How often a live capture looks at the port: timing resolution, against CPU use.
_POLL_S = 0.001


class MidiReadError(ValueError):
    """A MIDI file that cannot be read, or one with no melody in it."""


@dataclass(frozen=True)
class MelodyNote:
    """One note of a melody: start and end in beats (quarter notes) and in seconds."""

    start_beat: float
    end_beat: float
    start_s: float
    end_s: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Melody:
    """A monophonic line, the tempo and meter it starts in, and which part it came from."""

    notes: tuple[MelodyNote, ...]
    bpm: float
    time_signature: tuple[int, int]
    part: str


def read_melody(source: str | os.PathLike[str] | mido.MidiFile) -> Melody:
    """The melody of a MIDI file (a path) or clip (a ``mido.MidiFile``).

    Raises MidiReadError if the file is corrupt, SMPTE-timed, or has no notes off the drum
    channel.
    """
    midi = source if isinstance(source, mido.MidiFile) else _load(source)
    label = os.fspath(midi.filename) if midi.filename else "the MIDI clip"
    ticks_per_beat = midi.ticks_per_beat
    if not 0 < ticks_per_beat < 0x8000:
        raise MidiReadError(f"{label}: SMPTE-timed MIDI files are not supported")
    tempo_map = _TempoMap(midi)
    found = melody_line(midi.tracks, ticks_per_beat)
    if found is None:
        raise MidiReadError(f"{label}: no notes outside the drum channel, so no melody")
    part, line = found
    notes = tuple(
        MelodyNote(start_beat=note.start / ticks_per_beat, end_beat=note.end / ticks_per_beat,
                   start_s=tempo_map.seconds(note.start), end_s=tempo_map.seconds(note.end),
                   pitch=note.pitch, velocity=note.velocity)
        for note in line)
    return Melody(notes=notes, bpm=mido.tempo2bpm(tempo_map.tempo_at_start),
                  time_signature=_time_signature(midi), part=part.label)


def list_midi_inputs(backend: str | None = None) -> list[str]:
    """Names of the MIDI input ports of ``backend`` (mido's default, or e.g.
    ``"mido.backends.rtmidi/UNIX_JACK"``)."""
    return list(_backend(backend).get_input_names())


def open_midi_input(name: str | None = None, backend: str | None = None) -> Any:
    """Open a MIDI input port by (part of) its name; the first port for None.

    Raises OSError naming the ports there are when none matches.
    """
    names = list_midi_inputs(backend)
    matches = names if name is None else (
        [port for port in names if port == name]
        or [port for port in names if name.casefold() in port.casefold()])
    if not matches:
        raise OSError(f"no MIDI input port matches {name!r}; there are: "
                      f"{', '.join(names) or 'none'}")
    return _backend(backend).open_input(matches[0])


def capture_midi(port: Any, bpm: float, bars: float, time_signature: tuple[int, int] = (4, 4),
                 stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> mido.MidiFile:
    """Record what is played into ``port`` (any mido input port) for ``bars`` bars at ``bpm``,
    from now, which is the downbeat; return it as a one-track MIDI file at that tempo.

    Notes still held at the end are ended there. Setting ``stop`` ends the capture (and the
    file) early.
    Messages are timed when they are taken from the port, polled every millisecond.
    """
    if not bpm > 0 or not bars > 0:
        raise ValueError(f"bpm and bars must be positive, got {bpm!r} and {bars!r}")
    numerator, denominator = time_signature
    length_beats = bars * numerator * 4 / denominator
    stop = stop or threading.Event()
    start = clock()
    end = start + length_beats * 60.0 / bpm
    received: list[tuple[float, mido.Message]] = []
    while (now := clock()) < end and not stop.is_set():
        message = port.poll()
        if message is None:
            stop.wait(_POLL_S)
        elif message.type in ("note_on", "note_off"):
            received.append((now - start, message))
    seconds = min(now, end) - start
    return _as_midi_file(received, bpm, time_signature,
                         round(seconds * bpm / 60.0 * TICKS_PER_BEAT))


def _load(path: str | os.PathLike[str]) -> mido.MidiFile:
    try:
        return mido.MidiFile(os.fspath(path))
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        # mido reports damage as whatever its parser tripped on.
        raise MidiReadError(f"{os.fspath(path)!r} is not a readable MIDI file: "
                            f"{error or type(error).__name__}") from error


def _backend(name: str | None) -> Any:
    return mido.Backend(name) if name else mido.backend


def _time_signature(midi: mido.MidiFile) -> tuple[int, int]:
    """The meter at the start (the first time signature in the file), 4/4 if none is given."""
    for message in mido.merge_tracks(midi.tracks):
        if message.type == "time_signature":
            return message.numerator, message.denominator
    return 4, 4


class _TempoMap:
    """Ticks to seconds through every tempo change of the file (any track, as type 1 has them
    in the first)."""

    def __init__(self, midi: mido.MidiFile) -> None:
        self._ticks_per_beat: int = midi.ticks_per_beat
        changes: dict[int, int] = {}
        now = 0
        for message in mido.merge_tracks(midi.tracks):
            now += message.time
            if message.type == "set_tempo":
                changes[now] = message.tempo  # the last change at one tick wins
        changes.setdefault(0, DEFAULT_TEMPO)
        self._ticks = sorted(changes)
        self._tempi = [changes[tick] for tick in self._ticks]
        self._seconds = [0.0]
        for i in range(1, len(self._ticks)):
            self._seconds.append(self._seconds[-1] + self._span(i - 1, self._ticks[i]))

    @property
    def tempo_at_start(self) -> int:
        """Microseconds per beat at tick 0."""
        return self._tempi[0]

    def seconds(self, tick: int) -> float:
        """Seconds from the start of the file to ``tick``."""
        i = bisect.bisect_right(self._ticks, tick) - 1
        return self._seconds[i] + self._span(i, tick)

    def _span(self, i: int, tick: int) -> float:
        return (tick - self._ticks[i]) * self._tempi[i] / 1e6 / self._ticks_per_beat


def _as_midi_file(received: list[tuple[float, mido.Message]], bpm: float,
                  time_signature: tuple[int, int], end_tick: int) -> mido.MidiFile:
    """A one-track file of timed note messages; notes held at ``end_tick`` are ended there."""
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=time_signature[0],
                                  denominator=time_signature[1], time=0))
    ticks_per_second = bpm / 60.0 * TICKS_PER_BEAT
    held: set[tuple[int, int]] = set()
    last = 0
    for seconds, message in received:
        tick = min(end_tick, round(seconds * ticks_per_second))
        voice = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            held.add(voice)
        else:
            held.discard(voice)
        track.append(message.copy(time=tick - last))
        last = tick
    for channel, note in sorted(held):
        track.append(mido.Message("note_off", channel=channel, note=note, time=end_tick - last))
        last = end_tick
    track.append(mido.MetaMessage("end_of_track", time=end_tick - last))
    return midi
