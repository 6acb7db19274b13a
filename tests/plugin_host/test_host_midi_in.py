"""MIDI in: melodies picked from real multi-part files, corrupt files, and live capture through
mido's in-memory port and a real JACK MIDI port (jackd with the dummy driver)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import mido
import pytest

from bridge.midi_melody import TickNote, skyline
from plugin_host.midi_in import (
    MidiReadError,
    capture_midi,
    list_midi_inputs,
    open_midi_input,
    read_melody,
)
from tests.plugin_host.sound_servers import jack_dummy_server

TPB = 480
JACK = "mido.backends.rtmidi/UNIX_JACK"

# (start beat, length in beats, pitch) of each part
TUNE = [(0, 1, 72), (1, 0.5, 74), (1.5, 0.5, 76), (2, 1, 79), (3, 2, 77), (5, 1, 72)]
BASS = [(beat, 1, 36 + beat % 3) for beat in range(6)]
CHORDS = [(beat, 3, pitch) for beat in (0, 3) for pitch in (60, 64, 67)]
DRUMS = [(beat / 2, 0.25, 81) for beat in range(12)]  # high "notes" that are drum sounds


def add_part(track: mido.MidiTrack, notes: list[tuple[float, float, int]], channel: int,
             name: str | None = None, start_tick: int = 0) -> None:
    """Append notes (which may overlap) to a track as note_on/note_off in time order."""
    if name:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    events = []
    for start, length, pitch in notes:
        events.append((round(start * TPB), 1, pitch, 90))
        events.append((round((start + length) * TPB), 0, pitch, 0))  # offs before ons
    now = start_tick
    for tick, _, pitch, velocity in sorted(events):
        track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=velocity,
                                  time=tick - now))
        now = tick


def conductor(bpm: float = 100, meter: tuple[int, int] = (3, 4),
              tempo_changes: tuple[tuple[int, float], ...] = ()) -> mido.MidiTrack:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1]))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    now = 0
    for tick, change in tempo_changes:
        track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(change),
                                      time=tick - now))
        now = tick
    return track


def write(midi: mido.MidiFile, path: Path) -> Path:
    midi.save(path)
    return path


def pitches(notes: list[tuple[float, float, int]]) -> list[int]:
    return [pitch for _, _, pitch in sorted(notes)]


def test_the_melody_is_the_high_moving_single_line_not_drums_bass_or_chords(
        tmp_path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=TPB)
    midi.tracks.append(conductor())
    for notes, channel, name in ((DRUMS, 9, "Kit"), (CHORDS, 1, "Piano"), (BASS, 2, "Track 3"),
                                 (TUNE, 3, "Track 4")):
        track = mido.MidiTrack()
        add_part(track, notes, channel, name)
        midi.tracks.append(track)
    melody = read_melody(write(midi, tmp_path / "song.mid"))
    assert melody.part == "Track 4"
    assert [note.pitch for note in melody.notes] == pitches(TUNE)
    assert [(note.start_beat, note.end_beat) for note in melody.notes] == [
        (start, start + length) for start, length, _ in TUNE]
    assert melody.bpm == pytest.approx(100)
    assert melody.time_signature == (3, 4)
    assert melody.notes[-1].start_s == pytest.approx(5 * 0.6)  # 100 bpm: 0.6 s a beat
    assert all(note.velocity == 90 for note in melody.notes)


def test_seconds_follow_tempo_changes(tmp_path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=TPB)
    midi.tracks.append(conductor(bpm=120, tempo_changes=((2 * TPB, 60),)))
    track = mido.MidiTrack()
    add_part(track, [(1, 1, 60), (3, 1, 62)], 0)
    midi.tracks.append(track)
    notes = read_melody(write(midi, tmp_path / "slow.mid")).notes
    # 2 beats at 120 bpm, then 1 s a beat
    assert [note.start_s for note in notes] == pytest.approx([0.5, 2.0])
    assert [note.end_s for note in notes] == pytest.approx([1.0, 3.0])
    assert read_melody(midi).bpm == pytest.approx(120)  # an in-memory clip reads the same


def test_a_type0_file_is_split_by_channel(tmp_path: Path) -> None:
    midi = mido.MidiFile(type=0, ticks_per_beat=TPB)
    merged = mido.MidiTrack()
    parts = []
    for notes, channel in ((BASS, 0), (TUNE, 5), (DRUMS, 9)):
        track = mido.MidiTrack()
        add_part(track, notes, channel)
        parts.append(track)
    merged.extend(mido.merge_tracks(parts))
    midi.tracks.append(merged)
    melody = read_melody(write(midi, tmp_path / "type0.mid"))
    assert melody.part == "track 1, channel 6"
    assert [note.pitch for note in melody.notes] == pitches(TUNE)
    assert (melody.bpm, melody.time_signature) == (pytest.approx(120), (4, 4))  # defaults


def test_chords_and_a_tune_in_one_part_give_the_top_line(tmp_path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=TPB)
    track = mido.MidiTrack()
    # A strummed chord (onsets 10 ticks apart), the tune over a held chord, a lower inner
    # voice under a held top note (dropped).
    strum = [(i * 10 / TPB, 2, pitch) for i, pitch in enumerate((48, 55, 64, 67))]
    tune = [(2, 1, 72), (3, 1, 74), (4, 2, 76)]
    held_chord = [(2, 4, 60), (2, 4, 64)]
    inner = [(4.5, 0.5, 71)]
    add_part(track, strum + tune + held_chord + inner, 0, "Piano")
    midi.tracks.append(track)
    notes = read_melody(write(midi, tmp_path / "piano.mid")).notes
    # The strum's top note keeps its own onset (30 ticks in), as the engine follows it.
    assert [(note.pitch, note.start_beat, note.end_beat) for note in notes] == [
        (67, 30 / TPB, 2), (72, 2, 3), (74, 3, 4), (76, 4, 6)]


def test_skyline_cuts_a_note_where_a_higher_one_starts() -> None:
    line = skyline([TickNote(0, 960, 0, 60, 80), TickNote(480, 720, 0, 67, 90),
                    TickNote(480, 960, 0, 64, 70)], spread=15)
    assert line == [TickNote(0, 480, 0, 60, 80), TickNote(480, 720, 0, 67, 90)]


def test_a_file_with_only_drums_has_no_melody(tmp_path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=TPB)
    track = mido.MidiTrack()
    add_part(track, DRUMS, 9)
    midi.tracks.append(track)
    with pytest.raises(MidiReadError, match="no notes outside the drum channel"):
        read_melody(write(midi, tmp_path / "drums.mid"))


def test_corrupt_files_give_a_clear_error(tmp_path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=TPB)
    track = mido.MidiTrack()
    add_part(track, TUNE, 0)
    midi.tracks.append(track)
    good = write(midi, tmp_path / "good.mid").read_bytes()
    bad_data = bytearray(good)
    bad_data[bad_data.index(bytes([0x90, 72])) + 1] = 0xF0  # a data byte over 127
    cases = {"noise.mid": b"\x00\x13this is not MIDI at all",
             "truncated.mid": good[:-9],
             "bad_data.mid": bytes(bad_data),
             "empty.mid": b""}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(MidiReadError, match=f"{name}' is not a readable MIDI file"):
            read_melody(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        read_melody(tmp_path / "missing.mid")


def play(port: mido.ports.BaseOutput, bpm: float, t0: float) -> threading.Thread:
    """From ``t0`` (monotonic), play on ``port``: C5 on beat 0.5, a C-E-G chord on beat 1.5
    ending on beat 2.5, then D5 held past the end of a one-bar capture."""
    beat = 60.0 / bpm
    script = [(0.5, "note_on", 72), (1.0, "note_off", 72),
              *[(1.5, "note_on", pitch) for pitch in (60, 64, 67)],
              *[(2.5, "note_off", pitch) for pitch in (60, 64, 67)],
              (3.0, "note_on", 74)]

    def run() -> None:
        for at, kind, note in script:
            time.sleep(max(0.0, t0 + at * beat - time.monotonic()))
            port.send(mido.Message(kind, note=note, velocity=100 if kind == "note_on" else 0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def check_capture(capture: mido.MidiFile, bpm: float) -> list[tuple[float, float, int]]:
    """The captured melody as (start, end, pitch) in beats, after checking the file's tempo."""
    melody = read_melody(capture)
    assert melody.bpm == pytest.approx(bpm, abs=0.01) and melody.time_signature == (4, 4)
    assert capture.length == pytest.approx(4 * 60.0 / bpm, abs=0.01)  # exactly one bar
    return [(note.start_beat, note.end_beat, note.pitch) for note in melody.notes]


EXPECTED = [(0.5, 1.0, 72), (1.5, 2.5, 67), (3.0, 4.0, 74)]


def assert_close(captured: list[tuple[float, float, int]], tolerance_beats: float) -> None:
    assert [pitch for _, _, pitch in captured] == [pitch for _, _, pitch in EXPECTED]
    for (start, end, _), (want_start, want_end, _) in zip(captured, EXPECTED, strict=True):
        assert start == pytest.approx(want_start, abs=tolerance_beats)
        assert end == pytest.approx(want_end, abs=tolerance_beats)


def test_capture_from_an_in_memory_port() -> None:
    bpm = 240.0  # one bar is one second
    port = mido.ports.EchoPort()
    player = play(port, bpm, time.monotonic())
    captured = check_capture(capture_midi(port, bpm, bars=1), bpm)
    player.join(timeout=5)
    # 50 ms: thread sleep and scheduling jitter on a loaded 2-core machine.
    assert_close(captured, tolerance_beats=0.2)


def test_stopping_a_capture_ends_the_file_there() -> None:
    port, stop = mido.ports.EchoPort(), threading.Event()
    port.send(mido.Message("note_on", note=65, velocity=80))
    threading.Timer(0.3, stop.set).start()
    capture = capture_midi(port, 120, bars=100, stop=stop)
    assert 0.29 < capture.length < 5  # stopped at 0.3 s, not 200 s of bars
    note = read_melody(capture).notes[0]
    assert note.pitch == 65 and note.end_s == pytest.approx(capture.length, abs=1e-3)


@pytest.fixture(scope="module")
def jack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2): no virtual MIDI ports")
    with jack_dummy_server(tmp_path_factory.mktemp("jack"), f"stemloom-test-{time.time_ns()}"):
        yield


def test_capture_from_a_jack_midi_port(jack: None) -> None:
    bpm = 240.0
    with mido.Backend(JACK).open_output("stemloom-keys", virtual=True) as keyboard:
        assert any("stemloom-keys" in name for name in list_midi_inputs(JACK))
        with open_midi_input("stemloom-keys", backend=JACK) as port:
            time.sleep(0.1)  # the JACK connection is made asynchronously
            player = play(keyboard, bpm, time.monotonic())
            captured = check_capture(capture_midi(port, bpm, bars=1), bpm)
            player.join(timeout=5)
    assert_close(captured, tolerance_beats=0.2)


def test_opening_a_missing_jack_port_names_the_ports_there_are(jack: None) -> None:
    with (mido.Backend(JACK).open_output("stemloom-pads", virtual=True),
          pytest.raises(OSError, match=r"no MIDI input port matches 'no-such-keys'; "
                                       r"there are: .*stemloom-pads")):
        open_midi_input("no-such-keys", backend=JACK)
