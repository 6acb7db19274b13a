"""load_melody: one door for MIDI clips and recorded hums, told apart by content, and a
readable MelodyError (a ValueError) for every file that cannot be used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from engine.melody.load import MelodyError, load_melody
from engine.melody.notes_f1 import note_scores

from .helpers import RATE, beats, hum, midi_file, tune


def test_a_midi_file_under_any_name_is_read_as_midi(tmp_path: Path) -> None:
    """A MIDI clip saved as 'take.wav' is still MIDI: the content decides."""
    path = tmp_path / "take.wav"
    path.write_bytes(midi_file([("drums", [(9, 0, 1, 42)]), ("lead", [(0, 0, 1, 64),
                                                                       (0, 1, 2, 67)])]))
    assert beats(load_melody(path)) == [(0.0, 1.0, 64), (1.0, 2.0, 67)]


@pytest.mark.parametrize(("suffix", "subtype"), [(".wav", "PCM_16"), (".flac", "PCM_24")])
def test_a_recorded_hum_is_transcribed(tmp_path: Path, suffix: str, subtype: str) -> None:
    """A stereo 48 kHz recording of a hum (WAV or FLAC) comes back as its notes."""
    audio, truth = hum(tune(4.0, seed=5), 4.0, 5)
    stereo = np.stack([audio, audio * 0.8], axis=1)
    path = tmp_path / f"hum{suffix}"
    sf.write(path, soxr.resample(stereo, RATE, 48000), 48000, subtype=subtype)
    assert note_scores(truth, load_melody(path))["f1"] >= 0.9


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("make", "says"), [
    (lambda d: d / "missing.mid", "does not exist"),
    (lambda d: write(d / "empty.wav", b""), "is empty"),
    (lambda d: write(d / "notes.txt", b"la la la, hummed in my head"), "neither a MIDI file"),
    (lambda d: write(d / "cut.mid", midi_file([("lead", [(0, 0, 1, 60)])])[:30]),
     "not a readable MIDI file"),
    (lambda d: write(d / "beat.mid", midi_file([("drums", [(9, 0, 1, 36)])])),
     "no notes outside the drum channel"),
])
def test_unusable_files_say_why(tmp_path: Path, make, says: str) -> None:
    """Missing, empty, not audio, a truncated MIDI file, drums only; MelodyError is a
    ValueError, so callers that catch that catch it."""
    assert issubclass(MelodyError, ValueError)
    with pytest.raises(MelodyError, match=says):
        load_melody(make(tmp_path))


def test_silence_noise_and_no_samples_say_why(tmp_path: Path) -> None:
    """A silent recording, room noise with nothing sung, and a WAV without samples."""
    sf.write(tmp_path / "silent.wav", np.zeros(RATE, np.float32), RATE)
    noise = np.random.default_rng(0).normal(0, 0.01, 2 * RATE).astype(np.float32)
    sf.write(tmp_path / "room.wav", noise, RATE)
    sf.write(tmp_path / "nothing.wav", np.zeros(0, np.float32), RATE)
    with pytest.raises(MelodyError, match="is silent"):
        load_melody(tmp_path / "silent.wav")
    with pytest.raises(MelodyError, match="nothing in it is sung or played"):
        load_melody(tmp_path / "room.wav")
    with pytest.raises(MelodyError, match="holds no audio"):
        load_melody(tmp_path / "nothing.wav")


def test_a_midi_clip_keeps_its_beats_at_the_requested_tempo(tmp_path: Path) -> None:
    """A clip saved at 120 BPM, asked for at 84 BPM: same beats, longer seconds."""
    from bridge.messages import Generate
    from engine.melody.condition import request_melody

    path = write(tmp_path / "clip.mid", midi_file(
        [("lead", [(0, 0, 1, 60), (0, 1, 2, 62), (0, 2, 4, 64)])], bpm=120.0))
    assert beats(load_melody(path), bpm=120.0) == [(0.0, 1.0, 60), (1.0, 2.0, 62),
                                                    (2.0, 4.0, 64)]
    assert beats(load_melody(path, bpm=84.0), bpm=84.0) == [(0.0, 1.0, 60), (1.0, 2.0, 62),
                                                             (2.0, 4.0, 64)]
    request = Generate(request_id="r", prompt="keys", bpm=84.0, bars=1, melody=str(path))
    assert beats(request_melody(request), bpm=84.0) == [(0.0, 1.0, 60), (1.0, 2.0, 62),
                                                        (2.0, 4.0, 64)]
