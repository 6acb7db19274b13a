"""The frozen real-tune set: its files are the ones its manifest names, the builder's rules
(which part, which bars, chords to the top note, frozen unless forced) and the evaluation
over it through ``stemloom eval melody --tunes``."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from itertools import pairwise
from pathlib import Path

import mido
import pytest

from bridge.timing import clip_seconds
from engine.data.reserved import is_reserved
from engine.generator.melody_eval import chroma_cosine, tone_render
from engine.generator.real_tunes import MANIFEST, TUNES_DIR, RealTunesError, load_tunes
from engine.generator.real_tunes_build import (
    BuildError,
    Excerpt,
    build,
    excerpt,
    excerpt_midi,
    write_set,
)
from engine.generator.real_tunes_sources import Candidate, abc_key, first_bar, split_abc
from engine.melody.from_midi import midi_melody
from engine.melody.tokens import MelodyNote
from stemloom.cli import main

TPB = 480
BAR = 4 * TPB


def test_the_frozen_set_is_what_its_manifest_says() -> None:
    tunes = load_tunes(TUNES_DIR)
    rows = json.loads((TUNES_DIR / MANIFEST).read_text())["tunes"]
    assert len(tunes) >= 24 and {t.kind for t in tunes} == {"game", "folk"}
    assert {"3/4", "4/4"} <= {t.meter for t in tunes}
    assert {t.key.split()[-1] for t in tunes} == {"major", "minor"}
    for tune, row in zip(tunes, rows, strict=True):
        # Evaluation-only sources, each file small and named with its licence.
        assert is_reserved(row["source"]["package"]) and row["licence"]
        assert tune.path.stat().st_size < 4096 and 4 <= tune.bars <= 8
        notes = tune.notes()
        assert len(notes) == row["notes"] >= 1.5 * tune.bars
        # One line: no note starts before the last one ended; all inside the bars.
        assert all(a.end <= b.start + 1e-6 for a, b in pairwise(notes))
        length = clip_seconds(tune.bpm, tune.bars, tune.meter)
        assert notes[0].start >= 0 and notes[-1].end <= length + 1e-6


def test_a_set_that_is_not_as_frozen_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "set"
    shutil.copytree(TUNES_DIR, copy)
    assert len(load_tunes(copy)) == len(load_tunes(TUNES_DIR))
    victim = sorted((copy / "tunes").glob("*.mid"))[0]
    original = victim.read_bytes()
    victim.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(RealTunesError, match=re.escape(f"{victim.name} differs")):
        load_tunes(copy)
    victim.write_bytes(original)
    (copy / "tunes" / "stray.mid").write_bytes(original)
    with pytest.raises(RealTunesError, match=r"stray\.mid is not in the manifest"):
        load_tunes(copy)
    (copy / "tunes" / "stray.mid").unlink()
    victim.unlink()
    with pytest.raises(RealTunesError, match=re.escape(f"{victim.name} is missing")):
        load_tunes(copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    del manifest["tunes"][1]["sha256"]
    manifest["tunes"][2]["file"] = "../../outside.mid"
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(RealTunesError, match="tune 2 of the manifest is malformed.*"
                       r"\.\./\.\./outside\.mid lies outside the set"):
        load_tunes(copy)


def _midi(parts: dict[str, tuple[int, list[tuple[int, int, int]]]]) -> mido.MidiFile:
    """A type-1 file at 120 BPM in 4/4: one track per named part (channel, notes as
    (start, end, pitch) in ticks)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    for name, (channel, notes) in parts.items():
        events = sorted([(s, 1, p) for s, _, p in notes] + [(e, 0, p) for _, e, p in notes])
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        now = 0
        for tick, on, pitch in events:
            track.append(mido.Message("note_on" if on else "note_off", channel=channel,
                                      note=pitch, velocity=80 if on else 0, time=tick - now))
            now = tick
        midi.tracks.append(track)
    return midi


def _candidate(midi: mido.MidiFile, downbeat: int) -> Candidate:
    return Candidate("test-tune", "game", midi, "4/4", downbeat, "",
                     {"package": "openttd-openmsx", "file": "test.mid"}, "GPL-2.0")


# A tune of eighths and quarters after a one-beat pickup (MIDI pitch 79), with a harmony
# note under one of its notes; a piano holds low triads and drums play high under it all.
PICKUP = (0, TPB, 79)
PHRASE = [0, 2, 4, 5, 7]  # C major: quarters and eighths, four or five notes a bar


def _tune_notes() -> list[tuple[int, int, int]]:
    notes, now = [], TPB
    for bar in range(9):
        for step, degree in enumerate(PHRASE[: 4 + bar % 2]):
            length = TPB // 2 if step % 2 else TPB
            notes.append((now, now + length, 72 + degree))
            now += length
        now = TPB + (bar + 1) * BAR
    return notes


def _song() -> tuple[mido.MidiFile, list[tuple[int, int, int]]]:
    melody = _tune_notes()
    harmony = [(melody[3][0], melody[3][1], melody[3][2] - 4)]
    piano = [(TPB + b * BAR, TPB + (b + 1) * BAR, p) for b in range(9) for p in (48, 52, 55)]
    drums = [(TPB + k * TPB // 2, TPB + k * TPB // 2 + 60, 81) for k in range(72)]
    return _midi({"Flute": (0, [PICKUP, *melody, *harmony]), "Piano": (1, piano),
                  "Drums": (9, drums)}), melody


def test_an_excerpt_is_the_tunes_top_line_from_its_first_downbeat() -> None:
    midi, melody = _song()
    found = excerpt(_candidate(midi, downbeat=TPB))
    assert found is not None and found.part == "Flute" and found.bars == 8
    window = [(s - TPB, e - TPB, p) for s, e, p in melody if s < TPB + 8 * BAR]
    assert [(n.start, n.end, n.pitch) for n in found.notes] == window
    # Written and read back the way the engine reads a producer's clip: the same line.
    written = mido.MidiFile(file=io.BytesIO(excerpt_midi(found)))
    beat = 0.5  # seconds at 120 BPM
    assert midi_melody(written) == [MelodyNote(s / TPB * beat, e / TPB * beat, p)
                                    for s, e, p in window]
    assert written.length == pytest.approx(8 * 4 * beat)


def test_chords_alone_and_too_few_notes_are_no_tune() -> None:
    pad = [(b * BAR, (b + 1) * BAR, p) for b in range(8) for p in (60, 64, 67, 72)]
    assert excerpt(_candidate(_midi({"Pad": (0, pad)}), 0)) is None
    sparse = [(b * BAR, b * BAR + TPB, 60 + b) for b in range(8)]  # one note a bar
    assert excerpt(_candidate(_midi({"Flute": (0, sparse)}), 0)) is None


def test_the_builder_refuses_to_overwrite_a_frozen_set_unless_forced(tmp_path: Path) -> None:
    midi, _ = _song()
    found = excerpt(_candidate(midi, downbeat=TPB))
    assert isinstance(found, Excerpt)
    out = tmp_path / "set"
    write_set([found], out, {"name": "test"})
    assert [t.id for t in load_tunes(out)] == ["test-tune"]
    frozen = hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest()
    with pytest.raises(BuildError, match="--force"):
        write_set([found, found], out, {"name": "changed"})
    with pytest.raises(BuildError, match="--force"):  # before anything is downloaded
        build(out, tmp_path / "downloads")
    assert hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest() == frozen
    assert not (tmp_path / "downloads").exists()
    write_set([found], out, {"name": "changed"}, force=True)
    assert json.loads((out / MANIFEST).read_text())["name"] == "changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no half-written leftovers


def test_abc_tunes_are_split_keyed_and_their_pickup_bar_found() -> None:
    text = "%comment\nX:1\nT:One\nM:3/4\nK:Ador\n(cd) | e2 A2 A2 |\n\nX:2\nT:Two\nK:G\n|:GA|B2|\n"
    tunes = split_abc(text)
    assert [h["T"] for h, _ in tunes] == ["One", "Two"] and tunes[0][0]["M"] == "3/4"
    assert first_bar(tunes[0][1]).strip() == "(cd)"
    assert first_bar(tunes[1][1]).strip() == "GA"
    assert first_bar('"Am"{g}!trill!A2 B | c').split() == ["A2", "B"]
    assert [abc_key(k) for k in ("Ador", "Dmix", "Gm", "Bb", "none", "")] == [
        "A minor", "D major", "G minor", "Bb major", "", ""]


def test_the_measure_hears_the_tune_and_not_another() -> None:
    tune = load_tunes(TUNES_DIR)[0]
    notes = tune.notes(4)
    seconds = notes[-1].end
    assert chroma_cosine(notes, tone_render(notes, seconds)) > 0.9
    tritone = [MelodyNote(n.start, n.end, n.pitch + 6) for n in notes]
    assert chroma_cosine(notes, tone_render(tritone, seconds)) < 0.3


def test_eval_melody_scores_real_tunes_per_tune_over_seeds(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    assert main(["eval", "melody", "--tunes", str(TUNES_DIR), "--model", "random-tiny",
                 "--limit", "1", "--seeds", "1,2", "--bars", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tunes"] == 1 and report["seeds"] == [1, 2] and report["bars"] == 2
    row = report["per_tune"][0]
    measures = {f"{s}_{p}" for s in ("midi", "hum", "no_melody") for p in ("lead", "mix")}
    assert set(row["scores"]) == measures | {"tone_ceiling"}
    for name in measures:
        assert len(row["scores"][name]["values"]) == 2
        assert 0 <= row["scores"][name]["mean"] <= 1 and row["scores"][name]["sd"] >= 0
    assert row["scores"]["tone_ceiling"]["mean"] > 0.9
    assert report["summary"]["all"]["midi_lead"]["n"] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", "melody", "--tunes", str(empty), "--model", "random-tiny"]) == 2
    assert "not a tune set" in capsys.readouterr().err
