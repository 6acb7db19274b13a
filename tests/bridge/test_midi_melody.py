"""One MIDI melody picker: the studio (plugin_host.midi_in) shows the part and line the engine
(engine.melody.from_midi) follows, on multi-track files made here with mido."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from bridge.midi_melody import TickNote, choose_part, pair_notes, read_parts
from engine.melody.from_midi import midi_melody
from plugin_host.midi_in import read_melody

TPB = 480
TUNE = [(0, 1, 72), (1, 0.5, 74), (1.5, 0.5, 76), (2, 1, 79), (3, 2, 77), (5, 1, 72)]
HIGH_RUN = [(beat, 1, 84 + beat % 4) for beat in range(6)]
LOW_SONG = [(0, 2, 55), (2, 1, 57), (3, 1, 59), (4, 2, 52)]
BASS = [(beat, 1, 36 + beat % 3) for beat in range(6)]
CHORDS = [(beat, 3, pitch) for beat in (0, 3) for pitch in (60, 64, 67)]
DRUMS = [(beat / 2, 0.25, 96) for beat in range(12)]  # high "notes" that are drum sounds
# A strum, a tune over a held chord, and an inner voice under a held top note.
HARMONIZED = ([(i * 10 / TPB, 2, pitch) for i, pitch in enumerate((48, 55, 64, 67))]
              + [(2, 1, 72), (3, 1, 74), (4, 2, 76), (2, 4, 60), (2, 4, 64), (4.5, 0.5, 71)])


def events(notes: list[tuple[float, float, int]], channel: int) -> list[tuple[int, mido.Message]]:
    """Absolute-tick note messages of (start beat, length in beats, pitch) notes."""
    out = []
    for start, length, pitch in notes:
        out.append((round(start * TPB), mido.Message("note_on", channel=channel, note=pitch,
                                                     velocity=90)))
        out.append((round((start + length) * TPB), mido.Message("note_off", channel=channel,
                                                                note=pitch)))
    return out


def track(parts: list[tuple[list[tuple[float, float, int]], int]], name: str | None = None,
          tempi: tuple[tuple[float, float], ...] = ()) -> mido.MidiTrack:
    """One track holding `parts` ((notes, channel) each), a name, and (beat, bpm) tempi."""
    timed = [(round(beat * TPB), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
             for beat, bpm in tempi]
    for notes, channel in parts:
        timed += events(notes, channel)
    timed.sort(key=lambda item: (item[0], item[1].type == "note_on"))  # offs before ons
    out = mido.MidiTrack([mido.MetaMessage("track_name", name=name)] if name else [])
    now = 0
    for tick, message in timed:
        out.append(message.copy(time=tick - now))
        now = tick
    return out


def multitrack(*tracks: mido.MidiTrack, kind: int = 1) -> mido.MidiFile:
    midi = mido.MidiFile(type=kind, ticks_per_beat=TPB)
    midi.tracks.extend(tracks)
    return midi


FILES = {
    # The high single line beats drums (higher still), chords and bass.
    "unnamed tune": (multitrack(track([(TUNE, 0)]), track([(CHORDS, 1)], "Pad"),
                                track([(BASS, 2)], "Bass"), track([(DRUMS, 9)], "Drums")),
                     [72, 74, 76, 79, 77, 72]),
    # A part named as the tune wins outright, even under a higher, moving unnamed part.
    "named vocal": (multitrack(track([(HIGH_RUN, 0)], "Arp"), track([(LOW_SONG, 1)], "Vocal"),
                               track([(BASS, 2)])),
                    [55, 57, 59, 52]),
    # Type 0: every instrument in one track, told apart by channel.
    "type 0": (multitrack(track([(CHORDS, 0), (TUNE, 1), (BASS, 2), (DRUMS, 9)]), kind=0),
               [72, 74, 76, 79, 77, 72]),
    # One harmonized piano part reduced to its top line, with tempo changes on the way.
    "harmonized": (multitrack(track([], "Conductor", tempi=((0, 90), (3, 140))),
                              track([(HARMONIZED, 0)], "Piano"), track([(BASS, 1)], "Bass")),
                   [67, 72, 74, 76]),
}


@pytest.mark.parametrize("name", list(FILES))
def test_studio_and_engine_pick_the_same_line(name: str, tmp_path: Path) -> None:
    midi, pitches = FILES[name]
    path = tmp_path / "clip.mid"
    midi.save(path)
    engine = midi_melody(mido.MidiFile(path))
    studio = read_melody(path).notes
    assert [note.pitch for note in engine] == pitches
    assert [note.pitch for note in studio] == pitches
    times = [time for note in engine for time in (note.start, note.end)]
    assert [time for note in studio for time in (note.start_s, note.end_s)] == pytest.approx(
        times, abs=1e-9)
    assert times[-1] > times[0]


def test_the_studio_names_the_part_it_shows(tmp_path: Path) -> None:
    path = tmp_path / "clip.mid"
    FILES["named vocal"][0].save(path)
    assert read_melody(path).part == "Vocal"
    FILES["type 0"][0].save(path)
    assert read_melody(path).part == "track 1, channel 2"


def test_pairing_is_first_in_first_out_and_ends_held_notes_at_the_end() -> None:
    """Two overlapping C4s pair in order; velocity 0 is an off; a note never let go ends
    with the stream."""
    messages = [mido.Message("note_on", note=60, velocity=80, time=0),
                mido.Message("note_on", note=60, velocity=70, time=10),
                mido.Message("note_on", note=60, velocity=0, time=10),
                mido.Message("note_off", note=60, time=10),
                mido.Message("note_on", channel=3, note=64, velocity=50, time=5)]
    notes, length = pair_notes(messages)
    assert length == 35
    assert notes == [TickNote(0, 20, 0, 60, 80), TickNote(10, 30, 0, 60, 70),
                     TickNote(35, 35, 3, 64, 50)]


def test_a_part_of_only_zero_length_notes_is_no_melody() -> None:
    """Notes that end where they start are not heard (and once divided by zero)."""
    blips = mido.MidiTrack([mido.MetaMessage("track_name", name="Lead")])
    for beat in range(4):
        blips.append(mido.Message("note_on", note=90, velocity=90, time=TPB if beat else 0))
        blips.append(mido.Message("note_off", note=90, time=0))
    parts = read_parts([blips, track([(BASS, 1)])])
    chosen = choose_part(parts, 30)
    assert chosen is not None and chosen.channel == 1
    assert midi_melody(multitrack(blips)) == []
