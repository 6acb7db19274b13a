"""LMMS projects into multi-stem examples: the project XML read back (.mmp and .mmpz), tracks
numbered as rendertracks numbers them, tracks mapped to families, licences by DEP-5 paragraph,
and (where lmms is installed, as scripts/install-system-deps does) a real headless render of
a two-track project whose tracks sum to its full render."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.corpus.shards import iter_examples
from engine.data.lmms import (
    beat_grid,
    gm_family,
    licence_of,
    map_track,
    prepare_lmms,
    score_tracks,
    source_words,
)
from engine.data.lmms_project import ProjectError, project_tracks, read_xml
from engine.data.stem_families import Evidence

TRIPLE = ('<tripleoscillator vol0="33" vol1="0" vol2="0" wavetype0="0" wavetype1="0" '
          'wavetype2="0" coarse0="0" coarse1="0" coarse2="0"/>')


def _track(name: str, instrument: str, settings: str, notes: list[tuple[int, int]],
           muted: bool = False, pattern_pos: int = 0, length: int = 384) -> str:
    body = "".join(f'<note pos="{p}" len="48" key="{k}" vol="100" pan="0"/>' for p, k in notes)
    return (f'<track type="0" name="{name}" muted="{int(muted)}"><instrumenttrack vol="100" '
            f'pan="0" fxch="0" basenote="57" pitch="0"><instrument name="{instrument}">'
            f'{settings}</instrument></instrumenttrack><pattern pos="{pattern_pos}" '
            f'len="{length}" steps="32" muted="0" type="1" name="">{body}</pattern></track>')


def project_xml(bpm: int = 120, extra: str = "", bb: str = "") -> str:
    """A song with a bass line (tripleoscillator) and a kick (audiofileprocessor), 2 bars."""
    bass = _track("Bass", "tripleoscillator", TRIPLE, [(0, 33), (96, 36), (192, 31), (288, 33)])
    kick = _track("Default preset", "audiofileprocessor",
                  '<audiofileprocessor src="drums/kick01.ogg" amp="100" sframe="0" '
                  'eframe="1" reversed="0" looped="0" stutter="0" interp="1"/>',
                  [(p, 57) for p in range(0, 384, 48)])
    return ('<?xml version="1.0"?>\n<lmms-project version="1.0" creator="LMMS" '
            f'creatorversion="1.2.2" type="song"><head bpm="{bpm}" timesig_numerator="4" '
            'timesig_denominator="4" mastervol="100" masterpitch="0"/><song>'
            f'<trackcontainer type="song">{bass}{kick}{extra}{bb}</trackcontainer></song>'
            '</lmms-project>')


def write_mmpz(path: Path, xml: str) -> Path:
    """An .mmpz: the XML's length (4 bytes, big-endian), then the XML zlib-compressed."""
    data = xml.encode()
    path.write_bytes(struct.pack(">I", len(data)) + zlib.compress(data))
    return path


def test_mmpz_and_mmp_read_alike_and_tracks_are_numbered_as_rendertracks(tmp_path):
    # A beat+bassline track "Drums" whose inner track plays pattern 0 looped over a 2-bar clip,
    # and a muted song track that rendertracks skips.
    inner = _track("Default", "kicker", "<kicker/>", [(0, 57), (96, 57)], length=192)
    bb = ('<track type="1" name="Drums" muted="0"><bbtrack><trackcontainer '
          f'type="bbtrackcontainer">{inner}</trackcontainer></bbtrack>'
          '<bbtco pos="0" len="384" muted="0"/></track>')
    muted = _track("Lead", "tripleoscillator", TRIPLE, [(0, 60)], muted=True)
    xml = project_xml(bpm=120, extra=muted, bb=bb)
    (tmp_path / "song.mmp").write_text(xml)
    for path in (write_mmpz(tmp_path / "song.mmpz", xml), tmp_path / "song.mmp"):
        project = project_tracks(read_xml(path))
        assert project.bpm == 120 and project.meter == (4, 4)
        names = [(t.index, t.name, t.plugin, t.beat_bassline) for t in project.tracks]
        assert names == [(1, "Bass", "tripleoscillator", False),
                         (2, "Default preset", "audiofileprocessor", False),
                         (3, "Default", "kicker", True)]
        bass, kick, drums = project.tracks
        # 48 ticks a beat at 120 BPM: a tick lasts 1/96 s; LMMS key 33 is MIDI 45 (A2).
        assert bass.notes == [(0.0, 45), (1.0, 48), (2.0, 43), (3.0, 45)]
        assert kick.source == "drums/kick01.ogg" and len(kick.notes) == 8
        # the 1-bar BB pattern loops twice over its 2-bar clip
        assert [t for t, _ in drums.notes] == [0.0, 1.0, 2.0, 3.0]
        assert drums.bb_names == {"Drums": 4}


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:3], "too short"),
    (lambda b: b[:4] + b"not zlib", "not zlib"),
    (lambda b: struct.pack(">I", 5) + b[4:], "the header says 5"),
])
def test_broken_mmpz_is_refused_with_a_reason(tmp_path, damage, message):
    good = write_mmpz(tmp_path / "a.mmpz", project_xml()).read_bytes()
    (tmp_path / "b.mmpz").write_bytes(damage(good))
    with pytest.raises(ProjectError, match=message):
        read_xml(tmp_path / "b.mmpz")


def test_non_project_xml_is_refused(tmp_path):
    (tmp_path / "a.mmp").write_text("<svg/>")
    with pytest.raises(ProjectError, match="not an LMMS project"):
        read_xml(tmp_path / "a.mmp")
    (tmp_path / "b.mmp").write_text("<lmms-project>")
    with pytest.raises(ProjectError, match="not XML"):
        read_xml(tmp_path / "b.mmp")


def _evidence(**changes: float) -> Evidence:
    base = {"names": {}, "notes": 40, "distinct": 8, "median_note": 60.0, "span": 12,
            "pitches_per_instrument": 8.0, "density": 2.0, "sounding": 20.0,
            "low_share": 0.1, "centroid": 1500.0, "percussive": 0.2}
    return Evidence(**{**base, **changes})


def _row(name: str = "Default preset", source: str = "", plugin: str = "tripleoscillator",
         bb_names: dict | None = None, program: int | None = None,
         bank: int | None = None) -> dict:
    return {"name": name, "source": source, "plugin": plugin, "bb_names": bb_names or {},
            "program": program, "bank": bank}


def test_tracks_map_to_families_by_name_file_beat_bassline_program_plugin_then_sound():
    sound = _evidence()
    assert map_track(_row("Dirt Bass"), sound) == ("bass", "track name")
    assert map_track(_row(source="drums/hihat_closed02.ogg", plugin="audiofileprocessor"),
                     sound) == ("drums", "sample file")
    # most notes play in BB tracks named for drums
    assert map_track(_row(bb_names={"Kick + Snare": 30, "Beat/Bassline 2": 10}), sound) == (
        "drums", "beat+bassline name")
    assert map_track(_row(bb_names={"Kick": 10, "Beat/Bassline 2": 30}), sound)[1] != \
        "beat+bassline name"
    assert map_track(_row(plugin="sf2player", program=0, bank=0), sound) == (
        "keys", "gm program")
    assert map_track(_row(plugin="sf2player", program=40, bank=128), sound)[0] == "drums"
    assert map_track(_row(plugin="lb302"), sound) == ("bass", "plugin")
    # nothing named: the sound decides, as for tracker channels, with LMMS's own thresholds
    # between lead, pad and keys
    assert map_track(_row(), _evidence(percussive=0.8)) == ("drums", "percussive")
    assert map_track(_row(), _evidence(low_share=0.7)) == ("bass", "low")
    assert map_track(_row(), _evidence(density=5.0)) == ("lead", "busy-line")
    assert map_track(_row(), _evidence(density=3.0)) == ("keys", "default")
    assert map_track(_row(), _evidence(density=1.5)) == ("pad", "long-notes")


def test_sample_paths_name_their_sound_without_the_drumsynth_folder():
    assert source_words("drumsynth/tr808/Hat_c.ds") == "tr808 Hat_c.ds"
    assert source_words("drumsynth/misc_fx/hollow.ds") == "misc_fx hollow.ds"
    assert map_track(_row(source="drumsynth/tr808/Hat_c.ds"), _evidence()) == (
        "drums", "sample file")
    # an effect made with DrumSynth is not a drum because of the folder it is kept in
    assert map_track(_row(source="drumsynth/misc_fx/hollow.ds"), _evidence(density=0.5))[0] \
        == "pad"


def test_gm_programs_fall_in_their_families():
    assert [gm_family(p, 0) for p in (0, 12, 19, 25, 33, 41, 49, 57, 81, 89, 100, 118)] == [
        "keys", "keys", "keys", "guitar", "bass", "strings", "strings", "lead", "lead", "pad",
        "pad", "drums"]


def test_each_project_gets_the_licence_of_its_own_dep5_paragraph(tmp_path):
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Files-Excluded:\n data/projects/demos/Gone*\n\n"
        "Files: *\nCopyright: someone\nLicense: GPL-2+\n\n"
        "Files: data/projects/demos/Alpha-*\n data/projects/shorties/Beta*\n"
        "Copyright: 2010 A\nLicense: CC-BY-SA-3\n\n"
        "Files: data/projects/*/Skiessi/*\nCopyright: S\nLicense: CC-BY-SA-4\n")
    assert licence_of("demos/Alpha-Song.mmpz", copyright_file) == "CC-BY-SA-3"
    assert licence_of("shorties/Beta.mmp", copyright_file) == "CC-BY-SA-3"
    assert licence_of("demos/Skiessi/Onion.mmpz", copyright_file) == "CC-BY-SA-4"
    assert licence_of("shorties/Other.mmpz", copyright_file) == "GPL-2+"
    assert licence_of("x.mmp", tmp_path / "none").startswith("unknown")


def test_beat_grid_is_exact_from_the_tempo():
    beats, downbeats = beat_grid(120.0, (4, 4), start=15.0, seconds=3.0)
    assert beats == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert downbeats == [1.0]  # beat 32 (16 s) starts a bar; 30 (15 s) does not
    beats, _ = beat_grid(100.0, (3, 4), start=0.1, seconds=1.3)
    assert beats == [0.5, 1.1]


def test_real_headless_render_tracks_sum_to_the_full_render(tmp_path):
    projects = tmp_path / "projects"
    (projects / "demos").mkdir(parents=True)
    write_mmpz(projects / "demos" / "Tiny.mmpz", project_xml(bpm=120))
    (projects / "demos" / "Broken.mmpz").write_bytes(b"\0\0\0\x09not zlib")
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text("Files: *\nCopyright: test\nLicense: GPL-2+\n")
    out = tmp_path / "corpus"
    results = {r.path: r for r in prepare_lmms(projects, out, window_seconds=5.0,
                                               copyright_file=copyright_file)}
    broken, tiny = results["demos/Broken.mmpz"], results["demos/Tiny.mmpz"]
    assert broken.status == "skipped" and "zlib" in broken.why
    assert tiny.status == "written", tiny.why
    assert tiny.residual_db < -60  # no master effects: the tracks are the mix
    assert tiny.families == {"bass": [1], "drums": [2]}
    assert tiny.licence == "GPL-2+" and tiny.bpm == 120 and 4 < tiny.seconds < 10
    examples = [e for e in iter_examples(out, split=None)
                if e["json"]["file"] == "demos/Tiny.mmpz"]
    assert examples
    for example in examples:
        meta = example["json"]
        assert meta["bpm"] == 120 and meta["meter"] == "4/4" and meta["source"] == "lmms"
        stems = [s["family"] for s in meta["stems"]]
        assert set(stems) <= {"bass", "drums"} and "drums" in stems
        total = sum(example[f"{f}.flac"] for f in stems)
        assert np.array_equal(example["mix.flac"], total)  # the mix is exactly their sum
    rows = json.loads((out / "lmms-tracks.json").read_text())
    assert [r["family"] for r in next(iter(rows.values()))] == ["bass", "drums"]
    # the stored evidence scores hand labels without rendering again
    key = next(iter(rows))
    labels = [{"project": key, "track": 1, "family": "bass", "half": "tune"},
              {"project": key, "track": 2, "family": "drums", "half": "test"}]
    tune, test = score_tracks(labels, out / "lmms-tracks.json")
    assert (tune.n, tune.correct, test.n, test.correct) == (1, 1, 1, 1)
    again = {r.path: r.status for r in prepare_lmms(projects, out, window_seconds=5.0,
                                                    copyright_file=copyright_file)}
    assert again["demos/Tiny.mmpz"] == "already done"


def test_cli_refuses_bad_input_with_a_message(tmp_path, capsys):
    from stemloom.cli import main

    out = str(tmp_path / "out")
    assert main(["data", "prepare-lmms", "--projects", str(tmp_path / "none"),
                 "--out", out]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["data", "prepare-lmms", "--projects", str(tmp_path), "--out", out,
                 "--window", "2"]) == 2
    assert "at least 5 seconds" in capsys.readouterr().err
    assert main(["data", "prepare-lmms", "--out", out, "--score",
                 str(tmp_path / "labels.json")]) == 2  # no run has stored evidence there
    assert "holds no lmms-tracks.json" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "lmms-tracks.json").write_text("{}")
    assert main(["data", "prepare-lmms", "--out", out, "--score",
                 str(tmp_path / "missing.json")]) == 2
    assert "cannot read labels" in capsys.readouterr().err


def test_cli_says_how_to_install_lmms_when_it_is_missing(tmp_path, capsys, monkeypatch):
    from stemloom.cli import main

    write_mmpz(tmp_path / "Song.mmpz", project_xml())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no lmms on this PATH
    assert main(["data", "prepare-lmms", "--projects", str(tmp_path), "--out",
                 str(tmp_path / "out")]) == 2
    assert "scripts/install-system-deps" in capsys.readouterr().err
