"""Tracker modules into multi-stem examples, on a tiny ProTracker module written from bytes:
channels rendered alone sum to the full render, channels map to families, shards are
readable, a rerun is idempotent, a non-module file is skipped with a reason."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from engine.corpus.shards import iter_examples, read_manifest
from engine.data.stem_families import KEYWORDS, map_family, name_family

ROWS = 64
RATE = 8363  # Amiga C-2 playback rate: a sample written at this rate plays at pitch at C-2
C2, C1, C3 = 428, 856, 214  # ProTracker periods


def _wave(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / RATE
    if kind == "kick":
        tone = np.sin(2 * np.pi * 60 * t * np.exp(-t * 8)) * np.exp(-t * 18)
    elif kind == "hat":
        tone = rng.uniform(-1, 1, n) * np.exp(-t * 60)
    elif kind == "bass":
        tone = np.sign(np.sin(2 * np.pi * 65.4 * t)) * 0.3 + np.sin(2 * np.pi * 65.4 * t) * 0.6
    else:  # a bright square lead, looped
        tone = np.sign(np.sin(2 * np.pi * 523.3 * t)) * 0.5
    return np.clip(tone * 120, -128, 127).astype(np.int8)


def make_mod(path: Path, names: tuple[str, str, str, str], patterns: int = 2) -> Path:
    """A 4-channel M.K. module: kick on 0, a bass line on 1, a busy lead on 2, hats on 3."""
    rng = np.random.default_rng(0)
    kinds = ("kick", "bass", "lead", "hat")
    looped = (False, True, True, False)
    lengths = (1600, 1024, 512, 600)
    samples = [_wave(k, n, rng) for k, n in zip(kinds, lengths, strict=True)]
    head = b"tiny test".ljust(20, b"\0")
    for i in range(31):
        if i < 4:
            words = lengths[i] // 2
            loop = (0, words) if looped[i] else (0, 1)
            head += names[i].encode().ljust(22, b"\0") + struct.pack(
                ">HBBHH", words, 0, 64, *loop)
        else:
            head += b"\0" * 22 + struct.pack(">HBBHH", 0, 0, 0, 0, 1)
    head += bytes([patterns, 127]) + bytes(range(patterns)).ljust(128, b"\0") + b"M.K."

    def cell(sample: int, period: int) -> bytes:
        return bytes([(sample & 0xF0) | (period >> 8), period & 0xFF, (sample & 0x0F) << 4, 0])

    body = b""
    for pattern in range(patterns):
        for row in range(ROWS):
            lead = (C3, 190, 170, 160, 143, 127)[(row + pattern) % 6]
            cells = [cell(1, C2) if row % 8 == 0 else b"\0" * 4,
                     cell(2, (C1, 1016, 640)[row // 16 % 3]) if row % 16 == 0 else b"\0" * 4,
                     cell(3, lead) if row % 2 == 0 else b"\0" * 4,
                     cell(4, C2) if row % 4 == 2 else b"\0" * 4]
            body += b"".join(cells)
    path.write_bytes(head + body + b"".join(s.tobytes() for s in samples))
    return path


def make_data(root: Path, modules: dict[str, bytes]) -> Path:
    """A fetched-data folder as `stemloom data fetch` leaves it: files and manifest.jsonl."""
    rows = []
    for name, data in modules.items():
        relative = f"demo-data/usr/share/demo/{name}"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
        rows.append({"path": relative, "package": "demo-data", "version": "1.0-1",
                     "licence": "GPL-2+", "sha256": hashlib.sha256(data).hexdigest(),
                     "bytes": len(data), "seconds": None})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def libxmp() -> None:
    from engine.data.libxmp import LibxmpMissing, _lib

    try:
        _lib()
    except LibxmpMissing as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def named_mod(tmp_path_factory: pytest.TempPathFactory, libxmp: None) -> Path:
    return make_mod(tmp_path_factory.mktemp("mod") / "named.mod",
                    ("bassdrum", "synth bass", "flute", "closed hihat"))


@pytest.fixture(scope="module")
def blank_mod(tmp_path_factory: pytest.TempPathFactory, libxmp: None) -> Path:
    return make_mod(tmp_path_factory.mktemp("mod") / "blank.mod", ("", "", "", ""))


def test_module_info_and_tempo(named_mod: Path) -> None:
    from engine.data.libxmp import Module

    with Module(named_mod) as module:
        assert module.info.channels == 4
        assert (module.info.speed, module.info.bpm) == (6, 125)
        assert module.info.instruments[:4] == ("bassdrum", "synth bass", "flute",
                                               "closed hihat")
        render = module.render(32_000)
    # 2 patterns x 64 rows x 6 ticks of 2.5/125 s = 15.36 s, played once (no loop)
    assert render.audio.shape[0] == 2
    assert render.audio.shape[1] / 32_000 == pytest.approx(15.36, abs=0.05)
    assert [len(n) for n in render.notes] == [16, 8, 64, 32]
    assert render.speeds == [(0.0, 6, 125)]


def test_channels_sum_to_the_full_render(named_mod: Path) -> None:
    from engine.data.libxmp import Module

    with Module(named_mod) as module:
        full = module.render(32_000).audio
        solos = [module.render(32_000, solo=c).audio for c in range(4)]
    assert all(s.shape == full.shape for s in solos)
    levels = [float(np.sqrt(np.mean(s ** 2))) for s in solos]
    assert min(levels) > 1e-3  # every channel sounds alone
    residual = np.sqrt(np.mean((sum(solos) - full) ** 2)) / np.sqrt(np.mean(full ** 2))
    assert residual < 1e-3  # rounding of the 16-bit mixer only (measured ~1e-4)
    # a solo is not the full render: the other channels are really muted
    assert np.sqrt(np.mean((solos[2] - full) ** 2)) > 0.3 * np.sqrt(np.mean(full ** 2))


def test_families_from_names_and_from_sound(named_mod: Path, blank_mod: Path) -> None:
    from engine.data.modules import analyse

    named = analyse(named_mod)
    assert [(c.family, c.rule) for c in named.channels] == [
        ("drums", "names"), ("bass", "names"), ("lead", "names"), ("drums", "names")]
    assert sorted(named.stems) == ["bass", "drums", "lead"]
    # without names the sound decides: noise bursts and a thump are drums, the low line bass
    blank = analyse(blank_mod)
    families = [c.family for c in blank.channels]
    assert families[0] == "drums" and families[3] == "drums"
    assert families[1] == "bass"
    assert families[2] in ("lead", "keys")
    assert blank.residual_dbfs - blank.level_dbfs < -50


def test_name_rules() -> None:
    assert name_family("bassdrum") == "drums"
    assert name_family("Bassoon") == "lead"  # a whole-word keyword beats a part of a word
    assert name_family("synth bass") == "bass"
    assert name_family("Bass1.smp") == "bass"
    assert name_family("high-strings:jefflim") == "strings"
    assert name_family("acoustic-guitar:maz") == "guitar"
    assert name_family("piano:necros") == "keys"
    assert name_family("regis parret") is None
    assert set(KEYWORDS) == {"drums", "bass", "keys", "guitar", "strings", "pad", "lead"}


def test_prepare_writes_readable_shards_and_is_idempotent(tmp_path: Path,
                                                          named_mod: Path) -> None:
    from engine.data.modules import CHANNELS_FILE, REPORT_FILE, prepare_modules

    data = make_data(tmp_path / "data", {"song.mod": named_mod.read_bytes(),
                                         "language.It": b"not a module at all\n" * 10})
    out = tmp_path / "corpus"
    first = prepare_modules(data, out, window_seconds=5.0)
    by_name = {Path(r.path).name: r for r in first}
    assert by_name["language.It"].status == "skipped"
    assert "cannot load" in by_name["language.It"].why
    song = by_name["song.mod"]
    assert song.status == "written" and song.examples == 3  # 15.36 s: 5 + 5 + 5 (+0.36 dropped)
    assert song.residual_db < -50 and song.residual_dbfs < -80
    assert song.families == {"bass": [1], "drums": [0, 3], "lead": [2]}

    manifest = read_manifest(out)
    assert sum(s["examples"] for s in manifest["shards"]) == 3
    examples = list(iter_examples(out, split=None))
    assert len(examples) == 3
    for example in examples:
        meta = example["json"]
        assert meta["source"] == "module" and meta["package"] == "demo-data"
        assert meta["licence"] == "GPL-2+" and meta["bpm"] == 125.0
        names = [s["name"] for s in meta["stems"]]
        assert names == ["bass", "drums", "lead"]
        stems = sum(example[f"{n}.flac"] for n in names)
        assert example["mix.flac"].shape == (2, 5 * 32_000)
        assert np.array_equal(stems, example["mix.flac"])  # the mix is exactly the sum
    assert len(json.loads((out / CHANNELS_FILE).read_text())) == 4
    assert json.loads((out / REPORT_FILE).read_text())

    shard = out / song.shard
    before = shard.stat().st_mtime_ns
    again = prepare_modules(data, out, window_seconds=5.0)
    assert {Path(r.path).name: r.status for r in again} == {"song.mod": "already done",
                                                            "language.It": "skipped"}
    assert shard.stat().st_mtime_ns == before
    assert len(json.loads((out / CHANNELS_FILE).read_text())) == 4  # evidence kept
    assert prepare_modules(data, out, packages=["another-package"]) == []
    report = {Path(r["path"]).name: r for r in json.loads((out / REPORT_FILE).read_text())}
    assert report["song.mod"]["families"] == song.families  # other packages' rows kept


def test_cli_prepare_and_score(tmp_path: Path, named_mod: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from engine.data.modules import module_key
    from stemloom.cli import main

    data = make_data(tmp_path / "data", {"song.mod": named_mod.read_bytes()})
    out = tmp_path / "corpus"
    assert main(["data", "prepare-modules", "--data", str(data), "--out", str(out)]) == 0
    assert "1 modules written" in capsys.readouterr().out
    key = module_key("demo-data", "demo-data/usr/share/demo/song.mod")
    labels = {"labels": [{"module": key, "channel": 0, "family": "drums", "half": "tune"},
                         {"module": key, "channel": 1, "family": "keys", "half": "test"},
                         {"module": key, "channel": 2, "family": "lead", "half": "test"}]}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    assert main(["data", "prepare-modules", "--out", str(out),
                 "--score", str(tmp_path / "labels.json")]) == 0
    text = capsys.readouterr().out
    assert "tune: 1/1 = 100.0%" in text and "test: 1/2 = 50.0%" in text


def test_cli_refuses_a_folder_without_data(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from stemloom.cli import main

    assert main(["data", "prepare-modules", "--data", str(tmp_path), "--out",
                 str(tmp_path / "out")]) == 2
    assert "holds no fetched data" in capsys.readouterr().err
    (tmp_path / "manifest.jsonl").write_text("")
    assert main(["data", "prepare-modules", "--data", str(tmp_path), "--out",
                 str(tmp_path / "out"), "--window", "2"]) == 2
    assert "at least 5 seconds" in capsys.readouterr().err
    assert main(["data", "prepare-modules", "--out", str(tmp_path / "out"), "--score",
                 str(tmp_path / "missing.json")]) == 2
    assert "cannot read labels" in capsys.readouterr().err


def test_rules_on_evidence_alone() -> None:
    from engine.data.stem_families import Evidence

    base = dict(names={}, notes=100, distinct=12, median_note=60.0, span=12,
                pitches_per_instrument=12.0, density=4.0, sounding=30.0, low_share=0.1,
                centroid=2500.0, percussive=0.2)
    assert map_family(Evidence(**base)) == ("lead", "busy-line")
    assert map_family(Evidence(**{**base, "density": 1.5})) == ("keys", "default")
    assert map_family(Evidence(**{**base, "low_share": 0.8}))[0] == "bass"
    assert map_family(Evidence(**{**base, "percussive": 0.9}))[0] == "drums"
    assert map_family(Evidence(**{**base, "density": 0.3, "centroid": 900.0}))[0] == "pad"
    assert map_family(Evidence(**{**base, "names": {"strings": 60}}))[0] == "strings"
