"""The REAPER ReaScript, run by a real Lua interpreter against a recording fake ``reaper`` API.

REAPER itself cannot run here (licence, GUI); the fake (``fakes/reaper_api.lua``) answers the
calls the script makes and prints each one, and the tests check the calls: the dialog, the
``stemloom generate`` command line (the project's tempo and meter as the session's, bars and
stems only when filled in: empty lets the prompt's words decide), the "Note: " lines shown in
the console, the tracks and items at the edit cursor, and the undo of every track when one
stem cannot be inserted.
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
from stemloom.cli import main as stemloom_main

ClipMaker = Callable[..., Path]  # the make_clip fixture (conftest.py)

LUA = shutil.which("lua5.4") or shutil.which("lua")
SCRIPT = Path(__file__).parents[2] / "plugin_host" / "daw" / "reaper" / "stemloom_generate.lua"
FAKE = Path(__file__).parent / "fakes" / "reaper_api.lua"

pytestmark = pytest.mark.skipif(LUA is None, reason="needs a Lua 5.4 interpreter "
                                "(apt package lua5.4)")

Call = list[Any]
PLAYING = ("Stemloom: making the stems; their preview plays through the default output device "
           "as it streams, and the stems land at the cursor when done.\n")


@pytest.fixture
def generated(tmp_path: Path, make_clip: ClipMaker) -> tuple[Path, dict[str, float]]:
    """What ``stemloom generate --daw folder`` leaves: a folder session with two stems."""
    session = tmp_path / "generated"
    stems = {"drums": make_clip("x_96bpm_drums", seconds=1.25, bpm=96),
             "bass": make_clip("x_96bpm_bass", seconds=1.5, seed=1, bpm=96)}
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


def _argv(calls: list[Call]) -> list[str]:
    """The ``stemloom`` command the script ran: the program from the command line (split as
    the shell would), the rest from the argument file it names (read as the CLI reads it)."""
    ((command, timeout),) = _named(calls, "ExecProcess")
    assert timeout == 0
    program, flag, file = shlex.split(command)
    assert flag == "--args-from" and file.endswith(".args.json")
    ((arguments,),) = _named(calls, "Arguments")
    return [program, *json.loads(arguments)]


def test_generates_at_the_project_tempo_and_inserts_at_the_cursor(
        tmp_path: Path, generated: tuple[Path, dict[str, float]]) -> None:
    session, lengths = generated
    prompt = 'dusty "lo-fi" drums, it\'s late'
    calls = _run(tmp_path, f"{prompt}\n4\ndrums,bass\n/opt/stemloom/bin/stemloom",
                 cursor="7.5", bpm="96", num="3", den="4", srate_use="1", srate="44100",
                 tracks="2", session=str(session), lengths=_lengths(lengths))

    ((_title, count, captions, defaults),) = _named(calls, "GetUserInputs")
    assert count == 4
    assert captions.split(",")[:4] == ["Prompt", "Bars (empty: from the prompt)",
                                       "Stems (empty: from the prompt)", "stemloom program"]
    assert ",separator=\n," in captions
    assert defaults == "\n\n\nstemloom"
    # Only the program is remembered: a bars or stems value kept from an earlier run would
    # beat what the next prompt says.
    assert _named(calls, "SetExtState") == [
        ["Stemloom", "command", "/opt/stemloom/bin/stemloom", True]]

    argv = _argv(calls)
    dest = argv[argv.index("--dest") + 1]
    assert dest.startswith(str(tmp_path / "media" / "Stemloom") + "/")
    assert argv == ["/opt/stemloom/bin/stemloom", "generate", prompt, "--session-bpm", "96",
                    "--session-time-signature", "3/4", "--bars", "4", "--stems", "drums,bass",
                    "--daw", "folder", "--dest", dest, "--bar", "1", "--play",
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
    # The producer is told the preview plays while REAPER waits; stemloom printed no note.
    assert _named(calls, "ShowConsoleMsg") == [[PLAYING]]


def test_empty_bars_and_stems_are_left_to_the_prompt(
        tmp_path: Path, generated: tuple[Path, dict[str, float]]) -> None:
    session, lengths = generated
    prompt = "acid house, 126 bpm, Gm, 303 line, crisp hats, 16 bars"
    calls = _run(tmp_path, f"{prompt}\n  \n\nstemloom", bpm="120", num="4", den="4",
                 session=str(session), lengths=_lengths(lengths))

    argv = _argv(calls)
    dest = argv[argv.index("--dest") + 1]
    assert argv == ["stemloom", "generate", prompt, "--session-bpm", "120",
                    "--session-time-signature", "4/4", "--daw", "folder", "--dest", dest,
                    "--bar", "1", "--play"]
    assert not {"--bpm", "--time-signature", "--bars", "--stems"} & set(argv)
    assert len(_named(calls, "InsertTrackAtIndex")) == 2


def test_the_command_line_is_one_the_cli_takes(
        tmp_path: Path, generated: tuple[Path, dict[str, float]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """The script's argv, given to the real CLI as a dry run: the project's tempo and meter
    are used, the rest comes from the words, and the disagreement is noted."""
    session, lengths = generated
    calls = _run(tmp_path, "acid house, 132 bpm, Gm, 16 bars, 303 line, crisp hats\n\n\n"
                 "stemloom", bpm="120", num="3", den="4", session=str(session),
                 lengths=_lengths(lengths))
    argv = _argv(calls)
    # The fake filled --dest; the script picks one that is not there yet, as a dry run needs.
    argv[argv.index("--dest") + 1] = str(tmp_path / "not-there")
    arguments = tmp_path / "again.args.json"
    arguments.write_text(json.dumps([*argv[1:], "--dry-run", "--json"]), encoding="utf-8")
    assert stemloom_main(["--args-from", str(arguments)]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert {key: resolved[key] for key in ("bpm", "time_signature", "bars", "key", "stems")} == {
        "bpm": 120, "time_signature": "3/4", "bars": 16, "key": "G minor",
        "stems": ["bass", "drums"]}
    assert any("132 BPM" in note and "120 BPM" in note for note in resolved["notes"])


@pytest.mark.parametrize(("bars", "stems", "expected"), [
    ("16", "", ["--bars", "16"]),
    ("", " drums,bass ", ["--stems", "drums,bass"]),
])
def test_only_the_fields_filled_in_are_passed(
        tmp_path: Path, generated: tuple[Path, dict[str, float]],
        bars: str, stems: str, expected: list[str]) -> None:
    session, lengths = generated
    calls = _run(tmp_path, f"dub techno\n{bars}\n{stems}\nstemloom", bpm="118.5",
                 session=str(session), lengths=_lengths(lengths))
    argv = _argv(calls)
    assert argv[2:7] == ["dub techno", "--session-bpm", "118.5",
                         "--session-time-signature", "4/4"]
    assert argv[7:9] == expected and argv[9] == "--daw"


def test_notes_about_the_prompt_are_shown_in_the_console(
        tmp_path: Path, generated: tuple[Path, dict[str, float]]) -> None:
    session, lengths = generated
    output = ("Note: the prompt says 132 BPM ('132 bpm'); the DAW session's 120 BPM is used so "
              "the clips fit its grid\r\nJob gen-1 done in 3.2 s\r\n"
              "Note: the prompt says 6/8; the DAW session's 4/4 is used\r\n"
              "Placed 2 stems on new tracks at bar 1\r\n")
    calls = _run(tmp_path, "techno, 132 bpm, 6/8\n\n\nstemloom", session=str(session),
                 lengths=_lengths(lengths), output=output)

    assert _named(calls, "ShowConsoleMsg") == [[PLAYING], [
        "Stemloom: the prompt says 132 BPM ('132 bpm'); the DAW session's 120 BPM is used so "
        "the clips fit its grid\n"
        "Stemloom: the prompt says 6/8; the DAW session's 4/4 is used\n"]]
    assert len(_named(calls, "InsertTrackAtIndex")) == 2  # the stems still go in
    assert not _named(calls, "ShowMessageBox")


@pytest.mark.parametrize("prompt", [
    "it's a \"lo-fi\" beat, 90 bpm",
    "don't 'quote' me \"on\" this",
    'back\\slash\\ and "ends with a quote"',
    "$HOME `whoami` $(id) ; rm -rf / | cat & echo '",
    "caf\u00e9 in F\u266f minor,\ttabbed",
])
def test_prompts_with_quotes_pass_intact(
        tmp_path: Path, generated: tuple[Path, dict[str, float]], prompt: str) -> None:
    session, lengths = generated
    calls = _run(tmp_path, f"{prompt}\n4\ndrums\nstemloom", session=str(session),
                 lengths=_lengths(lengths))
    argv = _argv(calls)
    assert argv[:3] == ["stemloom", "generate", prompt]
    assert argv[7:11] == ["--bars", "4", "--stems", "drums"]
    ((command, _),) = _named(calls, "ExecProcess")
    assert prompt not in command  # the words never meet a command line
    assert not list((tmp_path / "media" / "Stemloom").glob("*.args.json"))  # cleaned up


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
    calls = _run(tmp_path, "pads\n8\nkeys\nstemloom", exit="1",
                 output="Note: the prompt says 90 BPM\nerror: the engine said no")
    ((message, _, _),) = _named(calls, "ShowMessageBox")
    assert "exit 1" in message and "the engine said no" in message
    assert _named(calls, "ShowConsoleMsg") == [[PLAYING]]  # the box shows the rest
    assert not _named(calls, "InsertTrackAtIndex") and not _named(calls, "Undo_BeginBlock")


def test_cancel_and_bad_input_run_nothing(tmp_path: Path) -> None:
    cancelled = _run(tmp_path, None)
    assert [call[0] for call in cancelled] == ["GetExtState", "GetUserInputs"]
    assert _named(cancelled, "GetExtState") == [["Stemloom", "command"]]
    for answer, complaint in [("\n8\ndrums\nstemloom", "prompt"),
                              ("pads\neight\ndrums\nstemloom", "Bars"),
                              ("pads\n4.5\n\nstemloom", "whole number"),
                              ("pads\n0\n\nstemloom", "whole number"),
                              ("pads\n-2\n\nstemloom", "whole number")]:
        calls = _run(tmp_path, answer)
        assert not _named(calls, "ExecProcess")
        assert complaint in _named(calls, "ShowMessageBox")[0][0]
        assert not _named(calls, "SetExtState")


def test_the_project_sample_rate_is_passed_only_when_set_and_offered(
        tmp_path: Path, generated: tuple[Path, dict[str, float]]) -> None:
    session, lengths = generated
    for use, rate in [("0", "44100"), ("1", "22050")]:
        calls = _run(tmp_path, "pads\n8\ndrums\nstemloom", session=str(session),
                     lengths=_lengths(lengths), srate_use=use, srate=rate)
        assert "--sample-rate" not in _argv(calls)
