"""A corpus may leave each example's mix out (v2 does by default): every reader derives it
from the stems, and it is exactly the mix the build would have stored."""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from engine.codec.data import ClipSampler, index_tracks, read_track
from engine.corpus.build import build, example_seed
from engine.corpus.cli import add_commands
from engine.corpus.compare import corpus_mixes
from engine.corpus.composer import sample_spec
from engine.corpus.mixdown import with_mix
from engine.corpus.shards import iter_examples
from tests.engine.corpus.mix_pair import write_pair


def _members(root: Path) -> dict[str, bytes]:
    with tarfile.open(root / "train-000000.tar") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


@pytest.fixture(scope="module", params=[("v2", 16), ("v1", 24)], ids=["v2-16bit", "v1-24bit"])
def pair(request, tmp_path_factory: pytest.TempPathFactory, fluidsynth) -> tuple[Path, Path]:
    """(stored, derived) corpora of the same two short examples."""
    recipe, bits = request.param
    return write_pair(tmp_path_factory.mktemp("mix_pair"), recipe, bits)


def test_only_the_mix_is_left_out(pair: tuple[Path, Path]) -> None:
    stored, derived = (_members(root) for root in pair)
    mixes = {name for name in stored if name.endswith(".mix.flac")}
    assert len(mixes) == 2 and not mixes & set(derived)
    assert {n: b for n, b in stored.items() if n not in mixes} == derived


@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decoded"])
def test_the_reader_derives_the_stored_mix_exactly(pair: tuple[Path, Path],
                                                   decode: bool) -> None:
    stored, derived = (list(iter_examples(root, decode=decode, shuffle_buffer=1))
                       for root in pair)
    assert [e["key"] for e in stored] == [e["key"] for e in derived]
    for a, b in zip(stored, derived, strict=True):
        if decode:
            assert b["mix.flac"].dtype == np.float32
            assert np.array_equal(a["mix.flac"], b["mix.flac"])
        else:  # the very bytes the build would have written
            assert a["mix.flac"] == b["mix.flac"]
    raw = next(iter_examples(pair[1], decode=decode, shuffle_buffer=1, derive_mix=False))
    assert "mix.flac" not in raw


def test_codec_clips_and_comparisons_read_the_same_mix(pair: tuple[Path, Path]) -> None:
    stored, derived = pair
    names = [[t.name for t in index_tracks(root, "train")] for root in pair]
    assert names[0] == names[1] and sum(n.endswith(".mix.flac") for n in names[0]) == 2
    mix = next(t for t in index_tracks(derived, "train") if t.name.endswith(".mix.flac"))
    same = next(t for t in index_tracks(stored, "train") if t.name == mix.name)
    assert np.array_equal(read_track(mix, 1000, 4000), read_track(same, 1000, 4000))
    assert np.array_equal(read_track(mix), read_track(same))
    batches = [ClipSampler(root, "train", 8000, seed=5, mix_prob=0.9, min_rms=0.0).batch(3, 6)
               for root in pair]
    assert np.array_equal(batches[0], batches[1]) and np.abs(batches[0]).max() > 0
    for a, b in zip(corpus_mixes(stored, 2), corpus_mixes(derived, 2), strict=True):
        assert np.array_equal(a, b)


def test_examples_without_stems_keep_what_they_have() -> None:
    recording = {"key": "r", "json": b"{}", "mix.flac": b"bytes"}
    assert with_mix(dict(recording), decoded=False) == recording
    hum_only = {"key": "h", "json": b"{}", "hum.flac": b"bytes"}
    assert with_mix(dict(hum_only), decoded=False) == hum_only


def test_build_records_and_keeps_the_choice(tmp_path: Path, small_corpus: Path,
                                            fluidsynth, capsys) -> None:
    assert "store_mix" not in json.loads((small_corpus / "manifest.json").read_text())["build"]
    seed = next(s for s in range(200) if sample_spec(example_seed(s, 0)).seconds <= 6)
    root = tmp_path / "v1-no-mix"
    parser = argparse.ArgumentParser(prog="stemloom")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["corpus", "build", str(root), "-n", "1", "--seed", str(seed),
                              "--no-store-mix", "-j", "1", "-q"])
    assert args.func(args) == 0
    assert json.loads((root / "manifest.json").read_text())["build"]["store_mix"] is False
    assert not [n for n in _members_any(root) if n.endswith("mix.flac")]
    with pytest.raises(ValueError, match="without --store-mix"):  # one folder, one choice
        build(root, examples=2, seed=seed, workers=1, progress=False, store_mix=True)
    args = parser.parse_args(["corpus", "build", str(root), "-n", "2", "--seed", str(seed),
                              "-j", "1", "-q", "--store-mix"])
    assert args.func(args) == 2 and "mix left out" in capsys.readouterr().err
    report = build(root, examples=2, seed=seed, workers=1, shard_size=1, progress=False)
    assert report.examples == 1  # a plain rerun resumes with the folder's choice
    assert json.loads((root / "manifest.json").read_text())["build"]["store_mix"] is False
    assert not [n for n in _members_any(root) if n.endswith("mix.flac")]


def _members_any(root: Path) -> list[str]:
    names = []
    for shard in sorted(root.glob("*.tar")):
        with tarfile.open(shard) as tar:
            names += tar.getnames()
    return names
