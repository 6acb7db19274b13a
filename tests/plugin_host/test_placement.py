"""place_job: a finished job's stems, and the melody it followed, onto new tracks."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from bridge.messages import Done
from plugin_host.clips import read_clip_info
from plugin_host.daw import get_adapter
from plugin_host.daw.folder import MANIFEST, FolderAdapter
from plugin_host.placement import MELODY_TRACK, place_job, write_clips


def _done(folder: Path, melody: bool, *, bars: int = 1, time_signature: str = "4/4",
          fmt: str = "wav24") -> Done:
    """A finished two-stem job as the engine leaves it: WAV stems and maybe melody.mid."""
    folder.mkdir(parents=True, exist_ok=True)
    stems = {}
    for seed, name in enumerate(("drums", "keys")):
        path = folder / f"{name}.wav"
        audio = np.random.default_rng(seed).uniform(-0.3, 0.3, (96000, 2)).astype(np.float32)
        sf.write(path, audio, 48000, subtype="PCM_24")
        stems[name] = str(path)
    midi_path = ""
    if melody:
        midi = mido.MidiFile(ticks_per_beat=480)
        track = mido.MidiTrack([mido.Message("note_on", note=67, velocity=90, time=0),
                                mido.Message("note_off", note=67, velocity=0, time=960)])
        midi.tracks.append(track)
        midi_path = str(folder / "melody.mid")
        midi.save(midi_path)
    return Done(request_id="job-1", bpm=120.0, bars=bars, time_signature=time_signature,
                key="C major", sample_rate=48000, format=fmt, seed=3, loop=False, model="m",
                metadata="", stems=stems, melody_midi=midi_path)


def test_the_melody_goes_on_a_midi_track_beside_the_stems(tmp_path: Path) -> None:
    session = tmp_path / "session"
    placement = place_job(_done(tmp_path / "engine", melody=True), "warm keys",
                          get_adapter("folder", path=session), bar=3,
                          clips_root=tmp_path / "clips")
    assert list(placement.clips) == ["drums", "keys", MELODY_TRACK]
    assert placement.melody_file is not None
    assert placement.melody_file.name.endswith("_melody.mid")
    assert placement.melody_file.parent == tmp_path / "clips" / "job-1"
    tracks = json.loads((session / MANIFEST).read_text())["tracks"]
    melody = next(t for t in tracks if t["name"] == MELODY_TRACK)
    (clip,) = melody["clips"]
    assert melody["kind"] == clip["kind"] == "midi" and clip["bar"] == 3.0
    notes = [m.note for t in mido.MidiFile(session / clip["file"]).tracks for m in t
             if m.type == "note_on"]
    assert notes == [67]


def test_without_a_melody_only_the_stems_are_placed(tmp_path: Path) -> None:
    placement = place_job(_done(tmp_path / "engine", melody=False), "drums",
                          get_adapter("folder", path=tmp_path / "s"),
                          clips_root=tmp_path / "clips")
    assert list(placement.clips) == ["drums", "keys"] and placement.melody_file is None


class _AudioOnlyFolder(FolderAdapter):
    """A folder session standing in for an adapter that cannot place MIDI (Ardour headless,
    Live), which cannot run here for this check."""

    places_midi = False


def test_an_adapter_without_midi_still_gets_the_stems_and_the_clip_file(tmp_path: Path
                                                                         ) -> None:
    placement = place_job(_done(tmp_path / "engine", melody=True), "warm keys",
                          _AudioOnlyFolder(tmp_path / "s"), clips_root=tmp_path / "clips")
    assert list(placement.clips) == ["drums", "keys"]
    assert placement.melody_file is not None and placement.melody_file.is_file()


def test_a_track_named_twice_is_refused_before_the_session_changes(tmp_path: Path) -> None:
    done = _done(tmp_path / "engine", melody=True)
    adapter = get_adapter("folder", path=tmp_path / "s")
    with pytest.raises(ValueError, match="named twice"):
        adapter.place_stems({"keys": done.stems["keys"]}, midi={"keys": done.melody_midi})
    assert not (tmp_path / "s" / MANIFEST).exists()


@pytest.mark.parametrize(("bars", "meter", "beats"), [(4, "6/8", 24), (2, "3/4", 6),
                                                      (1, "4/4", 4), (3, "7/8", 21)])
def test_the_acid_beat_count_is_in_the_meters_note_value(tmp_path: Path, bars: int,
                                                         meter: str, beats: int) -> None:
    clips = write_clips(_done(tmp_path / "engine", melody=False, bars=bars,
                              time_signature=meter), "groove", tmp_path / "clips")
    for clip in clips.values():
        acid = read_clip_info(clip).acid
        assert acid is not None and acid.beats == beats
        assert acid.meter == tuple(int(p) for p in meter.split("/"))


@pytest.mark.parametrize(("fmt", "subtype"), [("wav16", "PCM_16"), ("wav24", "PCM_24"),
                                              ("float32", "FLOAT")])
def test_placed_clips_keep_the_asked_format(tmp_path: Path, fmt: str, subtype: str) -> None:
    clips = write_clips(_done(tmp_path / "engine", melody=False, fmt=fmt), "groove",
                        tmp_path / "clips")
    for clip in clips.values():
        assert sf.info(clip).subtype == subtype
        assert read_clip_info(clip).acid is not None
