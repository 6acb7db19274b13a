"""The Ardour adapter on a session it did not make: the session's grid wins, nothing is lost.

The session is made by ``ardour7-lua`` itself (123 BPM, a range marker), then given one track
and region; later placements must leave all of that as it was, refuse another tempo, meter or
rate without touching anything, keep a backup of the session file, and never run Ardour twice
for a failure that would only repeat. Tests that need no Ardour run everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import soundfile as sf

from plugin_host.daw import PlacementError, SessionMismatch, ardour_run
from plugin_host.daw import ardour as ardour_module
from plugin_host.daw.ardour import ArdourAdapter
from plugin_host.daw.ardour_run import (
    SCRIPTS,
    ArdourCrashed,
    ArdourFailed,
    export_session,
    run_lua,
)
from plugin_host.daw.ardour_session import SessionFile, locate_session
from plugin_host.daw.backup import keep_backup
from tests.plugin_host.test_daw_ardour import (
    _executable,
    _lag,
    _noise,
    _snapshot,
    _tracks,
    needs_ardour,
)

# Made by Ardour's own Lua (prelude.lua's helpers): 123 BPM in 4/4, a range over bars 5-7.
_MAKE_SESSION = """
start_engine (48000)
local session = create_session (P.dir, P.name, 48000)
assert (session, "Ardour could not create the session")
local tm = Temporal.TempoMap.fetch_writable ()
tm:set_tempo (Temporal.Tempo (123, 123, 4), Temporal.timepos_t (0))
tm:set_meter (Temporal.Meter (4, 4), Temporal.timepos_t (0))
Temporal.TempoMap.update (tm)
tm = Temporal.TempoMap.read ()
session:locations ():add_range (Temporal.timepos_t (bar_to_sample (tm, 5)),
                                Temporal.timepos_t (bar_to_sample (tm, 7)))
save (session)
close_session ()
emit ("done")
"""


def _ardour_made_session(folder: Path, scripts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``_MAKE_SESSION`` in ``ardour7-lua``, as a script beside a copy of prelude.lua."""
    scripts.mkdir()
    (scripts / "prelude.lua").write_bytes((SCRIPTS / "prelude.lua").read_bytes())
    (scripts / "make_session.lua").write_text(_MAKE_SESSION)
    with monkeypatch.context() as patch:
        patch.setattr(ardour_run, "SCRIPTS", scripts)
        run_lua("make_session", {"dir": str(folder), "name": folder.name})


def _elements(root: ET.Element, parent: str) -> dict[str, ET.Element]:
    """The children of ``root``'s ``parent`` element by id."""
    return {child.get("id", ""): child for child in root.find(parent)}


def _xml(element: ET.Element) -> str:
    """``element`` in canonical form, whitespace between elements left out."""
    return ET.canonicalize(ET.tostring(element), strip_text=True)


def _without_connections(route: ET.Element) -> str:
    copy = ET.fromstring(ET.tostring(route))
    for port in copy.iter("Port"):
        for connection in port.findall("Connection"):
            port.remove(connection)
    return _xml(copy)


def _assert_kept(old: ET.Element, new: ET.Element) -> None:
    """Everything the old session held is in the new one as it was."""
    assert _xml(new.find("TempoMap")) == _xml(old.find("TempoMap")), "the tempo map changed"
    old_routes, new_routes = _elements(old, "Routes"), _elements(new, "Routes")
    for route_id, route in old_routes.items():
        # The master bus gains connections from the new tracks and nothing else.
        assert _without_connections(new_routes[route_id]) == _without_connections(route)
        old_links = {c.get("other") for c in route.iter("Connection")}
        assert old_links <= {c.get("other") for c in new_routes[route_id].iter("Connection")}
    old_lists, new_lists = _elements(old, "Playlists"), _elements(new, "Playlists")
    for list_id, playlist in old_lists.items():
        assert new_lists[list_id].attrib == playlist.attrib
        # Ardour writes a flat gain envelope back as <Envelope default="yes"/>: compare regions
        # (position, length, sources, fades' settings) by their attributes.
        assert ([r.attrib for r in new_lists[list_id].iter("Region")]
                == [r.attrib for r in playlist.iter("Region")])
    old_places, new_places = _elements(old, "Locations"), _elements(new, "Locations")
    for place_id, location in old_places.items():
        if "IsSessionRange" in location.get("flags", ""):
            start, end = (int(new_places[place_id].get(k)[1:]) for k in ("start", "end"))
            assert start <= int(location.get("start")[1:]) and end >= int(location.get("end")[1:])
        else:
            assert _xml(new_places[place_id]) == _xml(location)
    assert _elements(old, "Sources").keys() <= _elements(new, "Sources").keys()


@needs_ardour
def test_an_ardour_session_at_123_bpm_keeps_its_grid_and_everything_in_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "gig"
    _ardour_made_session(folder, tmp_path / "lua", monkeypatch)
    session = folder / "gig.ardour"
    made_by_ardour = session.read_bytes()
    clips = tmp_path / "clips"

    adapter = ArdourAdapter(folder)
    info = adapter.session_info()
    assert (round(info.bpm, 3), info.time_signature, info.sample_rate) == (123, (4, 4), 48000)
    old = _noise(clips / "old.wav", 1, 48000, bpm=123)
    adapter.place_stems({"old": old}, bar=2)
    (first_backup,) = folder.glob("gig.before-stemloom-*.ardour")
    assert first_backup.read_bytes() == made_by_ardour
    before = session.read_bytes()
    files_before = _snapshot(folder)

    # Another tempo, meter or rate asked of the session: refused, nothing written.
    with pytest.raises(SessionMismatch, match=r"90 BPM, the session runs at 123 BPM; 3/4.*"
                                              r"44100 Hz, the session runs at 48000 Hz"):
        ArdourAdapter(folder, bpm=90, time_signature=(3, 4), sample_rate=44100)
    # A clip made at 90 BPM, and one at 44.1 kHz (Ardour would play it too fast): refused.
    with pytest.raises(SessionMismatch, match="90 BPM"):
        adapter.place_stems({"slow": _noise(clips / "slow.wav", 2, 48000, bpm=90)}, bar=3)
    with pytest.raises(PlacementError, match="44100 Hz") as refused:
        adapter.place_stems({"lofi": _noise(clips / "lofi.wav", 3, 44100, bpm=123)}, bar=3)
    assert isinstance(refused.value.__cause__, SessionMismatch)

    # No backup, no change: Ardour placed the clips in its pending copy, which is dropped.
    def no_backup(path: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    new = {"drums": _noise(clips / "drums.wav", 4, 48000, bpm=123),
           "bass": _noise(clips / "bass.wav", 5, 48000, bpm=123)}
    with monkeypatch.context() as patch:
        patch.setattr(ardour_module, "keep_backup", no_backup)
        with pytest.raises(PlacementError, match=r"could not keep a backup.*not changed"):
            adapter.place_stems(new, bar=3)
    assert _snapshot(folder) == files_before, "a refused or failed placement changed files"

    adapter.place_stems(new, bar=3)

    backups = list(folder.glob("gig.before-stemloom-*.ardour"))
    assert len(backups) == 2 and before in [b.read_bytes() for b in backups]
    _assert_kept(ET.fromstring(before), ET.parse(session).getroot())
    # Bar 2 and bar 3 at 123 BPM, through Ardour's own tempo map (4 and 8 beats in).
    starts = _tracks(session)
    assert starts == {"old": [93658], "drums": [187317], "bass": [187317]}
    assert all(abs(s[0] - b * 60 / 123 * 48000) < 1 for s, b in
               [(starts["old"], 4), (starts["drums"], 8)])
    # The render has the old clip and the new ones where the session says they are.
    mix, rate = sf.read(export_session(folder, "gig", tmp_path / "mix.wav"), always_2d=True)
    assert rate == 48000
    for name, path in {"old": old, **new}.items():
        clip, _ = sf.read(path, always_2d=True)
        assert _lag(mix, clip) == starts[name][0], name


@needs_ardour
def test_a_session_ardour_cannot_load_is_tried_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A session without its master bus: Ardour's refusal is final, not a crash to retry."""
    folder = tmp_path / "s"
    ArdourAdapter(folder, bpm=100).commit()
    session = folder / "s.ardour"
    tree = ET.parse(session)
    routes = tree.getroot().find("Routes")
    for route in list(routes):
        if "MasterOut" in route.find("PresentationInfo").get("flags", ""):
            routes.remove(route)
    tree.write(session, encoding="UTF-8", xml_declaration=True)
    before = _snapshot(folder)
    runs: list[str] = []

    def counted(script: str, plan: dict, **options: object) -> list[list[str]]:
        runs.append(script)
        return run_lua(script, plan, **options)

    monkeypatch.setattr(ardour_module, "run_lua", counted)
    with pytest.raises(ArdourFailed, match="could not load the session"):
        ArdourAdapter(folder)
    assert runs == ["session_info"]
    assert _snapshot(folder) == before


def _fake_lua(tmp_path: Path, body: str) -> tuple[str, Path]:
    """A stand-in ``ardour7-lua`` that counts its runs, then does ``body``."""
    counter = tmp_path / "runs"
    return _executable(tmp_path / "ardour7-lua", f"#!/bin/sh\necho x >> {counter}\n{body}\n"
                       ), counter


def test_a_script_error_runs_ardour_once(tmp_path: Path) -> None:
    fake, counter = _fake_lua(tmp_path, 'echo "Error: /tmp/x/place_clips.lua:9: the session '
                                        'has no master bus"\nexit 1')
    adapter = ArdourAdapter(tmp_path / "new", bpm=100, lua_command=fake)
    with pytest.raises(PlacementError, match="the session has no master bus") as failed:
        adapter.place_stems({"drums": _noise(tmp_path / "c" / "drums.wav", 0, 48000)})
    assert isinstance(failed.value.__cause__, ArdourFailed)
    assert counter.read_text().count("x") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ardour7-lua", "c", "runs"]


def test_a_crash_is_tried_three_times(tmp_path: Path) -> None:
    fake, counter = _fake_lua(tmp_path, "kill -SEGV $$")
    adapter = ArdourAdapter(tmp_path / "new", bpm=100, lua_command=fake)
    with pytest.raises(PlacementError, match="crashed") as failed:
        adapter.commit()
    assert isinstance(failed.value, ArdourCrashed)
    assert counter.read_text().count("x") == 3


def test_an_export_that_fails_without_crashing_is_not_retried(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    broken = _executable(tmp_path / "ardour7-export",
                         f"#!/bin/sh\necho x >> {counter}\necho 'Could not load session'\nexit 1\n")
    with pytest.raises(ArdourFailed, match="Could not load session"):
        export_session(tmp_path, "s", tmp_path / "out.wav", command=broken)
    assert counter.read_text().count("x") == 1


@pytest.mark.parametrize("content, message", [
    (b"<?xml version='1.0'?><Session name='x' sample-rate='48000'><Routes>", "cannot read"),
    (b"\x00\x01 not xml", "cannot read"),
    (b"<?xml version='1.0'?><RPP/>", "not an Ardour session"),
])
def test_a_corrupt_session_is_refused_and_left_alone(tmp_path: Path, content: bytes,
                                                     message: str) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "broken.ardour").write_bytes(content)
    # Refused before Ardour would run: no ardour7-lua is needed to say so.
    with pytest.raises(ValueError, match=message):
        ArdourAdapter(folder, lua_command=str(tmp_path / "no-ardour"))
    assert _snapshot(folder) == {"broken.ardour": content}


# What ardour7-lua's session_info script reports for a 100 BPM 4/4 session at 48 kHz.
_SESSION_INFO = r"""case "$1" in *session_info.lua)
  printf 'STEMLOOM\trate\t48000\nSTEMLOOM\tbpm\t100\nSTEMLOOM\tmeter\t4\t4\n'
  printf 'STEMLOOM\tcursor\t1\t1\t0\nSTEMLOOM\tdone\n';;
*) exit 1;;
esac"""


def test_a_read_only_session_folder_fails_with_nothing_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake, counter = _fake_lua(tmp_path, _SESSION_INFO)
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "ro.ardour").write_text("<Session name='ro' sample-rate='48000'/>")
    adapter = ArdourAdapter(folder, lua_command=fake)
    assert adapter.session_info().bpm == 100
    before = _snapshot(folder)
    if os.name == "posix" and os.geteuid() == 0:  # root writes anywhere: pretend it cannot
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **options: (
            mode != os.W_OK and real_access(path, mode, **options)))
    else:
        folder.chmod(0o555)
    try:
        with pytest.raises(PlacementError, match=r"ro is read-only.*nothing was changed"):
            adapter.place_stems({"drums": _noise(tmp_path / "c" / "drums.wav", 0, 48000)})
    finally:
        folder.chmod(0o755)
    assert _snapshot(folder) == before
    assert counter.read_text().count("x") == 1, "Ardour ran for a folder it cannot write"


def test_backups_are_not_taken_for_the_session(tmp_path: Path) -> None:
    folder = tmp_path / "song"
    folder.mkdir()
    take = folder / "take2.ardour"
    take.write_text("<Session name='song' sample-rate='48000'/>")
    keep_backup(take)
    keep_backup(take)
    assert len(list(folder.glob("*.ardour"))) == 3
    assert locate_session(folder) == SessionFile(folder, "take2")
