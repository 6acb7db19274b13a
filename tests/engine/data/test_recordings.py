"""`stemloom data prepare-recordings` on a fake fetched folder the test writes: OGG and FLAC
songs of known tempo and key in two packages (one held out), a sound effect, a long file
outside the music folder and a silent stretch."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile

from engine.corpus.ingest import AudioProblem
from engine.corpus.shards import iter_examples, read_manifest
from engine.data import ReservedSourceError
from engine.data.recordings import (
    PEAK_CEILING_DB,
    SAMPLE_RATE,
    STATE,
    TARGET_LUFS,
    WINDOW_SECONDS,
    decode,
    prepare,
    window_starts,
)
from tests.engine.data.synth_music import KEY, song

REPO = Path(__file__).resolve().parents[3]
HELD = ("held-music",)


def _write(data: Path, package: str, relative: str, audio: np.ndarray, rate: int,
           rows: list[dict]) -> None:
    path = data / package / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio.T, rate)
    rows.append({"path": f"{package}/{relative}", "package": package, "version": "1",
                 "licence": "CC0-1.0", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                 "bytes": path.stat().st_size, "seconds": audio.shape[1] / rate})


def _manifest(data: Path, rows: list[dict]) -> None:
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA as `stemloom data fetch` leaves it, with a manifest row per file."""
    data = tmp_path_factory.mktemp("fetched")
    rows: list[dict] = []
    rate = 44100
    # 15 s of song, 15 s of silence, 10 s of song: windows at 0 and 25 s kept, 15 s silent.
    tune = song(100.0, 15.0, rate, drums=0.3)  # a crest that lets it reach the target
    gap = np.zeros((2, 15 * rate), dtype=np.float32)
    _write(data, "game-music", "usr/share/game/music/theme.ogg",
           np.concatenate([tune, gap, tune[:, : 10 * rate]], axis=1), rate, rows)
    _write(data, "game-music", "usr/share/game/sounds/wind-loop.ogg",
           song(90.0, 40.0, rate), rate, rows)  # long, but outside the music folder
    _write(data, "game-music", "usr/share/game/music/jingle.ogg",
           song(100.0, 5.0, rate), rate, rows)  # shorter than a song
    # Spiky and quiet: normalising to the target would pass the peak ceiling.
    spiky = np.zeros((2, 32 * 22050), dtype=np.float32)
    spiky[:, :: 22050 // 4] = 0.5
    spiky += song(120.0, 32.0, 22050, level=0.02)
    _write(data, "held-music", "usr/share/held/spiky.flac", spiky, 22050, rows)
    _manifest(data, rows)
    return data


@pytest.fixture(scope="module")
def prepared(fetched: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    out = tmp_path_factory.mktemp("corpus")
    return out, prepare(fetched, out, held_out=HELD)


def test_windows_cover_the_file_with_a_tail_that_ends_at_its_end() -> None:
    size = int(WINDOW_SECONDS * SAMPLE_RATE)
    assert window_starts(40 * SAMPLE_RATE) == [0, size, 40 * SAMPLE_RATE - size]
    assert window_starts(35 * SAMPLE_RATE) == [0, size]  # a 5 s tail is dropped
    assert window_starts(10 * SAMPLE_RATE) == []


def test_windows_loudness_and_labels(prepared: tuple[Path, list]) -> None:
    out, summaries = prepared
    examples = list(iter_examples(out, None, shuffle_buffer=1))
    music = [e for e in examples if e["json"]["package"] == "game-music"]
    starts = sorted(e["json"]["window_start"] for e in music)
    assert starts == [0.0, 25.0]  # the silent window skipped; no sound effect, no jingle
    assert {e["json"]["file"] for e in music} == {"game-music/usr/share/game/music/theme.ogg"}
    game = next(s for s in summaries if s.package == "game-music")
    assert (game.windows, game.silent_windows, game.files) == (2, 1, 1)
    meter = pyloudnorm.Meter(SAMPLE_RATE)
    for example in music:
        meta, audio = example["json"], example["mix.flac"]
        assert audio.shape == (2, int(WINDOW_SECONDS * SAMPLE_RATE))
        assert meter.integrated_loudness(audio.T) == pytest.approx(TARGET_LUFS, abs=0.3)
        assert meta["loudness_after"] == pytest.approx(TARGET_LUFS, abs=0.01)
        assert meta["loudness_before"] < -20
        assert 20 * np.log10(np.abs(audio).max()) <= PEAK_CEILING_DB + 0.01
        assert meta["source"] == "real" and meta["licence"] == "CC0-1.0"
        assert meta["bpm"] == pytest.approx(100.0, rel=0.04)
        assert meta["key_name"] == KEY
        assert set(meta["label_confidence"]) == {"bpm", "meter", "key"}


def test_peak_safe_normalisation_stops_at_the_ceiling(prepared: tuple[Path, list]) -> None:
    out, _ = prepared
    held = [e for e in iter_examples(out, None, shuffle_buffer=1)
            if e["json"]["package"] == "held-music"]
    assert len(held) == 2
    for example in held:
        peak_db = 20 * np.log10(np.abs(example["mix.flac"]).max())
        assert peak_db == pytest.approx(PEAK_CEILING_DB, abs=0.05)
        assert example["json"]["loudness_after"] < TARGET_LUFS - 3


def test_held_out_package_is_the_test_split(prepared: tuple[Path, list]) -> None:
    out, _ = prepared
    manifest = read_manifest(out)
    by_split = {s["name"]: s["split"] for s in manifest["shards"]}
    assert {n: s for n, s in by_split.items() if n.startswith("real__held-music__")} \
        and all(s == "test" for n, s in by_split.items() if "held-music" in n)
    assert all(s in ("train", "validation") for n, s in by_split.items() if "game-music" in n)
    assert [e["json"]["package"] for e in iter_examples(out, "test")] == ["held-music"] * 2


def test_rerun_is_idempotent_and_a_changed_file_is_redone(fetched: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    prepare(fetched, out, held_out=HELD)
    shards = sorted(out.glob("real__*"))
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in shards}
    again = prepare(fetched, out, held_out=HELD)
    assert {s.status for s in again} == {"already prepared"}
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in shards} == before
    # A package whose marker is gone (an interrupted run) is redone to the same bytes.
    (out / STATE / "game-music.json").unlink()
    redone = {s.package: s.status for s in prepare(fetched, out, held_out=HELD)}
    assert redone == {"game-music": "prepared", "held-music": "already prepared"}
    assert {p.name: p.read_bytes() for p in sorted(out.glob("real__*"))} == \
        {name: data for name, (_, data) in before.items()}


def test_reserved_packages_are_refused(fetched: Path, tmp_path: Path) -> None:
    with pytest.raises(ReservedSourceError):
        prepare(fetched, tmp_path / "out", packages=["hedgewars-data"])
    done = subprocess.run(
        [sys.executable, "-m", "stemloom", "data", "prepare-recordings", "wesnoth-1.18-music",
         "--data", str(fetched), "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "reserved for evaluation" in done.stderr
    assert not (tmp_path / "out").exists()
    rows = [json.loads(x) for x in (fetched / "manifest.jsonl").read_text().splitlines()]
    poisoned = tmp_path / "poisoned"
    poisoned.mkdir()
    _manifest(poisoned, [*rows, {**rows[0], "package": "supertux-data"}])
    with pytest.raises(ReservedSourceError):
        prepare(poisoned, tmp_path / "out2")


def test_missing_fetch_folder_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stemloom", "data", "prepare-recordings", "--data",
         str(tmp_path / "nothing"), "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "no manifest.jsonl" in done.stderr and "Traceback" not in done.stderr


def test_decode_falls_back_to_ffmpeg(tmp_path: Path) -> None:
    m4a = tmp_path / "tone.m4a"  # AAC: libsndfile cannot read it, ffmpeg can
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100:duration=2", "-ac", "2",
                    "-c:a", "aac", str(m4a)], check=True)
    audio = decode(m4a)
    assert audio.shape[0] == 2 and abs(audio.shape[1] - 2 * SAMPLE_RATE) < 0.05 * SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(audio[0]))
    assert np.argmax(spectrum) * SAMPLE_RATE / audio.shape[1] == pytest.approx(440, abs=2)
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioProblem, match="ffmpeg"):
        decode(junk)
