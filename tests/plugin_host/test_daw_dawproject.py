"""The DAWproject writer: schema-valid files whose tracks, clips and positions are right."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import xmlschema

from plugin_host.clips import AcidInfo, write_clip
from plugin_host.daw import PlacementError, get_adapter
from plugin_host.daw.dawproject import DawprojectAdapter

ClipMaker = Callable[..., Path]  # the make_clip fixture (conftest.py)

SCHEMAS = Path(__file__).parent / "fixtures" / "dawproject"


@pytest.fixture(scope="module")
def project_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SCHEMAS / "Project.xsd")


@pytest.fixture(scope="module")
def metadata_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SCHEMAS / "MetaData.xsd")


def _open(path: Path, project_schema: xmlschema.XMLSchema,
          metadata_schema: xmlschema.XMLSchema) -> tuple[zipfile.ZipFile, ET.Element]:
    """Open a written project, validate both documents, return the ZIP and project root."""
    archive = zipfile.ZipFile(path)
    assert archive.testzip() is None
    project_xml = archive.read("project.xml").decode("utf-8")
    project_schema.validate(project_xml)
    metadata_schema.validate(archive.read("metadata.xml").decode("utf-8"))
    return archive, ET.fromstring(project_xml)


def _tracks(root: ET.Element) -> dict[str, ET.Element]:
    """Regular tracks by name (the master is left out)."""
    return {t.get("name"): t for t in root.iterfind("Structure/Track")
            if t.find("Channel").get("role") != "master"}


def _clips_of(root: ET.Element, track: ET.Element) -> list[ET.Element]:
    (lanes,) = [lane for lane in root.iterfind("Arrangement/Lanes/Lanes")
                if lane.get("track") == track.get("id")]
    return lanes.findall("Clips/Clip")


def test_stems_land_on_tracks_at_the_bar(tmp_path: Path, make_clip: ClipMaker,
                                         project_schema: xmlschema.XMLSchema,
                                         metadata_schema: xmlschema.XMLSchema) -> None:
    path = tmp_path / "song.dawproject"
    adapter = get_adapter("dawproject", path=path, bpm=124.0, time_signature=(3, 4),
                          sample_rate=44100, title="Night drive")
    stems = {name: make_clip(name, seconds=2.0, sample_rate=44100, bpm=124.0, beats=4, seed=i)
             for i, name in enumerate(["drums", "bass", "lead"])}
    adapter.place_stems(stems, bar=9)

    archive, root = _open(path, project_schema, metadata_schema)
    assert root.get("version") == "1.0"
    assert root.find("Transport/Tempo").get("value") == "124.0"
    assert root.find("Transport/Tempo").get("unit") == "bpm"
    signature = root.find("Transport/TimeSignature")
    assert (signature.get("numerator"), signature.get("denominator")) == ("3", "4")
    assert ET.fromstring(archive.read("metadata.xml")).findtext("Title") == "Night drive"

    master = [t for t in root.iterfind("Structure/Track")
              if t.find("Channel").get("role") == "master"]
    assert len(master) == 1
    tracks = _tracks(root)
    assert list(tracks) == ["drums", "bass", "lead"]
    assert root.find("Arrangement/Lanes").get("timeUnit") == "beats"
    for name, track in tracks.items():
        assert track.get("contentType") == "audio"
        assert track.find("Channel").get("destination") == master[0].find("Channel").get("id")
        (clip,) = _clips_of(root, track)
        assert float(clip.get("time")) == 24.0  # 8 bars of 3/4 before bar 9
        assert float(clip.get("duration")) == 4.0
        warps = clip.find("Warps")
        assert warps.get("contentTimeUnit") == "seconds"
        audio = warps.find("Audio")
        assert (audio.get("channels"), audio.get("sampleRate")) == ("2", "44100")
        assert float(audio.get("duration")) == pytest.approx(2.0)
        points = [(float(w.get("time")), float(w.get("contentTime")))
                  for w in warps.findall("Warp")]
        assert points == [(0.0, 0.0), (4.0, pytest.approx(2.0))]
        entry = audio.find("File").get("path")
        assert entry == f"audio/{name}.wav"
        assert archive.read(entry) == stems[name].read_bytes()


def test_loop_from_another_tempo_keeps_its_beats(tmp_path: Path, make_clip: ClipMaker,
                                                 project_schema: xmlschema.XMLSchema,
                                                 metadata_schema: xmlschema.XMLSchema) -> None:
    # 8 beats at 120 bpm (4 s) placed into a 100 bpm project: still 8 beats, stretched.
    path = tmp_path / "song.dawproject"
    DawprojectAdapter(path, bpm=100.0).place_stems(
        {"pad": make_clip("pad", seconds=4.0, bpm=120.0, beats=8)})
    _, root = _open(path, project_schema, metadata_schema)
    (clip,) = _clips_of(root, _tracks(root)["pad"])
    assert float(clip.get("duration")) == 8.0
    assert float(clip.find("Warps/Warp[2]").get("contentTime")) == pytest.approx(4.0)


def test_one_shot_lasts_its_seconds(tmp_path: Path, project_schema: xmlschema.XMLSchema,
                                    metadata_schema: xmlschema.XMLSchema) -> None:
    hit = write_clip(tmp_path / "hit.wav", np.zeros((24000, 2)), 48000,
                     AcidInfo(tempo=90.0, beats=1, one_shot=True), "FLOAT")
    path = tmp_path / "song.dawproject"
    DawprojectAdapter(path, bpm=120.0).place_stems({"hit": hit})
    _, root = _open(path, project_schema, metadata_schema)
    (clip,) = _clips_of(root, _tracks(root)["hit"])
    assert float(clip.get("duration")) == pytest.approx(1.0)  # 0.5 s at 120 bpm


def test_midi_clip_becomes_notes(tmp_path: Path, midi_file: Path,
                                 project_schema: xmlschema.XMLSchema,
                                 metadata_schema: xmlschema.XMLSchema) -> None:
    path = tmp_path / "song.dawproject"
    adapter = DawprojectAdapter(path, bpm=100.0)
    track = adapter.create_track("melody", "midi")
    adapter.place_midi_clip(track, midi_file, 2)
    adapter.commit()
    _, root = _open(path, project_schema, metadata_schema)
    melody = _tracks(root)["melody"]
    assert melody.get("contentType") == "notes"
    (clip,) = _clips_of(root, melody)
    assert float(clip.get("time")) == 4.0
    assert float(clip.get("duration")) == 4.0  # 2 beats of notes, rounded up to a bar
    notes = [(float(n.get("time")), float(n.get("duration")), int(n.get("key")),
              float(n.get("vel"))) for n in clip.findall("Notes/Note")]
    assert notes == [(0.0, 1.0, 60, pytest.approx(100 / 127)),
                     (1.5, 0.5, 64, pytest.approx(64 / 127))]


def test_one_bad_stem_writes_nothing(tmp_path: Path, make_clip: ClipMaker) -> None:
    path = tmp_path / "song.dawproject"
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not really")
    adapter = DawprojectAdapter(path)
    with pytest.raises(PlacementError):
        adapter.place_stems({"drums": make_clip("drums"), "bad": bad})
    assert not path.exists()
    assert adapter.tracks() == []


def test_failed_placement_keeps_the_previous_file(tmp_path: Path, make_clip: ClipMaker,
                                                  project_schema: xmlschema.XMLSchema,
                                                  metadata_schema: xmlschema.XMLSchema) -> None:
    path = tmp_path / "song.dawproject"
    adapter = DawprojectAdapter(path)
    adapter.place_stems({"drums": make_clip("drums")})
    before = path.read_bytes()
    with pytest.raises(PlacementError):
        adapter.place_stems({"bass": make_clip("bass"), "gone": tmp_path / "missing.wav"})
    assert path.read_bytes() == before
    adapter.place_stems({"bass": make_clip("bass")}, bar=5)
    _, root = _open(path, project_schema, metadata_schema)
    assert list(_tracks(root)) == ["drums", "bass"]


def test_failed_write_leaves_no_temp_file(tmp_path: Path, make_clip: ClipMaker) -> None:
    clip = make_clip("drums", folder=tmp_path / "clips")
    target = tmp_path / "out" / "song.dawproject"
    target.mkdir(parents=True)  # the path is taken by a folder: the final rename fails
    adapter = DawprojectAdapter(target)
    with pytest.raises(PlacementError):
        adapter.place_stems({"drums": clip})
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["song.dawproject"]
    assert adapter.tracks() == []


def test_hostile_names_still_validate(tmp_path: Path, make_clip: ClipMaker,
                                      project_schema: xmlschema.XMLSchema,
                                      metadata_schema: xmlschema.XMLSchema) -> None:
    path = tmp_path / "song.dawproject"
    same_a = make_clip("loop", folder=tmp_path / "a", seed=1)
    same_b = make_clip("LOOP", folder=tmp_path / "b", seed=2)
    name = 'bass <&> "quoted" \x00\x1b\ud800 \u65e5\u672c'
    DawprojectAdapter(path, title="\x07title").place_stems({name: same_a, "../../x": same_b})
    archive, root = _open(path, project_schema, metadata_schema)
    assert list(_tracks(root)) == ['bass <&> "quoted"  \u65e5\u672c', "../../x"]
    entries = [a.get("path") for a in root.iterfind(".//Audio/File")]
    assert entries == ["audio/loop.wav", "audio/LOOP-2.wav"]
    assert archive.read("audio/LOOP-2.wav") == same_b.read_bytes()
