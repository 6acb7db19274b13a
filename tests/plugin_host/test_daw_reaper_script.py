"""The REAPER ReaScript, run by a real Lua interpreter against a recording fake ``reaper`` API.

REAPER itself cannot run here (licence, GUI); the fake (``fakes/reaper_api.lua``) answers the
calls the script makes and prints each one, and the tests check the calls: the dialog, the
``stemloom generate`` command line, the tracks and items at the edit cursor, and the undo of
every track when one stem cannot be inserted.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plugin_host.clips import read_clip_info
from plugin_host.daw.folder import FolderAdapter

ClipMaker = Callable[..., Path]  # the make_clip fixture (conftest.py)

LUA = shutil.which("lua5.4") or shutil.which("lua")
SCRIPT = Path(__file__).parents[2] / "plugin_host" / "daw" / "reaper" / "stemloom_generate.lua"
FAKE = Path(__file__).parent / "fakes" / "reaper_api.lua"

pytestmark = pytest.mark.skipif(LUA is None, reason="needs a Lua 5.4 interpreter "
                                "(apt package lua5.4)")

Call = list[Any]


@pytest.fixture
def generated(tmp_path: Path, make_clip: ClipMaker) -> tuple[Path, dict[str, float]]:
    """What ``stemloom generate --daw folder`` leaves: a folder session with two stems."""
    session = tmp_path / "generated"
    stems = {"drums": make_clip("x_96bpm_drums", seconds=1.25),
             "bass": make_clip("x_96bpm_bass", seconds=1.5, seed=1)}
    FolderAdapter(session, bpm=96).place_stems(stems, bar=1)
    return session, {p.name: read_clip_info(p).seconds for p in stems.values()}


def _run(tmp_path: Path, inputs: str | None, **fake: str) -> list[Call]:
    env = {"PATH": os.environ.get("PATH", ""), "FAKE_PROJECT_PATH": str(tmp_path / "media"),
           **{f"FAKE_{key.upper()}": value for key, value in fake.items()}}
    if inputs is not None:
        env["FAKE_INPUTS"] = inputs
    done = subprocess.run([LUA, str(FAKE), str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _named(calls: list[Call], name: str) -> list[Call]:
    return [call[1:] for call in calls if call[0] == name]


def _lengths(lengths: dict[str, float]) -> str:
    return "\n".join(f"{name}={seconds!r}" for name, seconds in lengths.items())


def test_generates_at_the_project_tempo_and_inserts_at_the_cursor(
        tmp_path: Path, generated: tuple[Path, dict[str, float]]) -> None:
    session, lengths = generated
    prompt = 'dusty "lo-fi" drums, it\'s late'
    calls = _run(tmp_path, f"{prompt}\n4\ndrums,bass\n/opt/stemloom/bin/stemloom",
                 cursor="7.5", bpm="96", num="3", den="4", srate_use="1", srate="44100",
                 tracks="2", session=str(session), lengths=_lengths(lengths))

    ((_title, count, captions, defaults),) = _named(calls, "GetUserInputs")
    assert count == 4
    assert captions.startswith("Prompt,Bars,") and ",separator=\n," in captions
    assert defaults == "\n8\ndrums,bass,keys,lead\nstemloom"
    assert ["Stemloom", "bars", "4", True] in _named(calls, "SetExtState")
    assert not any(call[1] == "prompt" for call in _named(calls, "SetExtState"))

    ((command, timeout),) = _named(calls, "ExecProcess")
    assert timeout == 0
    argv = shlex.split(command)
    dest = argv[argv.index("--dest") + 1]
    assert dest.startswith(str(tmp_path / "media" / "Stemloom") + "/")
    assert argv == ["/opt/stemloom/bin/stemloom", "generate", prompt, "--bpm", "96",
                    "--time-signature", "3/4", "--bars", "4", "--stems", "drums,bass",
                    "--daw", "folder", "--dest", dest, "--bar", "1",
                    "--sample-rate", "44100"]

    # Two new tracks after the two already there, named after the stems.
    assert _named(calls, "InsertTrackAtIndex") == [[2, True], [3, True]]
    names = [c for c in _named(calls, "GetSetMediaTrackInfo_String") if c[1] == "P_NAME"]
    assert names == [["track:3", "P_NAME", "drums", True], ["track:4", "P_NAME", "bass", True]]
    sources = [Path(path).name for (path,) in _named(calls, "PCM_Source_CreateFromFile")]
    assert sources == ["x_96bpm_drums.wav", "x_96bpm_bass.wav"]
    assert all(Path(path).parent == Path(dest)
               for (path,) in _named(calls, "PCM_Source_CreateFromFile"))
    assert _named(calls, "AddMediaItemToTrack") == [["track:3"], ["track:4"]]
    values = _named(calls, "SetMediaItemInfo_Value")
    assert values == [["item:1", "D_POSITION", 7.5],
                      ["item:1", "D_LENGTH", pytest.approx(lengths["x_96bpm_drums.wav"])],
                      ["item:2", "D_POSITION", 7.5],
                      ["item:2", "D_LENGTH", pytest.approx(lengths["x_96bpm_bass.wav"])]]
    assert _named(calls, "SetMediaItemTake_Source") == [["take:1", "source:1"],
                                                        ["take:2", "source:2"]]

    order = [call[0] for call in calls]
    assert order.index("Undo_BeginBlock") < order.index("InsertTrackAtIndex")
    assert order.index("Undo_EndBlock") > order.index("AddMediaItemToTrack")
    assert _named(calls, "Undo_EndBlock") == [["Stemloom: insert generated stems", -1]]
    assert not _named(calls, "DeleteTrack") and not _named(calls, "ShowMessageBox")


def test_a_stem_reaper_cannot_read_removes_every_new_track(
        tmp_path: Path, generated: tuple[Path, dict[str, float]]) -> None:
    session, lengths = generated
    calls = _run(tmp_path, "pads\n8\ndrums,bass\nstemloom", session=str(session),
                 lengths=_lengths(lengths), unreadable="x_96bpm_bass.wav")

    assert _named(calls, "InsertTrackAtIndex") == [[0, True], [1, True]]
    assert _named(calls, "DeleteTrack") == [["track:2"], ["track:1"]]  # newest first
    assert _named(calls, "Undo_EndBlock") == [["Stemloom: insert generated stems", -1]]
    ((message, _, _),) = _named(calls, "ShowMessageBox")
    assert "could not be inserted" in message and "cannot read" in message


def test_a_failed_generation_touches_no_track(tmp_path: Path) -> None:
    calls = _run(tmp_path, "pads\n8\nkeys\nstemloom", exit="1")
    ((message, _, _),) = _named(calls, "ShowMessageBox")
    assert "exit 1" in message and "the engine said no" in message
    assert not _named(calls, "InsertTrackAtIndex") and not _named(calls, "Undo_BeginBlock")


def test_cancel_and_bad_input_run_nothing(tmp_path: Path) -> None:
    cancelled = _run(tmp_path, None)
    assert [call[0] for call in cancelled] == ["GetExtState"] * 4 + ["GetUserInputs"]
    for answer, complaint in [("\n8\ndrums\nstemloom", "prompt"),
                              ("pads\neight\ndrums\nstemloom", "Bars")]:
        calls = _run(tmp_path, answer)
        assert not _named(calls, "ExecProcess")
        assert complaint in _named(calls, "ShowMessageBox")[0][0]


def test_the_project_sample_rate_is_passed_only_when_set_and_offered(
        tmp_path: Path, generated: tuple[Path, dict[str, float]]) -> None:
    session, lengths = generated
    for use, rate in [("0", "44100"), ("1", "22050")]:
        calls = _run(tmp_path, "pads\n8\ndrums\nstemloom", session=str(session),
                     lengths=_lengths(lengths), srate_use=use, srate=rate)
        ((command, _),) = _named(calls, "ExecProcess")
        assert "--sample-rate" not in shlex.split(command)
