"""The stemloom command as a user runs it: real subprocesses, real engine."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stemloom import __version__
from stemloom.local_engine import LocalEngine


def stemloom(*args: str, home: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    return subprocess.run([sys.executable, "-m", "stemloom", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_version_and_help(tmp_path) -> None:
    assert stemloom("--version", home=tmp_path).stdout.strip() == f"stemloom {__version__}"
    help_text = stemloom("--help", home=tmp_path).stdout
    for command in ("engine", "generate", "host", "doctor", "bench", "eval"):
        assert command in help_text


def test_generate_without_trained_weights_says_so_plainly(tmp_path) -> None:
    empty = tmp_path / "not-a-generator"
    empty.mkdir()
    result = stemloom("generate", "lofi drums", "--bars", "1", "--model", str(empty),
                      home=tmp_path)
    assert result.returncode == 2
    assert "No trained generator is installed in" in result.stderr
    assert "[no_model]" in result.stderr


def test_generate_places_stems_in_a_dawproject_and_a_folder(tmp_path) -> None:
    project = tmp_path / "song.dawproject"
    result = stemloom("generate", "dusty lo-fi drums and mellow rhodes", "--bpm", "84",
                      "--bars", "1", "--stems", "drums,keys", "--model", "random-tiny",
                      "--daw", "dawproject", "--dest", str(project), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Placed 2 stems" in result.stdout
    with zipfile.ZipFile(project) as archive:
        names = archive.namelist()
    assert "project.xml" in names
    assert sorted(n.split("_")[-1] for n in names if n.startswith("audio/")) == [
        "drums.wav", "keys.wav"
    ]
    assert all("_84bpm_" in n and "_1bars_" in n for n in names if n.startswith("audio/"))
    folder = tmp_path / "session"
    result = stemloom("generate", "bossa nova guitar", "--bars", "1", "--stems", "guitar",
                      "--bpm", "90", "--time-signature", "3/4", "--model", "random-tiny",
                      "--daw", "folder", "--dest", str(folder), "--loudness", "-18",
                      home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert " LUFS (+" in result.stdout or " LUFS (-" in result.stdout  # the gain it took
    # A second request into the same session takes its tempo and meter from the session.
    result = stemloom("generate", "bossa nova bass", "--bars", "1", "--stems", "bass",
                      "--model", "random-tiny", "--daw", "folder", "--dest", str(folder),
                      home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 bars at 90 BPM (3/4)" in result.stdout
    session = json.loads((folder / "session.json").read_text())
    assert len(session["tracks"]) == 2


def test_bad_arguments_are_refused_before_anything_runs(tmp_path) -> None:
    result = stemloom("generate", "x", "--stems", "drums,kazoo", home=tmp_path)
    assert result.returncode == 2 and "kazoo" in result.stderr
    result = stemloom("generate", "x", "--daw", "folder", home=tmp_path)
    assert result.returncode == 2 and "--dest" in result.stderr
    result = stemloom("generate", "x", "--loudness", "3", home=tmp_path)
    assert result.returncode == 2 and "not a placement level" in result.stderr
    for content in ("{not json", '{"a": 1}', '["--args-from", "x"]'):
        (tmp_path / "args.json").write_text(content, encoding="utf-8")
        result = stemloom("--args-from", str(tmp_path / "args.json"), home=tmp_path)
        assert result.returncode == 2 and "cannot read the arguments" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_words_set_the_request_and_a_dry_run_shows_where_each_field_came_from(
        tmp_path) -> None:
    prompt = "acid house, 126 bpm, Gm, squelchy 303 line, crisp hats, 4 bars"
    shown = stemloom("generate", prompt, "--dry-run", "--json", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    resolved = json.loads(shown.stdout)
    assert (resolved["bpm"], resolved["key"], resolved["bars"]) == (126, "G minor", 4)
    assert resolved["stems"] == ["bass", "drums"] and resolved["genre"] == "acid-house"
    assert resolved["sources"] == {"bpm": "words", "bars": "words", "time_signature": "default",
                                   "key": "words", "stems": "words"}
    assert resolved["words"]["bpm"] == "126 bpm"
    # The session's tempo wins and the producer is told; a flag beats the words too.
    told = stemloom("generate", prompt, "--session-bpm", "120", "--key", "A minor",
                    "--dry-run", home=tmp_path)
    assert "120" in told.stdout and "A minor" in told.stdout
    assert "Note: the prompt says 126 BPM ('126 bpm'); the DAW session's 120 BPM is used" in (
        told.stdout)
    # Words that contradict themselves make nothing and say which words.
    bad = stemloom("generate", "no drums, heavy drums", home=tmp_path)
    assert bad.returncode == 2 and "'drums'" in bad.stderr and "Traceback" not in bad.stderr
    # From the words alone, through a real (tiny) engine, the stems are the ones named.
    made = stemloom("generate", "dub at 72 bpm in Dm, 1 bar, just bass and drums",
                    "--model", "random-tiny", home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "1 bars at 72 BPM (4/4), key D minor" in made.stdout
    job = next((tmp_path / "data" / "stemloom" / "library").glob("gen-*/job.json"))
    assert json.loads(job.read_text())["request"]["stems"] == ["bass", "drums"]


def test_host_commands_against_a_running_engine(tmp_path) -> None:
    with LocalEngine(tmp_path / "library", model="random-tiny") as engine:
        address = f"127.0.0.1:{engine.udp_port}"
        status = stemloom("host", "status", "--engine", address, home=tmp_path)
        assert status.returncode == 0 and "random-tiny" in status.stdout
        made = stemloom("generate", "techno", "--bars", "1", "--stems", "mix",
                        "--engine", address, home=tmp_path)
        assert made.returncode == 0, made.stderr
        jobs = stemloom("host", "jobs", "--engine", address, home=tmp_path)
        assert "done" in jobs.stdout
        job_id = jobs.stdout.split()[1]
        job = stemloom("host", "job", job_id, "--engine", address, home=tmp_path)
        assert "mix" in job.stdout and ".wav" in job.stdout
    gone = stemloom("host", "status", "--engine", address, "--timeout", "0.5", home=tmp_path)
    assert gone.returncode == 2 and "engine serve" in gone.stderr


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_doctor_reports_every_check(tmp_path, flag) -> None:
    result = stemloom("doctor", *flag, home=tmp_path)
    assert result.returncode in (0, 1)
    assert "default model" in result.stdout
    if flag:
        assert {c["name"] for c in json.loads(result.stdout)} >= {"torch", "fluidsynth"}


def test_a_tempo_that_disagrees_with_the_session_is_refused_before_generating(
        tmp_path) -> None:
    project = tmp_path / "song.RPP"
    text = ('<REAPER_PROJECT 0.1 "7.22/linux" 1700000000\n  TEMPO 140 4 4\n'
            "  SAMPLERATE 48000 0 0\n  <TRACK {A}\n    NAME guitar\n  >\n>\n")
    project.write_text(text, encoding="utf-8")
    refused = stemloom("generate", "a bass line", "--bpm", "90", "--bars", "1",
                       "--model", "random-tiny", "--daw", "reaper", "--dest", str(project),
                       home=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "90 BPM, the session runs at 140 BPM" in refused.stderr
    assert project.read_text(encoding="utf-8") == text
    assert not list((tmp_path / "data").glob("stemloom/library/gen-*"))  # nothing generated
    # The same rule for an in-DAW script that says what its session runs at.
    scripted = stemloom("generate", "a bass line", "--bpm", "90", "--session-bpm", "140",
                        "--dry-run", home=tmp_path)
    assert scripted.returncode == 2 and "the session runs at 140 BPM" in scripted.stderr
    # Left out, the session's tempo is used and the words that disagree are overruled aloud.
    placed = stemloom("generate", "a bass line at 90 bpm", "--bars", "1", "--stems", "bass",
                      "--model", "random-tiny", "--daw", "reaper", "--dest", str(project),
                      home=tmp_path)
    assert placed.returncode == 0, placed.stderr
    assert "the DAW session's 140 BPM is used" in placed.stdout
    assert "Placed 1 stem on new tracks" in placed.stdout
    assert "TEMPO 140 4 4" in project.read_text(encoding="utf-8")


def test_adding_a_bass_to_an_existing_dawproject_keeps_the_project(tmp_path) -> None:
    """The issue's case: a 100 BPM 6/8 project with three tracks gets a bass, and keeps all."""
    import numpy as np

    from plugin_host.clips import AcidInfo, write_clip
    from plugin_host.daw.dawproject import DawprojectAdapter

    project = tmp_path / "song.dawproject"
    clips = {name: write_clip(tmp_path / f"{name}.wav", np.zeros((48000, 2)), 48000,
                              AcidInfo(tempo=100, beats=6, meter=(6, 8)))
             for name in ("guitar", "vox", "keys")}
    DawprojectAdapter(project, bpm=100, time_signature=(6, 8)).place_stems(clips)
    with zipfile.ZipFile(project) as archive:
        before = {name: archive.read(name) for name in archive.namelist()}

    added = stemloom("generate", "add a bass", "--stems", "bass", "--bars", "1",
                     "--model", "random-tiny", "--daw", "dawproject", "--dest", str(project),
                     home=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "Placed 1 stem on new tracks" in added.stdout
    with zipfile.ZipFile(project) as archive:
        after = {name: archive.read(name) for name in archive.namelist()}
    assert all(after[name] == data for name, data in before.items() if name != "project.xml")
    xml = after["project.xml"].decode()
    assert [f'name="{n}"' in xml for n in ("guitar", "vox", "keys", "bass")] == [True] * 4
    assert 'value="100.0"' in xml and 'numerator="6"' in xml and 'denominator="8"' in xml
    assert list(tmp_path.glob("song.before-stemloom-*.dawproject"))  # the backup
