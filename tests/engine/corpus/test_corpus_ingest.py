"""Ingesting a user's folder: bad files are reported one by one, every good one is kept."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.corpus.ingest import ingest
from engine.corpus.shards import iter_examples, read_index


def _tone(seconds: float, rate: int, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    return np.stack([tone] * channels, axis=1) if channels > 1 else tone


def _folder(root: Path) -> Path:
    folder = root / "mine"
    (folder / "stems").mkdir(parents=True)
    sf.write(folder / "good.wav", _tone(1.0, 32000), 32000)
    sf.write(folder / "odd_rate.flac", _tone(1.0, 44100), 44100)
    sf.write(folder / "mono48k.ogg", _tone(1.0, 48000, channels=1), 48000, format="OGG",
             subtype="VORBIS")
    sf.write(folder / "song.mp3", _tone(1.0, 44100), 44100, format="MP3")
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" * 4)
    sf.write(folder / "empty.wav", np.zeros((0, 2), dtype=np.float32), 32000)
    sf.write(folder / "stems" / "drums.wav", _tone(1.0, 32000), 32000)
    sf.write(folder / "stems" / "bass.wav", _tone(0.5, 22050), 22050)
    sf.write(folder / "uncaptioned.wav", _tone(0.5, 32000), 32000)
    rows = [
        {"file": "good.wav", "caption": "a good loop", "bpm": "120"},
        {"file": "odd_rate.flac", "caption": "a 44.1 kHz loop"},
        {"file": "mono48k.ogg", "caption": "mono vorbis"},
        {"file": "song.mp3", "caption": "an mp3"},
        {"file": "corrupt.wav", "caption": "broken"},
        {"file": "empty.wav", "caption": "nothing"},
        {"file": "missing.wav", "caption": "not there"},
        {"file": "", "caption": "a song in stems", "stem_drums": "stems/drums.wav",
         "stem_bass": "stems/bass.wav"},
    ]
    with (folder / "captions.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "caption", "bpm", "stem_drums",
                                               "stem_bass"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_bad_files_reported_good_ones_kept(tmp_path: Path) -> None:
    report = ingest(_folder(tmp_path), tmp_path / "out", shard_size=2)
    problems = dict(report.problems)
    assert set(problems) == {"corrupt.wav", "empty.wav", "missing.wav"}
    assert "corrupt" in problems["corrupt.wav"] and "empty" in problems["empty.wav"]
    assert "missing" in problems["missing.wav"]
    notes = dict(report.notes)
    assert "44100 Hz" in notes["odd_rate.flac"] and "48000 Hz" in notes["mono48k.ogg"]
    assert "22050 Hz" in notes["bass.wav"]
    assert "no caption" in notes["uncaptioned.wav"]
    assert sorted(report.kept) == sorted(["good.wav", "odd_rate.flac", "mono48k.ogg",
                                          "song.mp3", "stems/drums.wav", "uncaptioned.wav"])
    rows = list(read_index(tmp_path / "out"))
    assert len(rows) == 6
    by_file = {r["file"]: r for r in rows}
    assert by_file["good.wav"]["captions"] == ["a good loop"]
    assert by_file["good.wav"]["bpm"] == "120"
    assert by_file["uncaptioned.wav"]["captions"] == []
    assert abs(by_file["odd_rate.flac"]["seconds"] - 1.0) < 1e-3
    assert "\n" in report.summary()


def test_ingested_audio_reads_back_at_32k_stereo_with_stems_summing(tmp_path: Path) -> None:
    ingest(_folder(tmp_path), tmp_path / "out")
    examples = list(iter_examples(tmp_path / "out", split=None, seed=0))
    assert len(examples) == 6
    for example in examples:
        meta = example["json"]
        assert example["mix.flac"].shape == (2, meta["frames"])
        assert np.abs(example["mix.flac"]).max() > 0.1
        if meta["stems"]:
            stems = [example[f"{s['name']}.flac"] for s in meta["stems"]]
            assert {s["name"] for s in meta["stems"]} == {"drums", "bass"}
            assert np.array_equal(np.sum(stems, axis=0, dtype=np.float64), example["mix.flac"])


def test_jsonl_captions_with_stem_objects(tmp_path: Path) -> None:
    folder = tmp_path / "j"
    folder.mkdir()
    sf.write(folder / "a.wav", _tone(0.5, 32000), 32000)
    sf.write(folder / "b.wav", _tone(0.5, 32000), 32000)
    lines = [{"path": "a.wav", "text": "alpha"},
             {"caption": "stems only", "stems": {"Lead Synth": "b.wav"}}]
    (folder / "captions.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    report = ingest(folder, tmp_path / "out")
    assert not report.problems and len(report.kept) == 2
    rows = list(read_index(tmp_path / "out"))
    assert {tuple(r["captions"]) for r in rows} == {("alpha",), ("stems only",)}
    assert any(s["name"] == "lead_synth" for r in rows for s in r["stems"])
