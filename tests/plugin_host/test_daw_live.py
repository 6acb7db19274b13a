"""Ableton Live: the remote script imported with a fake ``_Framework`` and a recording fake
Song, driven over real UDP by the ``live`` adapter, and by ``stemloom generate --daw live``
(Live's tempo and meter beat the prompt's words; bars, key and stems left out come from them).

Live cannot run here (licence, GUI); the fakes stand for the Live Object Model calls the
script makes, and record them so the tests can check what Live would have been asked to do.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from plugin_host import placement
from plugin_host.daw import PlacementError, SessionMismatch, get_adapter
from plugin_host.daw.ableton_live import LiveAdapter, LiveUnreachable
from stemloom.cli import main as stemloom_main

ClipMaker = Callable[..., Path]  # the make_clip fixture (conftest.py)
SCRIPTS = Path(__file__).parents[2] / "plugin_host" / "daw" / "live"


class FakeTrack:
    def __init__(self, song: FakeSong) -> None:
        self._song = song
        self._name = "Audio"

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._song.calls.append(("Track.name", self._song.tracks.index(self), value))
        self._name = value

    def create_audio_clip(self, file_path: str, position: float) -> object:
        self._song.calls.append(("Track.create_audio_clip", self._song.tracks.index(self),
                                 file_path, position))
        if Path(file_path).name in self._song.refuse:
            raise RuntimeError("Invalid audio file")
        return object()


class FakeSong:
    """The parts of Live.Song.Song the script uses; every call is recorded in ``calls``."""

    def __init__(self) -> None:
        self.tempo = 93.5
        self.signature_numerator = 6
        self.signature_denominator = 8
        self.current_song_time = 9.0
        self.calls: list[tuple] = []
        self.refuse: set[str] = set()
        self.tracks: list[FakeTrack] = [FakeTrack(self)]

    def create_audio_track(self, index: int) -> FakeTrack:
        self.calls.append(("Song.create_audio_track", index))
        track = FakeTrack(self)
        self.tracks.insert(index, track)
        return track

    def delete_track(self, index: int) -> None:
        self.calls.append(("Song.delete_track", index))
        del self.tracks[index]

    def begin_undo_step(self) -> None:
        self.calls.append(("Song.begin_undo_step",))

    def end_undo_step(self) -> None:
        self.calls.append(("Song.end_undo_step",))


class FakeControlSurface:
    """The part of _Framework.ControlSurface.ControlSurface the script relies on."""

    def __init__(self, c_instance: FakeCInstance) -> None:
        self._c_instance = c_instance
        self.messages: list[str] = []
        self.log: list[str] = []

    def song(self) -> FakeSong:
        return self._c_instance.song()

    def log_message(self, *message: object) -> None:
        self.log.append(" ".join(map(str, message)))

    def show_message(self, message: str) -> None:
        self.messages.append(message)

    def update_display(self) -> None:
        pass

    def disconnect(self) -> None:
        self._c_instance.disconnected = True


class FakeCInstance:
    def __init__(self, song: FakeSong) -> None:
        self._song = song
        self.disconnected = False

    def song(self) -> FakeSong:
        return self._song


@pytest.fixture
def stemloom_package(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The remote-script package, imported against the fake _Framework tree."""
    framework = types.ModuleType("_Framework")
    control_surface = types.ModuleType("_Framework.ControlSurface")
    control_surface.ControlSurface = FakeControlSurface  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_Framework", framework)
    monkeypatch.setitem(sys.modules, "_Framework.ControlSurface", control_surface)
    monkeypatch.syspath_prepend(str(SCRIPTS))
    for name in [n for n in sys.modules if n == "Stemloom" or n.startswith("Stemloom.")]:
        monkeypatch.delitem(sys.modules, name)
    package = importlib.import_module("Stemloom")
    yield package
    for name in [n for n in sys.modules if n == "Stemloom" or n.startswith("Stemloom.")]:
        del sys.modules[name]


@pytest.fixture
def live(stemloom_package: types.ModuleType) -> Iterator[tuple[FakeSong, object]]:
    """A running script on a free port, its update_display pumped as Live would."""
    song = FakeSong()
    surface = stemloom_package.surface.Stemloom(FakeCInstance(song), port=0)
    stop = threading.Event()

    def pump() -> None:
        while not stop.wait(0.005):
            surface.update_display()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    yield song, surface
    stop.set()
    thread.join()
    surface.disconnect()


def test_create_instance_returns_a_control_surface(stemloom_package: types.ModuleType) -> None:
    c_instance = FakeCInstance(FakeSong())
    surface = stemloom_package.create_instance(c_instance)
    try:
        assert isinstance(surface, FakeControlSurface)
        assert "listening on 127.0.0.1:" in surface.log[0]
    finally:
        surface.disconnect()
    assert c_instance.disconnected


def test_session_comes_from_the_song(live: tuple[FakeSong, object]) -> None:
    song, surface = live
    adapter = get_adapter("live", port=surface.port)
    info = adapter.session_info()
    assert (info.bpm, info.time_signature) == (93.5, (6, 8))
    assert info.cursor_bar == pytest.approx(1 + 9.0 / 3)  # 6/8 is three beats a bar
    assert song.calls == []  # reading the session changes nothing


def test_stems_land_on_new_tracks_as_one_undo_step(live: tuple[FakeSong, object],
                                                   make_clip: ClipMaker) -> None:
    song, surface = live
    adapter = LiveAdapter(port=surface.port)
    stems = {name: make_clip(name, seed=seed, bpm=93.5, meter=(6, 8))
             for seed, name in enumerate(("drums", "bass"))}
    placed = adapter.place_stems(stems, bar=5)

    assert [ref.bar for ref in placed.values()] == [5.0, 5.0]
    drums, bass = (str(p.resolve()) for p in stems.values())
    assert song.calls == [("Song.begin_undo_step",),
                          ("Song.create_audio_track", 1), ("Track.name", 1, "drums"),
                          ("Track.create_audio_clip", 1, drums, 12.0),  # 4 bars of 6/8
                          ("Song.create_audio_track", 2), ("Track.name", 2, "bass"),
                          ("Track.create_audio_clip", 2, bass, 12.0),
                          ("Song.end_undo_step",)]
    assert surface.messages == ["Stemloom: added 2 tracks"]
    assert [t.committed for t in adapter._tracks.values()] == [True, True]


def test_a_clip_live_refuses_removes_every_new_track(live: tuple[FakeSong, object],
                                                     make_clip: ClipMaker) -> None:
    song, surface = live
    song.refuse = {"bass.wav"}
    adapter = LiveAdapter(port=surface.port)
    with pytest.raises(PlacementError, match="Invalid audio file"):
        adapter.place_stems({name: make_clip(name, bpm=93.5, meter=(6, 8))
                             for name in ("drums", "bass")})
    assert [call for call in song.calls if call[0] == "Song.delete_track"] == [
        ("Song.delete_track", 2), ("Song.delete_track", 1)]
    assert song.calls[-1] == ("Song.end_undo_step",)
    assert len(song.tracks) == 1 and adapter.tracks() == []


def test_bad_requests_get_a_fail_and_the_script_keeps_serving(
        stemloom_package: types.ModuleType) -> None:
    song = FakeSong()
    surface = stemloom_package.surface.Stemloom(FakeCInstance(song), port=0)
    try:
        assert surface.handle(b"garbage") is None

        def ask(address: str, *args: object) -> OscMessage:
            builder = OscMessageBuilder(address=address)
            for arg in args:
                builder.add_arg(arg)
            return OscMessage(surface.handle(builder.build().dgram))

        unknown = ask("/stemloom/live/nope", "r1")
        assert unknown.address == "/stemloom/live/fail"
        assert unknown.params[:3] == ["r1", "code", "unknown_address"]
        for args in [("r2",), ("r3", "drums", 1, "/x.wav"), ("r4", 7, 1), ()]:
            reply = ask("/stemloom/live/place", *args)
            assert reply.address == "/stemloom/live/fail"
            assert "bad_argument" in reply.params
        assert song.calls == []
        assert ask("/stemloom/live/session", "r5").params == [
            "r5", "tempo", 93.5, "numerator", 6, "denominator", 8, "position", 9.0]
    finally:
        surface.disconnect()


def test_midi_is_refused_and_a_silent_live_is_reported(live: tuple[FakeSong, object],
                                                       midi_file: Path) -> None:
    _, surface = live
    adapter = LiveAdapter(port=surface.port)
    track = adapter.create_track("melody", "midi")
    with pytest.raises(ValueError, match="audio clips only"):
        adapter.place_midi_clip(track, midi_file, 1)
    surface.disconnect()
    with pytest.raises(LiveUnreachable, match="Stemloom remote script"):
        LiveAdapter(port=surface.port, timeout=0.2)


def test_osc_codec_reads_what_python_osc_writes_and_back(
        stemloom_package: types.ModuleType) -> None:
    osc = stemloom_package.osc
    builder = OscMessageBuilder(address="/a/b")
    for arg in ["héllo", 3, 2.5, True, False, ""]:
        builder.add_arg(arg)
    assert osc.decode(builder.build().dgram) == ("/a/b", ["héllo", 3, 2.5, True, False, ""])
    message = OscMessage(osc.encode("/x", "abc", 7, 0.25, True))
    assert (message.address, list(message.params)) == ("/x", ["abc", 7, 0.25, True])
    for bad in [b"/x\0\0,q\0\0", b"/x\0\0,i\0\0\0\0", b"noslash"]:
        with pytest.raises(osc.OscError):
            osc.decode(bad)


# The remote script sends no generation request: `stemloom generate --daw live` asks it for
# the session and resolves the request; its dry run prints what it would send.
WORDS = "acid house, 132 bpm, Gm, 16 bars, 303 line, crisp hats"


def _generate_dry_run(monkeypatch: pytest.MonkeyPatch, surface: Any,
                      capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    # The live adapter at the test surface's free port instead of Live's 7771.
    monkeypatch.setattr(placement, "get_adapter",
                        functools.partial(placement.get_adapter, port=surface.port))
    assert stemloom_main(["generate", *args, "--daw", "live", "--dry-run", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_generate_takes_lives_tempo_and_meter_and_the_rest_from_the_words(
        live: tuple[FakeSong, Any], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    resolved = _generate_dry_run(monkeypatch, live[1], capsys, WORDS)  # Live: 93.5 BPM, 6/8
    assert {key: resolved[key] for key in ("bpm", "time_signature", "bars", "key", "stems")} == {
        "bpm": 93.5, "time_signature": "6/8", "bars": 16, "key": "G minor",
        "stems": ["bass", "drums"]}
    assert resolved["sources"] == {"bpm": "session", "time_signature": "session",
                                   "bars": "words", "key": "words", "stems": "words"}
    assert any("132 BPM" in note and "93.5 BPM" in note for note in resolved["notes"])


def test_generate_bars_and_stems_given_beat_the_words(
        live: tuple[FakeSong, Any], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    resolved = _generate_dry_run(monkeypatch, live[1], capsys, WORDS,
                                 "--bars", "4", "--stems", "keys")
    assert (resolved["bars"], resolved["stems"], resolved["key"]) == (4, ["keys"], "G minor")
    assert resolved["sources"]["bars"] == resolved["sources"]["stems"] == "explicit"


def test_a_clip_made_off_lives_grid_is_refused_before_live_is_touched(
        live: tuple[FakeSong, object], make_clip: ClipMaker) -> None:
    song, surface = live
    adapter = LiveAdapter(port=surface.port)
    with pytest.raises(SessionMismatch, match=r"120 BPM, the session runs at 93\.5 BPM"):
        adapter.place_stems({"drums": make_clip("drums", bpm=120, meter=(6, 8))})
    assert song.calls == []
