"""place_job: a finished job's stems, and the melody it followed, onto new tracks."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from bridge.messages import Done
from plugin_host.daw import get_adapter
from plugin_host.daw.folder import MANIFEST, FolderAdapter
from plugin_host.placement import MELODY_TRACK, place_job


def _done(folder: Path, melody: bool) -> Done:
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
    return Done(request_id="job-1", bpm=120.0, bars=1, time_signature="4/4", key="C major",
                sample_rate=48000, format="int24", seed=3, loop=False, model="m",
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
