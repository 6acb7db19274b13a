"""Stats count what the index holds; the CLI wires build, stats and ingest; imports stay light."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from engine.corpus.cli import add_commands
from engine.corpus.shards import read_index
from engine.corpus.stats import corpus_stats, format_stats


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stemloom")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def test_stats_match_the_index(small_corpus: Path) -> None:
    rows = list(read_index(small_corpus))
    stats = corpus_stats(small_corpus)
    assert stats["examples"] == len(rows) == 10
    assert stats["genre"] == dict(Counter(r["genre"] for r in rows))
    assert stats["key"] == dict(Counter(r["key_name"] for r in rows))
    assert stats["meter"] == dict(Counter(r["meter"] for r in rows))
    assert sum(stats["tempo"].values()) == 10
    assert stats["stem"] == dict(Counter(s["family"] for r in rows for s in r["stems"]))
    assert sum(stats["instrument"].values()) == sum(len(r["stems"]) for r in rows)
    assert abs(stats["hours"] * 3600 - sum(r["seconds"] for r in rows)) < 1.0
    assert sum(stats["split"].values()) == 10
    text = format_stats(stats)
    assert "genre" in text and "tempo" in text


def test_cli_stats_json_and_errors(small_corpus: Path, tmp_path: Path, capsys) -> None:
    args = _parser().parse_args(["corpus", "stats", str(small_corpus), "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 10
    args = _parser().parse_args(["corpus", "stats", str(tmp_path)])
    assert args.func(args) == 2


def test_cli_build_with_two_workers_and_ingest(tmp_path: Path, capsys, fluidsynth) -> None:
    out = tmp_path / "c"
    args = _parser().parse_args(["corpus", "build", str(out), "-n", "3", "--seed", "9",
                                 "-j", "2", "--shard-size", "2", "-q"])
    assert args.func(args) == 0
    assert "wrote 3 examples" in capsys.readouterr().out
    assert len(list(read_index(out))) == 3
    args = _parser().parse_args(["corpus", "build", str(out), "-n", "1", "--soundfont",
                                 str(tmp_path / "none.sf2")])
    assert args.func(args) == 2
    folder = tmp_path / "empty_folder"
    folder.mkdir()
    args = _parser().parse_args(["corpus", "ingest", str(folder), str(tmp_path / "u")])
    assert args.func(args) == 0


def test_importing_the_cli_does_not_import_torch_or_numpy_heavy_modules() -> None:
    code = ("import sys, engine.corpus.cli; "
            "print(sorted(m for m in ('torch', 'soundfile', 'mido', 'soxr') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip() == "[]"
