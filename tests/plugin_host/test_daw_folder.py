"""The folder adapter: real files on disk, all stems placed or none."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from plugin_host.clip_names import clip_name
from plugin_host.clips import read_clip_info
from plugin_host.daw import (
    PlacementError,
    SessionInfo,
    SessionMismatch,
    adapter_names,
    get_adapter,
)
from plugin_host.daw.folder import MANIFEST, FolderAdapter

ClipMaker = Callable[..., Path]  # the make_clip fixture (conftest.py)


def _manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST).read_text(encoding="utf-8"))


def _stems(make_clip: ClipMaker, names: list[str], bpm: float = 124,
           meter: tuple[int, int] = (4, 4)) -> dict[str, Path]:
    return {name: make_clip(clip_name("Deep house", 124, "Am", 2, name), seed=i, bpm=bpm,
                            meter=meter)
            for i, name in enumerate(names)}


def test_registry_knows_folder_and_dawproject(tmp_path: Path) -> None:
    assert {"folder", "dawproject"} <= set(adapter_names())
    assert isinstance(get_adapter("folder", path=tmp_path / "s"), FolderAdapter)
    with pytest.raises(ValueError, match="unknown DAW adapter"):
        get_adapter("protools")


def test_place_stems_copies_clips_and_describes_them(tmp_path: Path,
                                                     make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    adapter = get_adapter("folder", path=root, bpm=124, time_signature=(3, 4),
                          sample_rate=44100, cursor_bar=5)
    stems = _stems(make_clip, ["drums", "bass", "lead"], meter=(3, 4))
    placed = adapter.place_stems(stems)

    assert list(placed) == ["drums", "bass", "lead"]
    assert all(ref.bar == 5 for ref in placed.values())
    document = _manifest(root)
    assert document["session"] == {"bpm": 124.0, "time_signature": [3, 4], "cursor_bar": 5.0,
                                   "sample_rate": 44100}
    assert [t["name"] for t in document["tracks"]] == ["drums", "bass", "lead"]
    for track, (name, source) in zip(document["tracks"], stems.items(), strict=True):
        (clip,) = track["clips"]
        assert track["kind"] == clip["kind"] == "audio"
        assert clip["file"] == source.name  # prompt_bpm_key_bars_stem.wav kept
        assert clip["file"].endswith(f"_124bpm_Am_2bars_{name}.wav")
        assert clip["bar"] == 5.0
        assert clip["start_beat"] == 12.0  # 4 bars of 3/4 before bar 5
        assert clip["start_seconds"] == pytest.approx(12 * 60 / 124)
        assert (root / clip["file"]).read_bytes() == source.read_bytes()
        assert clip["frames"] == read_clip_info(source).frames
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [MANIFEST, *(p.name for p in stems.values())])


def test_session_reopens_with_tracks_and_facts(tmp_path: Path, make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    first = FolderAdapter(root, bpm=90, time_signature=(6, 8))
    first.place_stems(_stems(make_clip, ["drums"], bpm=90, meter=(6, 8)), bar=2)

    again = FolderAdapter(root)
    assert again.session_info() == SessionInfo(90.0, (6, 8), 1.0, 48000)
    assert [t.name for t in again.tracks()] == ["drums"]
    again.place_stems({"bass": make_clip("bass", seed=7, bpm=90, meter=(6, 8))}, bar=3)
    assert [t["name"] for t in _manifest(root)["tracks"]] == ["drums", "bass"]


def test_one_bad_stem_places_nothing(tmp_path: Path, make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    adapter = FolderAdapter(root)
    adapter.place_stems({"keep": make_clip("keep")})
    before = _manifest(root)
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not a wav file")
    stems = {"drums": make_clip("drums", seed=1), "broken": bad, "bass": make_clip("bass")}

    with pytest.raises(PlacementError):
        adapter.place_stems(stems)
    assert _manifest(root) == before
    assert sorted(p.name for p in root.iterdir()) == sorted([MANIFEST, "keep.wav"])
    assert [t.name for t in adapter.tracks()] == ["keep"]


def test_missing_stem_file_touches_nothing(tmp_path: Path, make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    adapter = FolderAdapter(root)
    with pytest.raises(PlacementError, match="not found"):
        adapter.place_stems({"drums": make_clip("drums"), "bass": tmp_path / "gone.wav"})
    assert not root.exists()
    assert adapter.tracks() == []


def test_failed_commit_removes_copied_clips(tmp_path: Path, make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    adapter = FolderAdapter(root)
    # The manifest, written last, cannot be written: its name is taken by a folder.
    (root / MANIFEST).mkdir(parents=True)
    with pytest.raises(PlacementError):
        adapter.place_stems(_stems(make_clip, ["drums", "bass"]))
    assert [p.name for p in root.iterdir()] == [MANIFEST]
    assert adapter.tracks() == []


def test_same_names_get_unique_files(tmp_path: Path, make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    root.mkdir()
    (root / "loop.wav").write_bytes(b"someone else's file")
    one = make_clip("loop", folder=tmp_path / "a", seed=1)
    two = make_clip("LOOP", folder=tmp_path / "b", seed=2)
    FolderAdapter(root).place_stems({"one": one, "two": two})
    files = [t["clips"][0]["file"] for t in _manifest(root)["tracks"]]
    assert files == ["loop-2.wav", "LOOP-3.wav"]
    assert (root / "loop.wav").read_bytes() == b"someone else's file"
    assert (root / "loop-2.wav").read_bytes() == one.read_bytes()


def test_hostile_track_names_are_kept_but_files_are_safe(tmp_path: Path,
                                                         make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    hostile = tmp_path / "clips" / "..\\..\\CON.wav"
    hostile.parent.mkdir(parents=True, exist_ok=True)
    hostile.write_bytes(make_clip("src").read_bytes())
    FolderAdapter(root).place_stems({"../../etc": hostile})
    (track,) = _manifest(root)["tracks"]
    assert track["name"] == "../../etc"
    assert track["clips"][0]["file"] == "CON-x.wav"
    assert (root / "CON-x.wav").is_file()


def test_midi_clips_and_kind_checks(tmp_path: Path, make_clip: ClipMaker,
                                    midi_file: Path) -> None:
    root = tmp_path / "session"
    adapter = FolderAdapter(root)
    melody = adapter.create_track("melody", "midi")
    adapter.place_midi_clip(melody, midi_file, 3)
    with pytest.raises(ValueError):
        adapter.place_audio_clip(melody, make_clip("drums"), 1)
    with pytest.raises(ValueError):
        adapter.place_midi_clip(melody, make_clip("drums"), 1)  # a WAV is not MIDI
    adapter.commit()
    (track,) = _manifest(root)["tracks"]
    assert track["kind"] == "midi"
    assert track["clips"][0]["file"] == "melody.mid"
    assert (root / "melody.mid").read_bytes() == midi_file.read_bytes()


def test_bars_count_from_one(tmp_path: Path, make_clip: ClipMaker) -> None:
    adapter = FolderAdapter(tmp_path / "session")
    with pytest.raises(ValueError):
        adapter.place_stems({"drums": make_clip("drums")}, bar=0)
    assert adapter.tracks() == []


def test_committed_tracks_cannot_be_deleted(tmp_path: Path, make_clip: ClipMaker) -> None:
    adapter = FolderAdapter(tmp_path / "session")
    placed = adapter.place_stems({"drums": make_clip("drums")})
    with pytest.raises(ValueError):
        adapter.delete_track(placed["drums"].track)


def test_a_stored_session_is_never_retimed(tmp_path: Path, make_clip: ClipMaker) -> None:
    root = tmp_path / "session"
    FolderAdapter(root, bpm=90, time_signature=(6, 8)).place_stems(
        _stems(make_clip, ["drums"], bpm=90, meter=(6, 8)))
    before = _manifest(root)
    with pytest.raises(SessionMismatch, match="120 BPM, the session runs at 90 BPM"):
        FolderAdapter(root, bpm=120)
    with pytest.raises(SessionMismatch, match="4/4, the session is in 6/8"):
        FolderAdapter(root, time_signature=(4, 4))
    assert FolderAdapter(root, bpm=90).session_info().bpm == 90  # agreeing facts are fine
    assert _manifest(root) == before


def test_an_unreadable_manifest_is_refused_with_its_path(tmp_path: Path) -> None:
    root = tmp_path / "session"
    root.mkdir()
    (root / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="is not readable JSON"):
        FolderAdapter(root)
