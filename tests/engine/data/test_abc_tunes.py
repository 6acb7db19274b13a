"""ABC tunes fetched from a .deb become one MIDI file each, with honest manifest rows: a real
.deb built with dpkg-deb, the real fetch, and the real abc2midi (scripts/install-system-deps
installs abcmidi: a missing tool fails here, it does not skip)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mido

from engine.data.abc_tunes import convert, find_abc2midi
from engine.data.fetch import fetch, local_downloader, read_manifest, sha256_of
from engine.data.sources import Source
from engine.generator.real_tunes_sources import ABC2MIDI_FLAGS
from tests.engine.test_data_fetch import _build_deb

PACKAGE = "abctunes"
ABC_PATH = f"usr/share/doc/{PACKAGE}/examples/tunes.abc"
# Two tunes written for this test (a jig with a one-eighth pickup, a reel) and one in a meter
# the corpus does not know.
TUNES = """% three tunes
X:1
T:Test Jig
M:6/8
L:1/8
K:D
A|DED F2A|d2f ecA|G2B F2A|E2F GFE|DED F2A|d2f ecA|Bgf edc|d3 d2||

X:2
T:Test Reel
M:4/4
L:1/8
K:G
GABc dBGB|c2ec B2dB|ABcd efge|d2B2 G4|GABc dBGB|c2ec B2dB|ABcd efge|d2B2 G4||

X:3
T:Test Polka
M:2/4
L:1/8
K:G
GA Bc|d2 d2|BA GA|B4||
"""
COPYRIGHT = b"Files: *\nCopyright: 2026 Tests\nLicense: GPL-2+\n"


def _fetched(tmp_path: Path) -> Path:
    """A data folder holding the test package as `stemloom data fetch` leaves it."""
    debs = tmp_path / "debs"
    debs.mkdir()
    _build_deb(tmp_path, debs, PACKAGE, "1.0-1",
               {ABC_PATH: TUNES.encode(), f"usr/share/doc/{PACKAGE}/copyright": COPYRIGHT})
    dest = tmp_path / "data"
    source = Source(PACKAGE, "abc", "GPL-2+", ("*.abc",))
    [report] = fetch([source], dest, tmp_path / "cache", local_downloader(debs))
    assert report.status == "fetched"
    return dest


def test_each_tune_becomes_a_midi_file_with_an_honest_row(tmp_path: Path) -> None:
    dest = _fetched(tmp_path)
    report = convert(dest)
    assert report.by_meter == {"6/8": 1, "4/4": 1}
    assert len(report.skipped) == 1 and "X:3 Test Polka: meter '2/4'" in report.skipped[0]
    rows = {str(r["path"]): r for r in read_manifest(dest)}
    abc = rows[f"{PACKAGE}/{ABC_PATH}"]
    jig, reel = rows[f"{PACKAGE}/{ABC_PATH}.d/x1.mid"], rows[f"{PACKAGE}/{ABC_PATH}.d/x2.mid"]
    assert len(rows) == 3
    for row, tune in ((jig, "X:1 Test Jig"), (reel, "X:2 Test Reel")):
        assert (row["package"], row["version"], row["licence"]) == (PACKAGE, "1.0-1", "GPL-2+")
        assert row["sha256"] == sha256_of(dest / str(row["path"]))
        assert row["bytes"] == (dest / str(row["path"])).stat().st_size
        made = row["converted_from"]
        assert isinstance(made, dict)
        assert (made["path"], made["sha256"], made["tune"]) == (abc["path"], abc["sha256"], tune)
        assert str(made["converter"]).startswith("abc2midi ")
        assert str(made["converter"]).endswith(" ".join(ABC2MIDI_FLAGS))
    midi = mido.MidiFile(dest / str(jig["path"]))
    signatures = {(m.numerator, m.denominator) for t in midi.tracks for m in t
                  if m.type == "time_signature"}
    assert signatures == {(6, 8)}
    onsets = sorted(tick for track in midi.tracks for tick, m in _timed(track)
                    if m.type == "note_on" and m.velocity > 0)
    bar = 3 * midi.ticks_per_beat  # a 6/8 bar: three quarter notes
    assert onsets[:2] == [bar - midi.ticks_per_beat // 2, bar]  # the pickup ends bar 0
    before = (dest / "manifest.jsonl").read_text()
    assert convert(dest).by_meter == report.by_meter
    assert (dest / "manifest.jsonl").read_text() == before  # a rerun changes nothing


def test_a_refetch_drops_the_rows_of_the_files_it_replaced(tmp_path: Path) -> None:
    dest = _fetched(tmp_path)
    convert(dest)
    source = Source(PACKAGE, "abc", "GPL-2+", ("*.abc",))
    [report] = fetch([source], dest, tmp_path / "cache", local_downloader(tmp_path / "debs"),
                     force=True)
    assert report.status == "fetched"
    paths = [str(r["path"]) for r in read_manifest(dest)]
    assert paths == [f"{PACKAGE}/{ABC_PATH}"]  # the MIDI files went with the old folder
    assert convert(dest).by_meter == {"6/8": 1, "4/4": 1}


def test_the_command_line_says_what_is_missing(tmp_path: Path) -> None:
    def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PATH": path if path is not None else os.environ["PATH"]}
        return subprocess.run([sys.executable, "-m", "stemloom", "data", "prepare-abc", *args],
                              capture_output=True, text=True, env=env, check=False)

    empty = tmp_path / "empty"
    empty.mkdir()
    done = run(str(empty))
    assert done.returncode == 2 and "no manifest.jsonl" in done.stderr
    assert "Traceback" not in done.stderr
    (empty / "manifest.jsonl").write_text("")
    done = run(str(empty))
    assert done.returncode == 2 and "lists no .abc file" in done.stderr
    (empty / "manifest.jsonl").unlink()
    dest = _fetched(tmp_path)
    done = run(str(dest), path=str(empty))  # no abc2midi on this PATH
    assert done.returncode == 2 and "abc2midi is not installed" in done.stderr
    done = run(str(dest))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "midi_files": 2, "by_meter": {"6/8": 1, "4/4": 1}, "skipped": 1}
    assert find_abc2midi().name == "abc2midi"


def _timed(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    now, timed = 0, []
    for message in track:
        now += message.time
        timed.append((now, message))
    return timed
