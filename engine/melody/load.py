"""One entry point for a melody file: a MIDI clip or a recorded hum becomes a note list.

What the file is comes from its content, not its name: a standard MIDI file starts with
"MThd"; anything else is tried as audio. Whatever cannot be used raises ``MelodyError``
(a ValueError) with a message a producer can act on.
"""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from engine.melody.from_midi import midi_melody
from engine.melody.tokens import MelodyNote
from engine.melody.transcribe import transcribe

MAX_SECONDS = 300.0  # a hum longer than this is not a melody for one clip
SILENT_PEAK = 1e-4  # -80 dBFS: a recording whose loudest sample is under this is silence


class MelodyError(ValueError):
    """A melody file that cannot be used: missing, unreadable, empty, silent or too long."""


def load_melody(path: str | Path, bpm: float | None = None) -> list[MelodyNote]:
    """The melody of a MIDI file or of a recorded hum (any audio soundfile reads: WAV, FLAC,
    AIFF, OGG, MP3), as notes in seconds from the file's start. With `bpm` a MIDI file's
    beats are read at that tempo rather than its own; a hum is in real seconds either way."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MelodyError(f"melody file {path} does not exist") from None
    except OSError as error:
        raise MelodyError(f"melody file {path} cannot be read: {error.strerror}") from None
    if not data:
        raise MelodyError(f"melody file {path} is empty")
    notes = midi_notes(data, path, bpm) if data.startswith(b"MThd") else hum_notes(data, path)
    if not notes:
        raise MelodyError(f"no melody in {path}: "
                          + ("it has no notes outside the drum channel"
                             if data.startswith(b"MThd") else "nothing in it is sung or played"))
    return notes


def midi_notes(data: bytes, path: Path, bpm: float | None = None) -> list[MelodyNote]:
    """The melody of the standard MIDI file `data` (read from `path`), at `bpm` if given."""
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise MelodyError(f"{path} is not a readable MIDI file ({error})") from None
    return midi_melody(midi, bpm)


def hum_notes(data: bytes, path: Path) -> list[MelodyNote]:
    """The notes sung or played in the audio file `data` (read from `path`)."""
    try:
        # The header first: a small FLAC can hold hours, which must not be decoded to refuse.
        seconds = sf.info(io.BytesIO(data)).duration
        if seconds > MAX_SECONDS:
            raise MelodyError(f"{path} is {seconds:.0f} s long; a melody may be at most "
                              f"{MAX_SECONDS:.0f} s")
        audio, sample_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except sf.SoundFileError as error:
        raise MelodyError(f"{path} is neither a MIDI file nor audio that can be read "
                          f"(WAV, FLAC, AIFF, OGG or MP3): {error}") from None
    if not len(audio):
        raise MelodyError(f"{path} holds no audio")
    mono = audio.mean(axis=1)
    if float(np.abs(mono).max()) < SILENT_PEAK:
        raise MelodyError(f"{path} is silent: record the hum again closer to the microphone")
    return transcribe(mono, sample_rate)
