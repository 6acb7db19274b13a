"""The melody evaluation on a small corpus written in the corpus format: held-out hums are
scored against their metadata melody moved by the hum's transposition."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.corpus.example import encode_flac
from engine.corpus.hum import synth_hum
from engine.corpus.shards import ShardWriter, write_manifest
from engine.melody.evaluate import evaluate_transcription, extraction_latency, main

from .helpers import RATE, tune


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two test-split hums (one at 150 BPM, one at 100 BPM), one example without a hum, and
    a training hum the evaluation must not touch."""
    root = tmp_path_factory.mktemp("corpus")
    for split, rows in [("test", [(1, 150), (2, 100), (None, 100)]), ("train", [(3, 100)])]:
        writer = ShardWriter(root / f"{split}-000000.tar")
        for i, (seed, bpm) in enumerate(rows):
            meta = {"split": split, "bpm": bpm, "seconds": 4.0, "sample_rate": RATE,
                    "melody": [], "hum": None}
            files = {}
            if seed is not None:
                notes = tune(4.0, seed=seed)
                audio, info = synth_hum(notes, 4.0, np.random.default_rng(seed), RATE)
                meta["melody"] = [[n.start, n.end, n.pitch, 90] for n in notes]
                meta["hum"] = info
                files["hum.flac"] = encode_flac(audio, 16)
            writer.add(f"{split}{i}", meta, files)
        writer.close()
    write_manifest(root)
    return root


def test_held_out_hums_are_scored(corpus: Path) -> None:
    """Two hums scored (not the one without a hum, not the training one), split by tempo."""
    report = evaluate_transcription(corpus, latency_runs=0)
    notes = [len(tune(4.0, seed=s)) for s in (1, 2)]
    assert report["hums"] == 2 and "latency" not in report
    assert report["all"]["reference_notes"] == sum(notes)
    assert report["fast"]["reference_notes"] == notes[0]
    assert report["slow"]["reference_notes"] == notes[1]
    assert report["all"]["onset"]["f1"] >= 0.95
    assert report["all"]["onset_pitch"]["f1"] >= 0.85
    assert evaluate_transcription(corpus, limit=1, latency_runs=0)["hums"] == 1


def test_command_line_prints_json(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """python -m engine.melody.evaluate CORPUS --json prints the report."""
    assert main([str(corpus), "--json", "--limit", "1", "--latency-runs", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["hums"] == 1


def test_latency_is_timed_on_a_file() -> None:
    """The latency figure times whole extractions (file to notes) after a first one."""
    latency = extraction_latency(seconds=2.0, runs=2)
    assert latency["runs"] == 2 and latency["hum_seconds"] == 2.0
    assert 0 < latency["median_s"] <= latency["max_s"]
