"""Placing into an existing DAWproject file: everything in it survives, only tracks are added.

The producer's project (fixtures/dawproject/existing-project.xml, hand-made: 100 BPM, 6/8, an
audio track with a VST3 plugin and its state file, a notes track with a CLAP instrument, a
group track with a child, an effect (return) track with a send, the master, volume automation,
markers, tempo and time-signature automation, a scene, comments) is zipped with metadata,
audio, plugin states and an unknown entry, placed into, and diffed.
"""

from __future__ import annotations

import difflib
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

import mido
import numpy as np
import pytest
import soundfile as sf
import xmlschema

from bridge.messages import Done
from plugin_host.daw import PlacementError, SessionMismatch
from plugin_host.daw.backup import BACKUP_TAG
from plugin_host.daw.dawproject import DawprojectAdapter
from plugin_host.placement import MELODY_TRACK, open_adapter, place_job

ClipMaker = Callable[..., Path]  # the make_clip fixture (conftest.py)

FIXTURES = Path(__file__).parent / "fixtures" / "dawproject"
PROJECT_XML = (FIXTURES / "existing-project.xml").read_bytes()
METADATA = (b'<?xml version="1.0" encoding="UTF-8"?>\n<MetaData>\n  <Title>Late train</Title>\n'
            b"  <Artist>A producer</Artist>\n</MetaData>\n")
_STAMP = (2024, 5, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def project_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(FIXTURES / "Project.xsd")


@pytest.fixture(scope="module")
def metadata_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(FIXTURES / "MetaData.xsd")


class _Stream:
    """A file that can only be written to, as a Java ZipOutputStream sees its output: the
    ZIP gets a data descriptor after each entry's data."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()


def _existing(tmp_path: Path, project_xml: bytes = PROJECT_XML, streamed: bool = False) -> Path:
    """A .dawproject ZIP as a DAW writes one, with entries of every sort around project.xml."""
    path = tmp_path / "song.dawproject"
    with open(path, "wb") as handle:
        _write_existing(_Stream(handle) if streamed else handle, project_xml)
    return path


def _write_existing(handle: BinaryIO | _Stream, project_xml: bytes) -> None:
    rng = np.random.default_rng(7)

    def entry(name: str, data: bytes, compression: int = zipfile.ZIP_DEFLATED) -> None:
        info = zipfile.ZipInfo(name, _STAMP)
        info.external_attr = 0o644 << 16
        archive.writestr(info, data, compression)

    with zipfile.ZipFile(handle, "w") as archive:  # type: ignore[arg-type]
        archive.comment = b"exported by hand"
        entry("metadata.xml", METADATA)
        entry("project.xml", project_xml)
        entry("audio/drums.wav", _wav(rng, 44100, 7.2), zipfile.ZIP_STORED)
        entry("audio/guitar.wav", _wav(rng, 44100, 3.6))
        entry("audio/Bass.wav", _wav(rng, 44100, 0.5))  # a name a new clip must not reuse
        entry("plugins/d19b1f8e.vstpreset", rng.bytes(3000))
        entry("plugins/6f0c2a.clap-preset", rng.bytes(500), zipfile.ZIP_STORED)
        archive.mkdir("extras/")
        entry("extras/session-notes.txt", b"vocals on Friday\n", zipfile.ZIP_BZIP2)


def _wav(rng: np.random.Generator, rate: int, seconds: float) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    sf.write(buffer, rng.uniform(-0.1, 0.1, (int(rate * seconds), 2)), rate, format="WAV")
    return buffer.getvalue()


def _raw(path: Path, info: zipfile.ZipInfo) -> bytes:
    """The entry's stored (compressed) bytes, as they lie in the ZIP file."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        name_length, extra_length = struct.unpack("<HH", handle.read(30)[26:30])
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        return handle.read(info.compress_size)


def _canonical(document: bytes | str) -> str:
    text = document.decode("utf-8") if isinstance(document, bytes) else document
    return ET.canonicalize(text, with_comments=True, strip_text=True)


def _ids(root: ET.Element) -> list[str]:
    return [e.get("id", "") for e in root.iter() if e.get("id")]


def _assert_only_added(before: bytes, after_path: Path, backup: Path | None = None
                       ) -> tuple[ET.Element, list[ET.Element], list[ET.Element]]:
    """Check ``after_path`` is the ZIP file ``before`` plus new tracks, lanes and entries.

    Returns the new project root, the added Track elements and the added track Lanes.
    """
    original_path = after_path.with_name("original.zip")
    original_path.write_bytes(before)
    with zipfile.ZipFile(original_path) as old, zipfile.ZipFile(after_path) as new:
        assert new.testzip() is None
        assert new.comment == old.comment
        old_entries = old.infolist()
        assert new.namelist()[:len(old_entries)] == old.namelist()
        for info in old_entries:
            copy = new.getinfo(info.filename)
            if info.filename == "project.xml":
                continue
            assert _raw(after_path, copy) == _raw(original_path, info), info.filename
            assert new.read(copy) == old.read(info)
            assert (copy.CRC, copy.compress_type, copy.date_time, copy.external_attr) == \
                (info.CRC, info.compress_type, info.date_time, info.external_attr)
        old_xml, new_xml = old.read("project.xml"), new.read("project.xml")

    # project.xml: only insertions, byte for byte (comments, indentation, attribute order…).
    opcodes = difflib.SequenceMatcher(None, old_xml, new_xml, autojunk=False).get_opcodes()
    assert {op for op, *_ in opcodes} <= {"equal", "insert"}

    # …and canonically: the original plus exactly the new Track and Lanes elements.
    old_root, root = ET.fromstring(old_xml), ET.fromstring(new_xml)
    old_ids = set(_ids(old_root))
    new_ids = _ids(root)
    assert len(new_ids) == len(set(new_ids))  # no xs:ID collides
    tracks = [t for t in root.iterfind("Structure/Track") if t.get("id") not in old_ids]
    lanes = [t for t in root.iterfind("Arrangement/Lanes/Lanes") if t.get("id") not in old_ids]
    remainder = _canonical(new_xml)
    for element in [*tracks, *lanes]:
        element.tail = None
        piece = _canonical(ET.tostring(element, encoding="unicode"))
        assert remainder.count(piece) == 1
        remainder = remainder.replace(piece, "")
    # Containers the project lacked are made, empty but for the new elements.
    made = [e for e in (root.find("Arrangement/Lanes"), root.find("Arrangement"))
            if e is not None and e.get("id") not in old_ids]
    if old_root.find("Structure") is None and tracks:
        made.append(root.find("Structure"))
    for element in made:
        piece = _canonical(ET.tostring(ET.Element(element.tag, element.attrib), "unicode"))
        assert remainder.count(piece) == 1
        remainder = remainder.replace(piece, "")
    assert remainder == _canonical(old_xml)
    if backup is not None:
        assert backup.read_bytes() == before
    return root, tracks, lanes


def _backups(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*.{BACKUP_TAG}-*"))


def _done(folder: Path) -> Done:
    """A finished job at the project's grid: a bass stem and a melody, 4 bars of 6/8."""
    folder.mkdir(parents=True, exist_ok=True)
    bass = folder / "bass.wav"
    audio = np.random.default_rng(1).uniform(-0.3, 0.3, (4 * 6 * 48000 * 60 // 200, 2))
    sf.write(bass, audio.astype(np.float32), 48000, subtype="PCM_24")
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=40, velocity=90, time=0),
                                       mido.Message("note_off", note=40, velocity=0, time=960)]))
    midi.save(folder / "melody.mid")
    return Done(request_id="job-1", bpm=100.0, bars=4, time_signature="6/8", key="A minor",
                sample_rate=48000, format="wav24", seed=3, loop=False, model="m", metadata="",
                stems={"bass": str(bass)}, melody_midi=str(folder / "melody.mid"))


def test_placing_into_a_project_only_adds_tracks(tmp_path: Path,
                                                 project_schema: xmlschema.XMLSchema,
                                                 metadata_schema: xmlschema.XMLSchema) -> None:
    # Issue #18 item 1: `generate "add a bass" --stems bass --daw dawproject --dest song…`.
    path = _existing(tmp_path)
    before = path.read_bytes()
    adapter = open_adapter("dawproject", path)
    info = adapter.session_info()
    assert (info.bpm, info.time_signature, info.sample_rate) == (100.0, (6, 8), 44100)
    place_job(_done(tmp_path / "engine"), "add a bass", adapter, bar=3,
              clips_root=tmp_path / "clips")

    (backup,) = _backups(tmp_path)
    root, tracks, lanes = _assert_only_added(before, path, backup)
    with zipfile.ZipFile(path) as archive:
        project_schema.validate(archive.read("project.xml").decode("utf-8"))
        metadata_schema.validate(archive.read("metadata.xml").decode("utf-8"))
        names = archive.namelist()
    assert root.find("Transport/Tempo").get("value") == "100.0"
    signature = root.find("Transport/TimeSignature")
    assert (signature.get("numerator"), signature.get("denominator")) == ("6", "8")
    assert [t.get("name") for t in tracks] == ["bass", MELODY_TRACK]
    assert [t.get("contentType") for t in tracks] == ["audio", "notes"]
    assert {t.find("Channel").get("destination") for t in tracks} == {"id20"}  # the master
    assert [lane.get("track") for lane in lanes] == [t.get("id") for t in tracks]
    assert {lane.get("timeUnit") for lane in lanes} == {"beats"}
    bass_clip = lanes[0].find("Clips/Clip")
    assert float(bass_clip.get("time")) == 6.0  # bar 3 of 6/8: 2 bars of 3 quarter notes
    assert float(bass_clip.get("duration")) == 12.0  # 4 bars of 6/8 in quarter notes
    entry = bass_clip.find("Warps/Audio/File").get("path")
    assert entry.lower() != "audio/bass.wav" and entry.startswith("audio/")
    assert names[-1] == entry
    assert float(lanes[1].find("Clips/Clip").get("duration")) == 3.0  # 2 beats -> one bar


def test_a_zip_with_data_descriptors_is_copied_raw(tmp_path: Path, make_clip: ClipMaker,
                                                   project_schema: xmlschema.XMLSchema) -> None:
    path = _existing(tmp_path, streamed=True)
    with zipfile.ZipFile(path) as archive:
        assert all(info.flag_bits & 0x08 for info in archive.infolist() if not info.is_dir())
    before = path.read_bytes()
    DawprojectAdapter(path).place_stems({"bass": make_clip("bass", bpm=100.0)})
    _, tracks, _ = _assert_only_added(before, path)
    assert [t.get("name") for t in tracks] == ["bass"]
    with zipfile.ZipFile(path) as archive:
        project_schema.validate(archive.read("project.xml").decode("utf-8"))


def test_placing_twice_keeps_both(tmp_path: Path, make_clip: ClipMaker,
                                  project_schema: xmlschema.XMLSchema) -> None:
    path = _existing(tmp_path)
    before = path.read_bytes()
    adapter = DawprojectAdapter(path)
    adapter.place_stems({"bass": make_clip("bass", bpm=100.0, beats=12, meter=(6, 8))}, bar=2)
    adapter.place_stems({"pad": make_clip("pad", bpm=100.0, beats=12, meter=(6, 8))}, bar=4)
    assert len(_backups(tmp_path)) == 1  # the second commit rewrote only its own file
    # A second run (a new adapter) adds to what the first left, and backs that up.
    DawprojectAdapter(path).place_stems({"lead": make_clip("lead", seed=3)})
    backups = _backups(tmp_path)
    assert len(backups) == 2 and before in [b.read_bytes() for b in backups]
    root, tracks, _ = _assert_only_added(before, path)
    assert [t.get("name") for t in tracks] == ["bass", "pad", "lead"]
    assert len(root.findall("Arrangement/Lanes/Lanes")) == 3 + 3
    with zipfile.ZipFile(path) as archive:
        project_schema.validate(archive.read("project.xml").decode("utf-8"))
        assert len([n for n in archive.namelist() if n.startswith("audio/")]) == 3 + 3


@pytest.mark.parametrize("facts", [{"bpm": 120.0}, {"time_signature": (4, 4)},
                                   {"bpm": 100.0, "time_signature": (3, 4)}])
def test_another_tempo_or_meter_is_refused(tmp_path: Path, facts: dict) -> None:
    path = _existing(tmp_path)
    before = path.read_bytes()
    with pytest.raises(SessionMismatch, match="never retimed"):
        DawprojectAdapter(path, **facts)
    with pytest.raises(SessionMismatch):
        open_adapter("dawproject", path, **facts)
    assert path.read_bytes() == before and not _backups(tmp_path)


def test_a_project_that_changes_meter_is_refused(tmp_path: Path) -> None:
    # Tempo automation is fine (the fixture has it: clips are warped in beats); a meter change
    # would put every bar after it elsewhere.
    change = b'<TimeSignaturePoint time="24.0" numerator="3" denominator="4"/>'
    document = PROJECT_XML.replace(b"</TimeSignatureAutomation>",
                                   change + b"</TimeSignatureAutomation>")
    path = _existing(tmp_path, document)
    before = path.read_bytes()
    with pytest.raises(SessionMismatch, match="3/4"):
        DawprojectAdapter(path)
    assert path.read_bytes() == before


def test_the_projects_own_tempo_and_meter_are_accepted(tmp_path: Path) -> None:
    path = _existing(tmp_path)
    adapter = DawprojectAdapter(path, bpm=100.0, time_signature=(6, 8), sample_rate=48000)
    assert adapter.session_info().sample_rate == 48000  # the clips' rate; DAWs resample


def test_a_project_changed_to_another_tempo_before_the_commit_is_refused(
        tmp_path: Path, make_clip: ClipMaker) -> None:
    path = _existing(tmp_path)
    adapter = DawprojectAdapter(path)
    path.unlink()
    changed = _existing(tmp_path, PROJECT_XML.replace(b'value="100.0" min="20.0"',
                                                      b'value="90.0" min="20.0"'))
    before = changed.read_bytes()
    with pytest.raises(PlacementError, match="90 BPM"):
        adapter.place_stems({"bass": make_clip("bass")})
    assert path.read_bytes() == before and not _backups(tmp_path)


_NOT_A_PROJECT = {
    "not a zip": None,
    "no project.xml": b"",
    "broken xml": b"<Project version='1.0'><Structure></Project>",
    "not a Project": b"<MetaData><Title>x</Title></MetaData>",
    "bad tempo": PROJECT_XML.replace(b'value="100.0" min="20.0"', b'value="fast" min="20.0"'),
    "zero tempo": PROJECT_XML.replace(b'value="100.0" min="20.0"', b'value="0" min="20.0"'),
}


@pytest.mark.parametrize("case", list(_NOT_A_PROJECT))
def test_a_corrupt_project_is_refused_untouched(tmp_path: Path, case: str) -> None:
    path = tmp_path / "song.dawproject"
    document = _NOT_A_PROJECT[case]
    if document is None:
        path.write_bytes(b"RIFF, not a ZIP at all")
    elif case == "no project.xml":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("metadata.xml", METADATA)
    else:
        path = _existing(tmp_path, document)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=str(path)):
        DawprojectAdapter(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.dawproject"]


def test_a_read_only_project_is_not_changed(tmp_path: Path, make_clip: ClipMaker) -> None:
    path = _existing(tmp_path)
    before = path.read_bytes()
    path.chmod(0o444)
    adapter = DawprojectAdapter(path)
    with pytest.raises(PlacementError, match="read-only"):
        adapter.place_stems({"bass": make_clip("bass")})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips", "song.dawproject"]
    assert adapter.tracks() == []


def test_no_backup_no_rewrite(tmp_path: Path, make_clip: ClipMaker,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = _existing(tmp_path)
    before = path.read_bytes()

    def refuse(session: Path, now: float | None = None) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr("plugin_host.daw.dawproject.keep_backup", refuse)
    with pytest.raises(PlacementError, match="backup"):
        DawprojectAdapter(path).place_stems({"bass": make_clip("bass")})
    assert path.read_bytes() == before


def test_the_project_keeps_its_permissions(tmp_path: Path, make_clip: ClipMaker) -> None:
    path = _existing(tmp_path)
    path.chmod(0o640)
    DawprojectAdapter(path).place_stems({"bass": make_clip("bass")})
    assert path.stat().st_mode & 0o777 == 0o640


_APP = '<Application name="X" version="1"/>'
_TEMPO = ('<Transport><Tempo id="id1" unit="bpm" value="90"/>'
          '<TimeSignature id="id2" numerator="3" denominator="4"/></Transport>')
_MASTER = ('<Track id="id3" name="Master"><Channel id="id4" role="master"/></Track>')
_LAYOUTS = {
    # Where the new Track and Lanes go, whatever shape the project has (valid: schema-valid).
    "one line": (f'<Project version="1.0">{_APP}{_TEMPO}<Structure>{_MASTER}</Structure>'
                 '<Arrangement id="id5"><Lanes id="id6" timeUnit="beats"/></Arrangement>'
                 '</Project>', True),
    "empty structure and arrangement": (
        f'<Project version="1.0">\n  {_APP}\n  {_TEMPO}\n  <Structure />\n'
        '  <Arrangement id="a" />\n</Project>\n', True),
    "no structure, markers only": (
        f'<Project version="1.0">\n\t{_APP}\n\t<Arrangement id="a">\n\t\t<Markers id="m">'
        '<Marker time="0" name="A"/></Markers>\n\t</Arrangement>\n</Project>', True),
    "neither, but scenes": (
        f'<Project version="1.0">\n    {_APP}\n    <Scenes>\n        '
        '<Scene id="s"><Lanes id="l"/></Scene>\n    </Scenes>\n</Project>', True),
    "nothing": (f'<Project version="1.0">{_APP}</Project>', True),
    "seconds lanes": (
        f'<Project version="1.0">\n {_APP}\n {_TEMPO}\n <Structure>\n  {_MASTER}\n'
        ' </Structure>\n <Arrangement id="id9">\n  <Lanes id="id10" timeUnit="seconds">\n'
        '  </Lanes>\n </Arrangement>\n</Project>', True),
    "foreign": (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE Project>\n<?vendor keep this?>\n'
        '<Project version="1.0" xmlns:v="urn:vendor" v:build="77">\n'
        f'  {_APP}\n  <v:Extra id="id7" note="a &gt; b">\n    <![CDATA[<raw> & stuff]]>\n'
        '  </v:Extra>\n  <Structure>\n    <!-- keep me -->\n'
        f'    {_MASTER}\n    <Unknown v:x="1">text \u00e9\u65e5</Unknown>\n  </Structure>\n'
        '  <Arrangement id="id8">\n    <Lanes id="id9" timeUnit="beats" future="yes"/>\n'
        '  </Arrangement>\n  <Futures/>\n</Project>\n', False),
    "latin-1": (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<Project version="1.0">\n'
        f'  {_APP}\n  <Structure>\n    <Track id="t" name="Caf\u00e9"/>\n  </Structure>\n'
        '</Project>\n', True),
}


@pytest.mark.parametrize("layout", list(_LAYOUTS))
def test_tracks_are_added_to_any_project_shape(tmp_path: Path, make_clip: ClipMaker,
                                               project_schema: xmlschema.XMLSchema,
                                               layout: str) -> None:
    text, valid = _LAYOUTS[layout]
    encoding = "latin-1" if layout == "latin-1" else "utf-8"
    path = _existing(tmp_path, text.encode(encoding))
    before = path.read_bytes()
    adapter = DawprojectAdapter(path)
    adapter.place_stems({"bass \u00fc\u65e5": make_clip("bass", bpm=adapter.session_info().bpm)})
    with zipfile.ZipFile(path) as archive:
        new_xml = archive.read("project.xml")
    old_xml = text.encode(encoding)
    opcodes = difflib.SequenceMatcher(None, old_xml, new_xml, autojunk=False).get_opcodes()
    assert {op for op, *_ in opcodes} <= {"equal", "insert"}
    root = ET.fromstring(new_xml)
    (track,) = [t for t in root.iterfind("Structure/Track") if t.get("name") != "Master"
                and t.get("id") not in set(_ids(ET.fromstring(old_xml)))]
    assert track.get("name") == "bass \u00fc\u65e5"
    (lane,) = [lane for lane in root.iterfind("Arrangement/Lanes/Lanes")
               if lane.get("track") == track.get("id")]
    assert lane.get("timeUnit") == "beats"
    master = "id4" if _MASTER in text else None
    assert track.find("Channel").get("destination") == master
    if valid:
        project_schema.validate(new_xml.decode(encoding))
    if encoding == "utf-8":
        _assert_only_added(before, path)


def test_an_unsupported_encoding_is_refused(tmp_path: Path) -> None:
    document = f'<Project version="1.0">{_APP}</Project>'.encode("utf-16")
    path = _existing(tmp_path, document)
    with pytest.raises(ValueError, match="encoding"):
        DawprojectAdapter(path)


def test_a_new_file_still_gets_the_defaults(tmp_path: Path) -> None:
    info = DawprojectAdapter(tmp_path / "new.dawproject").session_info()
    assert (info.bpm, info.time_signature, info.sample_rate) == (120.0, (4, 4), 48000)
