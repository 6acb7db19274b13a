"""The v2 recipe end to end with FluidR3 (and a tiny kit made here): its spec shares, a real
produced render, the build command and the comparison."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.corpus.build import example_seed
from engine.corpus.cli import add_commands
from engine.corpus.composer import sample_spec
from engine.corpus.measures import loudness
from engine.corpus.produced import Instruments, make_example_v2
from engine.corpus.production import CEILING
from engine.corpus.recipes import FOCUS_SHARES, sample_spec_v2
from engine.corpus.render import SAMPLE_RATE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stemloom")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _decode(data: bytes) -> np.ndarray:
    return sf.read(io.BytesIO(data), dtype="float32", always_2d=True)[0].T


def _short_v2_seeds(count: int, limit: float = 6.0) -> list[int]:
    return [s for s in range(400) if sample_spec_v2(s)[0].seconds <= limit][:count]


def test_v2_specs_hold_more_of_the_weak_material_than_v1() -> None:
    n = 2000
    v1 = [sample_spec(s) for s in range(n)]
    v2 = [sample_spec_v2(s) for s in range(n)]
    for focus, share in FOCUS_SHARES.items():
        assert abs(sum(f == focus for _, f in v2) / n - share) < 0.035

    def shares(specs) -> dict[str, float]:
        return {"drumless": np.mean([all(x.family != "drums" for x in s.stems) for s in specs]),
                "6/8": np.mean([s.meter == "6/8" for s in specs]),
                "slow": np.mean([s.bpm <= 90 for s in specs]),
                "swung": np.mean([s.swing >= 0.54 for s in specs])}

    old, new = shares(v1), shares([s for s, _ in v2])
    assert new["drumless"] > old["drumless"] + 0.1
    assert new["6/8"] > old["6/8"] + 0.1
    assert new["slow"] > old["slow"] + 0.1
    assert new["swung"] > old["swung"] + 0.05
    assert all(s.seconds <= 60.0 or s.bars == 1 for s, _ in v2)


def test_a_v2_example_is_produced_mastered_and_reproducible(tmp_path: Path, fluidsynth,
                                                             tiny_kit) -> None:
    # Only FluidR3 and one tiny Hydrogen kit (standing in for GMRockKit) are present.
    kit_dir = tmp_path / "hydrogen-data/usr/share/hydrogen/data/drumkits"
    kit_dir.mkdir(parents=True)
    tiny_kit(kit_dir).rename(kit_dir / "GMRockKit")
    found = Instruments.locate(tmp_path)
    assert set(found.banks) == {"fluidr3"} and set(found.kits) == {"GMRockKit"}
    assert any("musescore-general-soundfont" in line for line in found.missing())
    sources = set()
    for seed in _short_v2_seeds(3):
        meta, files = make_example_v2(seed, found)
        assert meta["recipe"] == "v2" and meta["focus"] in FOCUS_SHARES
        stems = [_decode(files[f"{s['name']}.flac"]) for s in meta["stems"]]
        mix = _decode(files["mix.flac"])
        assert np.array_equal(np.sum(stems, axis=0, dtype=np.float64), mix.astype(np.float64))
        assert mix.shape == (2, meta["frames"])
        assert abs(meta["frames"] / SAMPLE_RATE - meta["seconds"]) < 1e-3
        target = meta["production"]["bus"]["target_lufs"]
        assert loudness(mix, SAMPLE_RATE) == pytest.approx(target, abs=0.5)
        assert np.abs(mix).max() <= CEILING + 8 / 32768
        sources |= {s.get("kit") or s.get("bank") for s in meta["stems"]}
    assert sources <= {"fluidr3", "GMRockKit"} and "fluidr3" in sources
    again, files_again = make_example_v2(seed, found)
    assert files_again == files and again == meta


def test_build_v2_says_what_is_missing_then_builds_and_compares(
        tmp_path: Path, small_corpus: Path, capsys, fluidsynth) -> None:
    out = tmp_path / "v2"
    args = _parser().parse_args(["corpus", "build", str(out), "-n", "1", "--recipe", "v2"])
    assert args.func(args) == 2
    assert "--instruments" in capsys.readouterr().err
    args = _parser().parse_args(["corpus", "build", str(out), "-n", "1", "--recipe", "v2",
                                 "--instruments", str(tmp_path / "none")])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "hydrogen-drumkits" in err and "opl3-soundfont" in err and "--allow-missing" in err
    seed = next(s for s in range(200) if sample_spec_v2(example_seed(s, 0))[0].seconds <= 6)
    args = _parser().parse_args(["corpus", "build", str(out), "-n", "1", "--recipe", "v2",
                                 "--seed", str(seed), "--instruments", str(tmp_path / "none"),
                                 "--allow-missing", "-j", "1", "-q"])
    assert args.func(args) == 0
    capsys.readouterr()
    built = json.loads((out / "manifest.json").read_text())["build"]
    assert built["recipe"] == "v2" and built["store_mix"] is False  # compare derives the mix
    args = _parser().parse_args(["corpus", "build", str(out), "-n", "2", "-q"])
    assert args.func(args) == 2  # a v1 build does not resume a v2 folder
    assert "recipe v2" in capsys.readouterr().err
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    t = np.arange(44100 * 31) / 44100
    sf.write(recordings / "tone.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 44100)
    sf.write(recordings / "effect.wav", 0.3 * np.sin(2 * np.pi * 220 * t[:44100]), 44100)
    args = _parser().parse_args(["corpus", "compare", str(small_corpus), str(out),
                                 "--recordings", str(recordings), "-n", "3"])
    assert args.func(args) == 0
    table = capsys.readouterr().out
    assert "recordings (n=1)" in table and "v2 (n=1)" in table
    assert "lufs" in table and "band_1000" in table and "drumless" in table
    args = _parser().parse_args(["corpus", "stats", str(out), "--json"])
    assert args.func(args) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["recipe"] == {"v2": 1} and sum(stats["bank"].values()) >= 1
