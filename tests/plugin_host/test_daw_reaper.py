"""The REAPER project writer: RPP files parsed back, media copied, all stems placed or none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plugin_host.clip_names import clip_name
from plugin_host.clips import read_clip_info
from plugin_host.daw import PlacementError, SessionMismatch, get_adapter, rpp
from plugin_host.daw import reaper as reaper_module
from plugin_host.daw.reaper import MEDIA_FOLDER, ReaperAdapter

ClipMaker = Callable[..., Path]  # the make_clip fixture (conftest.py)


def _stems(make_clip: ClipMaker, names: list[str], seconds: float = 2.0, bpm: float = 120,
           meter: tuple[int, int] = (4, 4)) -> dict[str, Path]:
    return {name: make_clip(clip_name("Deep house", 124, "Am", 2, name), seconds=seconds,
                            bpm=bpm, meter=meter, seed=i)
            for i, name in enumerate(names)}


def _project(path: Path) -> rpp.Chunk:
    return rpp.parse(path.read_text("utf-8"))


def _items(track: rpp.Chunk) -> list[tuple[float, float, str]]:
    """(POSITION, LENGTH, FILE) of each item on ``track``."""
    result = []
    for item in track.chunks("ITEM"):
        (source,) = item.chunks("SOURCE")
        assert source.args == ["WAVE"]
        result.append((float(item.attribute("POSITION")[0]), float(item.attribute("LENGTH")[0]),
                       source.attribute("FILE")[0]))
    return result


def test_registry_knows_reaper(tmp_path: Path) -> None:
    assert isinstance(get_adapter("reaper", path=tmp_path / "a.RPP"), ReaperAdapter)


def test_place_stems_writes_tracks_items_and_media(tmp_path: Path,
                                                   make_clip: ClipMaker) -> None:
    path = tmp_path / "song" / "song.RPP"
    adapter = get_adapter("reaper", path=path, bpm=124, time_signature=(3, 4),
                          sample_rate=44100, cursor_bar=5)
    stems = _stems(make_clip, ["drums", "bass", "lead"], seconds=1.5, bpm=124, meter=(3, 4))
    placed = adapter.place_stems(stems)

    assert [ref.bar for ref in placed.values()] == [5.0, 5.0, 5.0]
    project = _project(path)
    assert project.name == "REAPER_PROJECT"
    assert project.attribute("TEMPO") == ["124", "3", "4"]
    assert project.attribute("SAMPLERATE")[0] == "44100"
    assert float(project.attribute("CURSOR")[0]) == pytest.approx(12 * 60 / 124)
    tracks = project.chunks("TRACK")
    assert [t.attribute("NAME") for t in tracks] == [["drums"], ["bass"], ["lead"]]
    for track, source in zip(tracks, stems.values(), strict=True):
        ((position, length, media),) = _items(track)
        assert position == pytest.approx(12 * 60 / 124)  # 4 bars of 3/4 before bar 5
        assert length == pytest.approx(read_clip_info(source).seconds)
        assert media == f"{MEDIA_FOLDER}/{source.name}"  # relative, name kept
        assert (path.parent / media).read_bytes() == source.read_bytes()
    assert len({t.args[0] for t in tracks}) == 3  # each track has its own GUID


def test_reopening_reads_the_session_and_appends_tracks(tmp_path: Path,
                                                        make_clip: ClipMaker) -> None:
    path = tmp_path / "song.RPP"
    get_adapter("reaper", path=path, bpm=90, time_signature=(7, 8),
                cursor_bar=3).place_stems(_stems(make_clip, ["drums"], bpm=90, meter=(7, 8)))
    before = path.read_text("utf-8")

    again = ReaperAdapter(path)
    info = again.session_info()
    assert (info.bpm, info.time_signature, info.cursor_bar) == (90.0, (7, 8), pytest.approx(3.0))
    assert [t.name for t in again.tracks()] == ["drums"]
    more = {"bass": make_clip("bass", seed=7, bpm=90, meter=(7, 8)),
            "drums": make_clip("drums", seed=8, bpm=90, meter=(7, 8))}
    again.place_stems(more, bar=2)

    after = path.read_text("utf-8")
    assert after.startswith(before.rstrip("\n")[:-1])  # old text kept verbatim
    tracks = _project(path).chunks("TRACK")
    assert [t.attribute("NAME")[0] for t in tracks] == ["drums", "bass", "drums"]
    files = [_items(t)[0][2] for t in tracks]
    assert len(set(files)) == 3  # the second drums.wav got a name of its own
    assert _items(tracks[1])[0][0] == pytest.approx(3.5 * 60 / 90)  # one bar of 7/8


SAVED = ('<REAPER_PROJECT 0.1 "7.22/linux" 1700000000\r\n'
         "  RIPPLE 0\r\n  TEMPO 100 4 4 0\r\n  SAMPLERATE 44100 0 0\r\n"
         "  <TEMPOENVEX\r\n    ACT 0 -1\r\n    PT 0 100 1 262148 0 1\r\n  >\r\n"
         "  <TRACK {A}\r\n    NAME 'my vox'\r\n    TEMPO 1 2 3\r\n"
         "    <ITEM\r\n      POSITION 2.5\r\n      LENGTH 4\r\n"
         "      <SOURCE WAVE\r\n        FILE \"vox take 3.wav\"\r\n      >\r\n    >\r\n"
         "    <VOLENV2\r\n      PT 0 1 0\r\n      PT 4 0.5 0\r\n    >\r\n  >\r\n"
         "  MARKER 1 8 \"chorus\" 0\r\n>\r\n")


@pytest.mark.parametrize("facts", [{"bpm": 128}, {"time_signature": (6, 8)},
                                   {"sample_rate": 48000}])
def test_facts_that_disagree_with_an_existing_project_are_refused(
        tmp_path: Path, facts: dict) -> None:
    path = tmp_path / "saved.RPP"
    path.write_bytes(SAVED.encode())
    with pytest.raises(SessionMismatch, match="never retimed"):
        ReaperAdapter(path, **facts)
    assert path.read_bytes() == SAVED.encode()


def test_placing_keeps_every_byte_of_the_project_and_its_tempo(tmp_path: Path,
                                                                make_clip: ClipMaker) -> None:
    path = tmp_path / "saved.RPP"
    path.write_bytes(SAVED.encode())
    adapter = ReaperAdapter(path, bpm=100, sample_rate=44100)  # the project's own: fine
    assert adapter.session_info().time_signature == (4, 4)
    adapter.place_stems(_stems(make_clip, ["keys"], bpm=100), bar=2)

    after = path.read_bytes()
    closing = SAVED.rindex(">")
    assert after.startswith(SAVED[:closing].encode())  # everything before the final '>'
    assert after.endswith(b">\r\n") and b"\n" not in after.replace(b"\r\n", b"")
    project = _project(path)
    assert project.attribute("TEMPO") == ["100", "4", "4", "0"]
    assert project.attribute("SAMPLERATE") == ["44100", "0", "0"]
    vox, keys = project.chunks("TRACK")
    assert vox.attribute("NAME") == ["my vox"] and vox.attribute("TEMPO") == ["1", "2", "3"]
    assert _items(keys)[0][0] == pytest.approx(4 * 60 / 100)  # bar 2 at 100 BPM
    (backup,) = tmp_path.glob("saved.before-stemloom-*.RPP")
    assert backup.read_bytes() == SAVED.encode()


def test_a_tempo_map_that_changes_tempo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "map.RPP"
    text = SAVED.replace("PT 0 100 1 262148 0 1", "PT 0 100 1 262148 0 1\r\n    PT 8 140 1")
    path.write_bytes(text.encode())
    with pytest.raises(SessionMismatch, match="changes to 140 BPM"):
        ReaperAdapter(path)
    assert path.read_bytes() == text.encode()


@pytest.mark.parametrize("text", ["<REAPER_PROJECT 0.1\n  TEMPO 120 4 4\n",  # cut short
                                  "not a project at all\n", "<OTHER_THING\n>\n"])
def test_a_corrupt_project_is_refused_and_left_alone(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.RPP"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.RPP"):
        ReaperAdapter(path)
    assert path.read_text(encoding="utf-8") == text


def test_a_project_saved_since_it_was_opened_is_not_overwritten(tmp_path: Path,
                                                                make_clip: ClipMaker) -> None:
    path = tmp_path / "saved.RPP"
    path.write_bytes(SAVED.encode())
    adapter = ReaperAdapter(path)
    saved_again = SAVED.replace("RIPPLE 0", "RIPPLE 1")
    path.write_bytes(saved_again.encode())
    with pytest.raises(PlacementError, match="changed on disk"):
        adapter.place_stems(_stems(make_clip, ["keys"], bpm=100))
    assert path.read_bytes() == saved_again.encode()
    assert not (tmp_path / MEDIA_FOLDER).exists()


def test_clips_cannot_go_on_tracks_already_in_the_file(tmp_path: Path,
                                                       make_clip: ClipMaker) -> None:
    path = tmp_path / "song.RPP"
    get_adapter("reaper", path=path).place_stems(_stems(make_clip, ["drums"]))
    adapter = ReaperAdapter(path)
    (existing,) = adapter.tracks()
    with pytest.raises(ValueError, match="in the project already"):
        adapter.place_audio_clip(existing, make_clip("x"), 1)
    with pytest.raises(ValueError, match="committed"):
        adapter.delete_track(existing)


def test_a_bad_stem_leaves_no_track_media_or_file(tmp_path: Path, make_clip: ClipMaker) -> None:
    path = tmp_path / "song.RPP"
    not_wav = tmp_path / "notes.wav"
    not_wav.write_bytes(b"not a riff file at all")
    adapter = ReaperAdapter(path)
    with pytest.raises(PlacementError, match="could not place stems"):
        adapter.place_stems({"drums": make_clip("drums"), "bass": not_wav})
    assert adapter.tracks() == []
    assert not path.exists() and not (tmp_path / MEDIA_FOLDER).exists()


def test_a_failed_write_removes_copied_media_and_keeps_the_old_project(
        tmp_path: Path, make_clip: ClipMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "song.RPP"
    get_adapter("reaper", path=path).place_stems({"drums": make_clip("drums")})
    before = path.read_bytes()
    media_before = sorted(p.name for p in (tmp_path / MEDIA_FOLDER).iterdir())

    def refuse(target: Path, data: bytes) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(reaper_module, "atomic_write_bytes", refuse)
    adapter = ReaperAdapter(path)
    with pytest.raises(PlacementError, match="disk full"):
        adapter.place_stems({"bass": make_clip("bass"), "lead": make_clip("lead")})
    assert path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / MEDIA_FOLDER).iterdir()) == media_before
    assert [t.name for t in adapter.tracks()] == ["drums"]


def test_midi_clips_become_in_project_midi(tmp_path: Path, midi_file: Path) -> None:
    path = tmp_path / "song.RPP"
    adapter = ReaperAdapter(path, bpm=100, time_signature=(3, 4))
    track = adapter.create_track("melody", "midi")
    adapter.place_midi_clip(track, midi_file, 2)
    adapter.commit()

    (track_chunk,) = _project(path).chunks("TRACK")
    (item,) = track_chunk.chunks("ITEM")
    assert float(item.attribute("POSITION")[0]) == pytest.approx(3 * 60 / 100)
    assert float(item.attribute("LENGTH")[0]) == pytest.approx(3 * 60 / 100)  # one 3/4 bar
    (source,) = item.chunks("SOURCE")
    assert source.args == ["MIDI"]
    assert source.attribute("HASDATA") == ["1", "960", "QN"]
    events = [tokens[1:] for tokens in source.lines if tokens[0] == "E"]
    # C4 for a beat from 0, E4 (velocity 64) for half a beat from 1.5, end of bar at 3 beats.
    assert events == [["0", "90", "3c", "64"], ["960", "80", "3c", "00"],
                      ["480", "90", "40", "40"], ["480", "80", "40", "00"],
                      ["960", "b0", "7b", "00"]]
    assert ReaperAdapter(path).tracks()[0].kind == "midi"


def test_names_with_spaces_and_quotes_survive(tmp_path: Path, make_clip: ClipMaker) -> None:
    path = tmp_path / "song.RPP"
    name = """lead "hook" it's `odd`"""
    ReaperAdapter(path).place_stems({name: make_clip("lead")})
    (track,) = _project(path).chunks("TRACK")
    assert track.attribute("NAME") == [name.replace("`", "'")]


def test_not_a_reaper_project_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.RPP"
    path.write_text("<VST plugin\n>\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a REAPER project"):
        ReaperAdapter(path)
    path.write_text("<REAPER_PROJECT 0.1\n  TEMPO 120 4 4\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a complete RPP chunk"):
        ReaperAdapter(path)


@pytest.mark.parametrize("text", ["plain", "two words", 'say "hi"', "it's \"both\"", ""])
def test_quote_and_tokenize_round_trip(text: str) -> None:
    assert rpp.tokenize(f"NAME {rpp.quote(text)} 1") == ["NAME", text, "1"]


def test_numbers_are_plain_decimals() -> None:
    assert rpp.number(120.0) == "120"
    assert rpp.number(0.5) == "0.5"
    assert "e" not in rpp.number(1e-9)
    with pytest.raises(ValueError):
        rpp.number(float("nan"))
