"""The Ardour adapter against a real, headless Ardour 7 (``ardour7-lua``, ``ardour7-export``).

The clips are white noise from distinct seeds, so each one's place in the exported mix is the
single sharp peak of its cross-correlation with the mix. Tests that need no Ardour (missing
tool, hang, retry, Lua quoting) run everywhere; the rest skip when Ardour is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import soundfile as sf

from plugin_host.clips import AcidInfo, write_clip
from plugin_host.daw import PlacementError, get_adapter
from plugin_host.daw import ardour as ardour_module
from plugin_host.daw.ardour import ArdourAdapter
from plugin_host.daw.ardour_run import (
    SCRIPTS,
    ArdourCrashed,
    export_session,
    lua_literal,
    run_lua,
)
from plugin_host.daw.ardour_session import SessionFile, locate_session
from stemloom.cli import main as stemloom_main

needs_ardour = pytest.mark.skipif(shutil.which("ardour7-lua") is None
                                  or shutil.which("ardour7-export") is None,
                                  reason="Ardour 7 is not installed (apt-get install ardour)")


def _noise(path: Path, seed: int, rate: int, seconds: float = 1.0, bpm: float = 100.0,
           meter: tuple[int, int] = (4, 4)) -> Path:
    """White noise whose ACID chunk says it was made at ``bpm`` in ``meter``."""
    frames = round(seconds * rate)
    audio = np.random.default_rng(seed).uniform(-0.2, 0.2, size=(frames, 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_clip(path, audio, rate, AcidInfo(tempo=bpm, beats=4, meter=meter))


def _stems(folder: Path, names: list[str], rate: int = 48000, first_seed: int = 0,
           bpm: float = 100.0, meter: tuple[int, int] = (4, 4)) -> dict[str, Path]:
    return {name: _noise(folder / f"{name}.wav", first_seed + i, rate, bpm=bpm, meter=meter)
            for i, name in enumerate(names)}


def _lag(mix: np.ndarray, clip: np.ndarray) -> int:
    """Where ``clip`` starts in ``mix``: the peak of their cross-correlation (left channel)."""
    size = 1 << (len(mix) + len(clip)).bit_length()
    spectrum = np.fft.rfft(mix[:, 0], size) * np.conj(np.fft.rfft(clip[:, 0], size))
    return int(np.argmax(np.fft.irfft(spectrum, size)[: len(mix)]))


def _tracks(session_file: Path) -> dict[str, list[int]]:
    """Track name -> the start samples of the regions on its playlist (audio-time regions)."""
    root = ET.parse(session_file).getroot()
    rate_ticks = int(root.find("TempoMap").get("superclocks-per-second"))
    rate = int(root.get("sample-rate"))
    found: dict[str, list[int]] = {}
    for playlist in root.iter("Playlist"):
        starts = []
        for region in playlist.iter("Region"):
            position = int(region.get("length").split("@a")[1])
            starts.append(position * rate // rate_ticks)
        found[playlist.get("name")] = starts
    return found


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (but peak files, which Ardour may add), with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "peaks" not in p.parts}


def _executable(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@needs_ardour
def test_clips_land_at_bar_3_in_the_exported_mix(tmp_path: Path) -> None:
    stems = _stems(tmp_path / "clips", ["drums", "bass", "keys"])
    adapter = get_adapter("ardour", path=tmp_path / "song", bpm=100, time_signature=(4, 4),
                          sample_rate=48000)
    assert isinstance(adapter, ArdourAdapter)

    placed = adapter.place_stems(stems, bar=3)

    assert [ref.bar for ref in placed.values()] == [3.0, 3.0, 3.0]
    session = tmp_path / "song" / "song.ardour"
    expected = round(2 * 4 * 0.6 * 48000)  # two 4/4 bars at 100 BPM before bar 3: 230400
    assert _tracks(session) == {name: [expected] for name in stems}
    audio = tmp_path / "song" / "interchange" / "song" / "audiofiles"
    assert sorted(p.name for p in audio.iterdir()) == ["bass.wav", "drums.wav", "keys.wav"]
    assert not list(tmp_path.glob(".song.*")), "the staging folder was left behind"
    assert not list((tmp_path / "song").glob("stemloom-pending-*")), "a pending file was left"

    mix, rate = sf.read(export_session(tmp_path / "song", "song", tmp_path / "mix.wav"),
                        always_2d=True)
    assert rate == 48000
    for name, path in stems.items():
        clip, _ = sf.read(path, always_2d=True)
        assert _lag(mix, clip) == expected, name


@needs_ardour
def test_reopening_reads_the_session_and_keeps_its_tracks(tmp_path: Path) -> None:
    folder = tmp_path / "waltz"
    first = ArdourAdapter(folder, bpm=90, time_signature=(3, 4), sample_rate=44100)
    waltz = {"rate": 44100, "bpm": 90.0, "meter": (3, 4)}  # clips made on the session's grid
    first.place_stems(_stems(tmp_path / "a", ["drums"], **waltz), bar=1)
    # The Ardour GUI saves its playhead here; 9 s at 90 BPM in 3/4 is bar 5 plus 1.5 beats.
    (folder / "instant.xml").write_text(
        '<?xml version="1.0"?><instant><Editor playhead="396900"/></instant>')

    again = ArdourAdapter(folder)  # a folder path finds waltz/waltz.ardour
    info = again.session_info()
    assert (info.bpm, info.time_signature, info.sample_rate) == (90.0, (3, 4), 44100)
    assert info.cursor_bar == pytest.approx(5.5)
    placed = again.place_stems(_stems(tmp_path / "b", ["bass"], first_seed=7, **waltz))
    # A later clip on a track made by an earlier commit goes on that same track: bar 2 is 2 s.
    again.place_audio_clip(placed["bass"].track, _noise(tmp_path / "fill.wav", 9, **waltz), 2)
    again.commit()

    assert _tracks(folder / "waltz.ardour") == {"drums": [0], "bass": [88200, 396900]}
    assert "Editor" in (folder / "instant.xml").read_text(), "instant.xml was not restored"


@needs_ardour
def test_a_failed_placement_leaves_the_session_as_it_was(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    folder = tmp_path / "song"
    ArdourAdapter(folder, bpm=100).place_stems(_stems(tmp_path / "a", ["drums"]), bar=1)
    before = _snapshot(folder)
    adapter = ArdourAdapter(folder)
    good = _stems(tmp_path / "b", ["bass", "keys"], first_seed=5)

    corrupt = tmp_path / "b" / "lead.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    with pytest.raises(PlacementError, match="lead"):
        adapter.place_stems({**good, "lead": corrupt})
    with pytest.raises(PlacementError, match="not found"):
        adapter.place_stems({**good, "lead": tmp_path / "missing.wav"})
    assert _snapshot(folder) == before

    def saved_then_crashed(script: str, plan: dict, **options: object) -> list[list[str]]:
        run_lua(script, plan, **options)  # Ardour placed the clips and saved the pending copy
        raise PlacementError("simulated crash after Ardour saved")

    monkeypatch.setattr(ardour_module, "run_lua", saved_then_crashed)
    with pytest.raises(PlacementError, match="simulated crash"):
        adapter.place_stems(good)
    assert _snapshot(folder) == before
    assert adapter.tracks() == [], "the failed tracks were not undone"


@needs_ardour
def test_a_crash_after_saving_is_retried_from_a_clean_copy(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    crashes = []

    def crash_once(script: str, plan: dict, **options: object) -> list[list[str]]:
        facts = run_lua(script, plan, **options)
        if script == "place_clips" and not crashes:
            crashes.append(script)  # as if Ardour died on its way out, after saving
            raise ArdourCrashed("Segmentation fault")
        return facts

    monkeypatch.setattr(ardour_module, "run_lua", crash_once)
    ArdourAdapter(tmp_path / "s", bpm=100).place_stems(_stems(tmp_path / "c", ["drums"]), bar=2)
    assert crashes and _tracks(tmp_path / "s" / "s.ardour") == {"drums": [115200]}


@needs_ardour
def test_a_failed_new_session_leaves_nothing_behind(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_placing(script: str, plan: dict, **options: object) -> list[list[str]]:
        if script == "place_clips":
            raise PlacementError("Ardour fell over")
        return run_lua(script, plan, **options)

    monkeypatch.setattr(ardour_module, "run_lua", fail_placing)
    with pytest.raises(PlacementError, match="fell over"):
        ArdourAdapter(tmp_path / "new", bpm=100).place_stems(_stems(tmp_path / "c", ["drums"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


NOTE_132 = ("the prompt says 132 BPM ('132 bpm'); the DAW session's 100 BPM is used so the "
            "clips fit its grid")


def _run_action_script(tmp_path: Path, answers: list[dict[str, str]]
                       ) -> tuple[list[list[str]], list[list[str]]]:
    """Run the GUI action script once per dialog answer in ardour7-lua, on a real session at
    100 BPM in 3/4; the dialog, the editor and ``stemloom`` are faked. Returns what the
    harness emitted (one run after the other) and each ``stemloom`` argv."""
    ArdourAdapter(tmp_path / "gui", bpm=100, time_signature=(3, 4)).commit()
    args = tmp_path / "args.txt"
    # The fake stemloom logs its argv, prints notes as the real one does, and leaves a
    # folder session with two stems at --dest (its last argument).
    fake_stemloom = _executable(tmp_path / "stemloom", f"""#!/bin/sh
printf '%s\\n' "$@" ---- >> {args}
echo "Note: {NOTE_132}"
echo "Job done in 1.0 s"
echo "Note: the prompt says 6/8; the DAW session's 3/4 is used"
for dest; do :; done
mkdir -p "$dest"
echo '{{"tracks": [{{"clips": [{{"file": "a_drums.wav"}}]}},' > "$dest/session.json"
echo '{{"clips": [{{"file": "a_bass.wav"}}]}}]}}' >> "$dest/session.json"
""")
    runs = "\n".join(
        "answer = {" + ", ".join(f"{key} = {lua_literal(value)}" for key, value in
                                 {**answer, "command": fake_stemloom}.items()) + "}\n"
        "emit ('run')\nfactory () ()" for answer in answers)
    harness = f"""
function ardour (meta) assert (meta.type == "EditorAction") end
start_engine (48000)
local real = load_session ({lua_literal(str(tmp_path / "gui"))}, "gui")
-- The playhead at 96000 samples; every other call goes to the real session.
Session = setmetatable ({{}}, {{ __index = function (_, key)
  if key == "transport_sample" then return function () return 96000 end end
  return function (_, ...) return real[key] (real, ...) end
end }})
LuaDialog = {{ MessageType = {{ Info = "info", Error = "error" }}, ButtonType = {{}},
  Message = function (_, text, kind) return {{ run = function ()
    emit ("message", kind, (text:gsub ("\\n", "|"))) end }} end,
  Dialog = function (title, fields) return {{ run = function ()
    for _, field in ipairs (fields) do
      if field.key then emit ("field", field.key, field.title, field.default) end
    end
    return answer end }} end }}
Editing = {{}}
Editor = {{ do_import = function (_, paths, _, _, _, _, _, at)
  for path in paths:iter () do emit ("import", path) end
  emit ("at", at:samples ())
end }}
dofile ({lua_literal(str(SCRIPTS / "stemloom_generate.lua"))})
{runs}
close_session ()
emit ("done")
"""
    prelude = (SCRIPTS / "prelude.lua").read_text()
    script = tmp_path / "run.lua"
    script.write_text(prelude + harness)
    result = subprocess.run(["ardour7-lua", str(script)], capture_output=True, text=True,
                            timeout=60, env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"),
                                             "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    lines = [line.split("\t")[1:] for line in result.stdout.splitlines()
             if line.startswith("STEMLOOM\t")]
    assert ["done"] in lines, result.stdout + result.stderr
    sent = args.read_text().split("----\n") if args.exists() else [""]
    return lines, [argv.splitlines() for argv in sent[:-1]]


def _per_run(lines: list[list[str]]) -> list[list[list[str]]]:
    runs: list[list[list[str]]] = []
    for line in lines:
        if line == ["run"]:
            runs.append([])
        elif runs and line != ["done"]:
            runs[-1].append(line)
    return runs


@needs_ardour
def test_the_action_script_runs_with_a_stubbed_gui(tmp_path: Path) -> None:
    """The GUI script, run in ardour7-lua on a real session; dialog, editor and stemloom faked.

    What cannot run here is Ardour's GUI itself: the dialog and Editor:do_import.
    """
    prompt = 'it\'s a "quoted" test, 132 bpm'
    lines, (sent,) = _run_action_script(tmp_path, [
        {"prompt": f" {prompt} ", "bars": " 4 ", "stems": "drums,bass"}])
    (run,) = _per_run(lines)
    fields = [line[1:] for line in run if line[0] == "field"]
    assert fields == [["prompt", "Prompt", ""], ["bars", "Bars (empty: from the prompt)", ""],
                      ["stems", "Stems (empty: from the prompt)", ""],
                      ["command", "Stemloom command", "stemloom"]]
    imports = [line[1] for line in run if line[0] == "import"]
    assert [Path(p).name for p in imports] == ["a_drums.wav", "a_bass.wav"]
    assert ["at", "96000"] in run
    assert sent[:2] == ["generate", prompt]
    assert " ".join(sent[2:13]) == ("--session-bpm 100.0000 --session-time-signature 3/4 "
                                    "--bars 4 --stems drums,bass --play --daw folder")
    assert sent[13] == "--dest" and Path(imports[0]).parent == Path(sent[14])
    assert len(sent) == 15  # --play: the preview is heard while Ardour waits
    # After the import, what stemloom noted about the prompt is shown.
    assert run[-1] == ["message", "info", NOTE_132 + "|the prompt says 6/8; the DAW session's "
                       "3/4 is used"]
    assert run.index(["at", "96000"]) < len(run) - 1


@needs_ardour
def test_the_action_script_leaves_empty_bars_and_stems_to_the_prompt(tmp_path: Path) -> None:
    lines, sent = _run_action_script(tmp_path, [
        {"prompt": "acid house, 132 bpm, Gm, 303 line, crisp hats", "bars": "", "stems": " "},
        {"prompt": "dub techno", "bars": "16", "stems": ""},
        {"prompt": "dub techno", "bars": "", "stems": "pads, bass"},
        {"prompt": "pads", "bars": "4.5", "stems": ""},
        {"prompt": "pads", "bars": "eight", "stems": ""},
        {"prompt": "  ", "bars": "", "stems": ""},
    ])
    runs = _per_run(lines)
    assert [argv[:2] for argv in sent] == [
        ["generate", "acid house, 132 bpm, Gm, 303 line, crisp hats"],
        ["generate", "dub techno"], ["generate", "dub techno"]]
    assert [argv[2:-2] for argv in sent] == [
        ["--session-bpm", "100.0000", "--session-time-signature", "3/4", "--play", "--daw",
         "folder"],
        ["--session-bpm", "100.0000", "--session-time-signature", "3/4", "--bars", "16",
         "--play", "--daw", "folder"],
        ["--session-bpm", "100.0000", "--session-time-signature", "3/4",
         "--stems", "pads, bass", "--play", "--daw", "folder"]]
    assert all(argv[-2] == "--dest" for argv in sent)
    for run in runs[:3]:
        assert len([line for line in run if line[0] == "import"]) == 2
        assert run[-1][:2] == ["message", "info"] and NOTE_132 in run[-1][2]
    for run in runs[3:5]:  # a bad length runs nothing and says why
        assert [line[:2] for line in run if line[0] != "field"] == [["message", "error"]]
        assert "whole number" in run[-1][2]
    assert [line for line in runs[5] if line[0] != "field"] == []  # no prompt: nothing


@needs_ardour
def test_the_action_script_command_line_is_one_the_cli_takes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The script's argv, given to the real CLI as a dry run: the session's tempo and meter
    are used, the rest comes from the words."""
    _, (sent,) = _run_action_script(tmp_path, [
        {"prompt": "acid house, 132 bpm, Gm, 16 bars, 303 line, crisp hats", "bars": "",
         "stems": ""}])
    sent[sent.index("--dest") + 1] = str(tmp_path / "not-there")  # a dry run opens nothing
    assert stemloom_main([*sent, "--dry-run", "--json"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert {key: resolved[key] for key in ("bpm", "time_signature", "bars", "key", "stems")} == {
        "bpm": 100, "time_signature": "3/4", "bars": 16, "key": "G minor",
        "stems": ["bass", "drums"]}
    assert any("132 BPM" in note and "100 BPM" in note for note in resolved["notes"])


@needs_ardour
def test_midi_clips_are_refused_headless(tmp_path: Path, midi_file: Path) -> None:
    adapter = ArdourAdapter(tmp_path / "m")
    track = adapter.create_track("melody", "midi")
    with pytest.raises(PlacementError, match="MIDI"):
        adapter.place_midi_clip(track, midi_file, 1)


def test_missing_ardour_is_a_clear_error(tmp_path: Path) -> None:
    adapter = ArdourAdapter(tmp_path / "s", bpm=100,
                            lua_command=str(tmp_path / "no-such-ardour7-lua"))
    with pytest.raises(PlacementError, match=r"not found.*install Ardour"):
        adapter.place_stems(_stems(tmp_path / "c", ["drums"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_a_hung_ardour_is_killed_and_reported(tmp_path: Path) -> None:
    hang = _executable(tmp_path / "ardour7-lua", "#!/bin/sh\nsleep 60\n")
    with pytest.raises(PlacementError, match=r"did not finish within 0\.5 s"):
        run_lua("create_session", {"rate": 48000}, command=hang, timeout=0.5)


def test_export_is_retried_after_a_crash(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    flaky = _executable(tmp_path / "ardour7-export", f"""#!/bin/sh
echo x >> {counter}
[ "$(wc -l < {counter})" -ge 3 ] || exit 139
while [ "$1" != "-o" ]; do shift; done
: > "$2"
""")
    out = export_session(tmp_path, "s", tmp_path / "out.wav", command=flaky)
    assert out.is_file() and counter.read_text().count("x") == 3
    counter.unlink()
    with pytest.raises(ArdourCrashed, match="crashed 2 times"):
        export_session(tmp_path, "s", tmp_path / "never.wav", command=flaky, attempts=2)


def test_lua_literals_quote_anything() -> None:
    text = lua_literal({"name": "a \"b\" \\ c\n]]\u00e9", "n": [1, 2.5, True]})
    assert re.fullmatch(r'\{ name = "[^"\\\n]*(\\\d{3}[^"\\\n]*)*", n = \{ 1, 2\.5, true \} \}',
                        text), text
    with pytest.raises(ValueError):
        lua_literal({"bad key": 1})


def test_sessions_are_found_by_folder_or_file(tmp_path: Path) -> None:
    assert locate_session(tmp_path / "new") == SessionFile(tmp_path / "new", "new")
    folder = tmp_path / "song"
    folder.mkdir()
    (folder / "take2.ardour").write_text("<Session/>")
    assert locate_session(folder) == SessionFile(folder, "take2")
    assert locate_session(folder / "take2.ardour") == SessionFile(folder, "take2")
    (folder / "song.ardour").write_text("<Session/>")
    assert locate_session(folder) == SessionFile(folder, "song")  # Ardour's own default
    (folder / "song.ardour").unlink()
    (folder / "take3.ardour").write_text("<Session/>")
    with pytest.raises(ValueError, match="several snapshots"):
        locate_session(folder)
    with pytest.raises(ValueError, match="no session file"):
        locate_session(folder / "nope.ardour")
