"""Frets on Fire songs into multi-stem examples, on tiny songs the test writes: OGG stems, a
notes.mid with a tempo change (mido) and a song.ini with a delay. Examples are written, stems
sum to the mix, labels follow the tempo map shifted by the delay, a song goes to one split, a
rerun skips done songs, and a missing stem or a corrupt chart is reported with nothing of
that song written. The command line fetches from .debs built here with dpkg-deb."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from engine.corpus.shards import iter_examples, read_manifest
from engine.data.fof import (
    ASSUMED_METER,
    CALIBRATION_FILE,
    REPORT_FILE,
    FofError,
    beat_grid,
    calibration,
    calibration_row,
    prepare_fof,
    read_tempo_map,
    song_key,
    song_split,
    tempo_ratio,
)

REPO = Path(__file__).resolve().parents[3]
RATE = 22050
SECONDS = 12.0
TPB = 480
DELAY_MS = 250
PACKAGE = "fretsonfire-songs-sectoid"
# 120 BPM for two bars (4 s), then 150 BPM; 4/4; the audio hears chart time 0 at 0.25 s.
BEATS = [0.25 + 0.5 * i for i in range(8)] + [4.25 + 0.4 * i for i in range(20)]
DOWNBEATS = [0.25, 2.25, 4.25, 5.85, 7.45, 9.05, 10.65]


def _ogg(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.T, RATE, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


def _clicks(times: list[float], pitch: float) -> np.ndarray:
    """Stereo decaying tones at `times`."""
    out = np.zeros(int(SECONDS * RATE))
    n = int(0.12 * RATE)
    tone = np.sin(2 * np.pi * pitch * np.arange(n) / RATE) * np.exp(-np.arange(n) / (0.03 * RATE))
    for t in (t for t in times if t < SECONDS):
        i = int(t * RATE)
        out[i: i + n] += tone[: len(out) - i]
    return np.stack([out, out]) * 0.3


def _chart(broken: bool = False, stated: bool = True) -> bytes:
    if broken:
        return b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00garbage"
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meter = [mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)]
    conductor = mido.MidiTrack([
        *(meter if stated else []),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150), time=8 * TPB)])
    notes = mido.MidiTrack([mido.MetaMessage("track_name", name="PART GUITAR")])
    for _ in range(16):
        notes += [mido.Message("note_on", note=96, velocity=100, time=0),
                  mido.Message("note_off", note=96, velocity=0, time=TPB)]
    midi.tracks += [conductor, notes]
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _song(rhythm: bool = False, guitar: bool = True, broken_chart: bool = False,
          stated_meter: bool = True) -> dict[str, bytes]:
    """The files of one song folder."""
    files = {"song.ogg": _ogg(_clicks(BEATS, 110.0)),
             "notes.mid": _chart(broken_chart, stated_meter),
             "song.ini": f"[song]\nname = Tiny\nartist = Tests\ndelay = {DELAY_MS}\n".encode()}
    if guitar:
        files["guitar.ogg"] = _ogg(_clicks([b + 0.25 for b in BEATS], 660.0))
    if rhythm:  # a low line: the sound rule calls it bass
        t = np.arange(int(SECONDS * RATE)) / RATE
        files["rhythm.ogg"] = _ogg(np.stack([np.sin(2 * np.pi * 55 * t)] * 2) * 0.2)
    return files


SONGS = {"plain": _song, "with_rhythm": lambda: _song(rhythm=True),
         "no_guitar": lambda: _song(guitar=False), "bad_chart": lambda: _song(broken_chart=True),
         "no_meter": lambda: _song(stated_meter=False)}


def _folder(name: str) -> str:
    return f"{PACKAGE}/usr/share/games/fretsonfire/data/songs/sectoid/{name}"


def make_data(root: Path, songs: list[str]) -> Path:
    """A fetched-data folder as `stemloom data fetch` leaves it: files and manifest.jsonl."""
    rows = []
    for name in songs:
        for file, data in SONGS[name]().items():
            relative = f"{_folder(name)}/{file}"
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(data)
            rows.append({"path": relative, "package": PACKAGE, "version": "1",
                         "licence": "see copyright", "sha256": hashlib.sha256(data).hexdigest(),
                         "bytes": len(data), "seconds": None})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    root = tmp_path_factory.mktemp("fof")
    data = make_data(root / "data", [s for s in SONGS if s != "no_meter"])
    out = root / "corpus"
    return data, out, prepare_fof(data, out, window_seconds=5.0)


def test_tempo_map_and_grid() -> None:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mid") as handle:
        handle.write(_chart())
        handle.flush()
        tempo_map = read_tempo_map(Path(handle.name))
    assert tempo_map.tempos == ((0, 500_000), (8 * TPB, 400_000))
    assert tempo_map.stated_signature and tempo_map.meter_at(0) == "4/4"
    assert tempo_map.seconds(8 * TPB) == pytest.approx(4.0)
    assert tempo_map.seconds(9 * TPB) == pytest.approx(4.4)
    grid = beat_grid(tempo_map, SECONDS, DELAY_MS / 1000)
    assert grid.beats.tolist() == pytest.approx(BEATS)
    assert grid.downbeats.tolist() == pytest.approx(DOWNBEATS)


def test_examples_stems_and_labels(prepared: tuple[Path, Path, list]) -> None:
    _data, out, results = prepared
    by_name = {Path(r.folder).name: r for r in results}
    plain = by_name["plain"]
    assert plain.status == "written" and plain.examples == 2  # 12 s: 5 + 5 (+2 dropped)
    assert plain.bpm == [120.0, 150.0] and plain.delay_ms == DELAY_MS
    assert plain.stems == {"guitar": ["guitar.ogg"], "backing": ["song.ogg"]}
    rhythm = by_name["with_rhythm"]
    assert rhythm.stems["bass"] == ["rhythm.ogg"] and "below 250 Hz" in rhythm.rhythm

    examples = {e["key"]: e for e in iter_examples(out, split=None)}
    assert len(examples) == 4 == sum(s["examples"] for s in read_manifest(out)["shards"])
    for example in examples.values():
        meta = example["json"]
        names = [s["name"] for s in meta["stems"]]
        assert example["mix.flac"].shape == (2, 5 * 32_000)
        stems = np.sum([example[f"{n}.flac"] for n in names], axis=0, dtype=np.float64)
        assert np.array_equal(stems.astype(np.float32), example["mix.flac"])  # exact sum
        assert meta["source"] == "fof" and meta["licence"] == "Expat (MIT)"
        assert meta["label_confidence"]["bpm"] == 1.0 and meta["labels_from"]
        # the fixture's chart states 4/4: a meter known, not assumed
        assert meta["meter_stated"] and meta["label_confidence"]["meter"] == 1.0
        assert 0.0 <= meta["label_confidence"]["key"] <= 1.0
        assert meta["key_name"] == meta["labeller_estimate"]["key_name"]
    first, second = (examples[f"{Path(plain.shard).stem}-{i:03d}"]["json"] for i in (0, 1))
    assert sorted(s["name"] for s in first["stems"]) == ["backing", "guitar"]
    # window 0 s - 5 s: 8 beats at 120 BPM then 2 at 150 (the chart is heard 0.25 s late)
    assert first["bpm"] == 120.0 and first["tempo_changes"] and first["meter"] == "4/4"
    assert first["beats"] == pytest.approx([b for b in BEATS if b < 5])
    assert first["downbeats"] == pytest.approx([0.25, 2.25, 4.25])
    # window 5 s - 10 s: 150 BPM throughout, times from the window's start
    assert second["bpm"] == 150.0 and not second["tempo_changes"]
    assert second["beats"] == pytest.approx([b - 5 for b in BEATS if 5 <= b < 10], abs=1e-4)
    assert second["downbeats"] == pytest.approx([0.85, 2.45, 4.05], abs=1e-4)


def test_a_song_goes_to_one_split(prepared: tuple[Path, Path, list]) -> None:
    _data, out, results = prepared
    for result in (r for r in results if r.status == "written"):
        split = song_split(PACKAGE, result.folder, 0, (0.9, 0.05, 0.05))
        assert result.split == split
        rows = [json.loads(x) for x in (out / result.shard).with_suffix(".jsonl")
                .read_text().splitlines()]
        assert {r["split"] for r in rows} == {split}
        assert result.shard.startswith(f"fof-{split}-{song_key(PACKAGE, result.folder)}")


def test_bad_songs_are_reported_and_leave_nothing(prepared: tuple[Path, Path, list]) -> None:
    _data, out, results = prepared
    by_name = {Path(r.folder).name: r for r in results}
    assert by_name["no_guitar"].status == "skipped"
    assert by_name["no_guitar"].why == "missing guitar.ogg"
    assert by_name["bad_chart"].status == "skipped"
    assert by_name["bad_chart"].why.startswith("notes.mid is not a readable MIDI file")
    for name in ("no_guitar", "bad_chart"):
        assert not list(out.glob(f"*{song_key(PACKAGE, _folder(name))}*"))
    assert not [p for p in out.iterdir() if ".tmp" in p.name or p.name.endswith(".partial")]
    report = {Path(r["folder"]).name: r for r in json.loads((out / REPORT_FILE).read_text())}
    assert report["bad_chart"]["status"] == "skipped"


def test_rerun_skips_done_songs(prepared: tuple[Path, Path, list]) -> None:
    data, out, first = prepared
    shard = out / next(r.shard for r in first if r.status == "written")
    before = shard.stat().st_mtime_ns
    again = prepare_fof(data, out, window_seconds=5.0)
    assert {Path(r.folder).name: r.status for r in again} == {
        "plain": "already done", "with_rhythm": "already done", "no_guitar": "skipped",
        "bad_chart": "skipped"}
    assert shard.stat().st_mtime_ns == before
    kept = {Path(r.folder).name: r for r in again}["plain"]
    assert kept.examples == 2 and kept.bpm == [120.0, 150.0]  # the first run's report


def test_calibration_scores_the_labeller_against_the_chart(
        prepared: tuple[Path, Path, list]) -> None:
    _data, out, _results = prepared
    rows, summary = calibration(out)
    assert summary["windows"] == len(rows) == 4 and summary["songs"] == 2
    assert sum(summary["tempo_ratio"].values()) == 4
    assert json.loads((out / CALIBRATION_FILE).read_text())["summary"] == summary
    meta = {"key": "k", "song": "s", "bpm": 120.0, "meter": "4/4", "beats": [0.0, 0.5, 1.0],
            "downbeats": [0.0, 2.0],
            "labeller_estimate": {"bpm": 181.0, "meter": "3/4", "beats": [0.0, 0.5, 1.0],
                                  "downbeats": [0.03, 2.5],
                                  "label_confidence": {"bpm": 0.3, "meter": 0.1}}}
    row = calibration_row(meta)
    assert row["ratio"] == "x3/2" and row["beat_f"] == 1.0 and row["downbeat_f"] == 0.5
    assert not row["grid_right"]  # tempo and meter wrong
    assert calibration_row({**meta, "labeller_estimate": {
        **meta["labeller_estimate"], "bpm": 121.0, "meter": "4/4"}})["grid_right"]


def test_tempo_ratios() -> None:
    assert tempo_ratio(123.0, 120.0) == "x1"
    assert tempo_ratio(240.0, 120.0) == "x2"
    assert tempo_ratio(61.0, 120.0) == "x1/2"
    assert tempo_ratio(80.0, 120.0) == "x2/3"
    assert tempo_ratio(100.0, 120.0) == "other"


# --- the command line: fetch from .debs, prepare, calibrate --------------------------------

def _build_deb(root: Path, pool: Path, package: str, song: str) -> None:
    tree = root / f"{package}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: Tests <tests@example.org>\nDescription: a test package\n")
    for file, data in SONGS[song]().items():
        path = tree / f"usr/share/games/fretsonfire/data/songs/{package}/{song}/{file}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tree / f"usr/share/doc/{package}").mkdir(parents=True)
    (tree / f"usr/share/doc/{package}/copyright").write_text("MIT licence\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree),
                    str(pool / f"{package}_1.0_all.deb")], check=True, capture_output=True)


def test_cli_fetches_prepares_and_calibrates(tmp_path: Path) -> None:
    pool = tmp_path / "pool"
    pool.mkdir()
    _build_deb(tmp_path, pool, "fretsonfire-songs-muldjord", "plain")
    _build_deb(tmp_path, pool, "fretsonfire-songs-sectoid", "no_guitar")
    data, out = tmp_path / "data", tmp_path / "corpus"

    def cli() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stemloom", "data", "prepare-fof", "--data", str(data),
             "--out", str(out), "--from-debs", str(pool)], cwd=REPO, capture_output=True,
            text=True, timeout=300)

    first = cli()
    assert "Traceback" not in first.stderr
    assert first.returncode == 1  # one song lacks guitar.ogg
    assert "fretsonfire-songs-muldjord: fetched, 4 files" in first.stdout
    assert "plain: written" in first.stdout and "no_guitar: skipped: missing guitar.ogg" \
        in first.stdout
    assert '"windows": 1' in first.stdout  # 12 s: one window (the default is 15 s)
    second = cli()
    assert "fetched" not in second.stdout and "plain: already done" in second.stdout


def test_a_rerun_with_another_split_seed_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"fof": {"seed": 0,
                                                           "fractions": [0.9, 0.05, 0.05]}}))
    with pytest.raises(FofError, match="seed 0"):
        prepare_fof(tmp_path / "no-data", out, seed=1)


def test_a_chart_without_a_meter_is_labelled_as_assumed_and_scored_apart(
        tmp_path: Path) -> None:
    data = make_data(tmp_path / "data", ["no_meter"])
    out = tmp_path / "corpus"
    prepare_fof(data, out)
    metas = [e["json"] for e in iter_examples(out, split=None)]
    assert metas and all(not m["meter_stated"] and m["meter"] == "4/4" for m in metas)
    assert {m["label_confidence"]["meter"] for m in metas} == {ASSUMED_METER}
    _, summary = calibration(out)
    assert summary["meter_assumed"]["windows"] == len(metas) and "meter_stated" not in summary
