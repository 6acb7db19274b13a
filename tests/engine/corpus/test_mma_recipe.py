"""The mma recipe: .mma files the real MMA accepts, MMA tracks mapped to stem families, real
phrases transposed and placed with their rhythm, a produced example whose stems sum to its
mix, and v2 examples unchanged by it.

MMA is Debian's `mma` (scripts/install-system-deps installs it); the tests skip without it."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from engine.corpus import mma
from engine.corpus.cli import add_commands
from engine.corpus.genres import GENRES
from engine.corpus.mma_recipe import Sources, arrange, make_example_mma
from engine.corpus.produced import Instruments, make_example_v2
from engine.corpus.real_melody import candidates, file_phrases, phrase_bank, place
from engine.corpus.recipes import sample_spec_v2
from engine.corpus.song import METER_BEATS, ChordSpan, Note
from engine.corpus.theory import Key, parse_progression
from engine.data.reserved import ReservedSourceError

# sha256 of v2 examples 0 and 1 (files by name, then the metadata JSON) with FluidR3 and the
# tiny kit, recorded with the code before the mma recipe existed: v2 must not change.
V2_DIGESTS = {0: "dcf6dc4b979fe8fee13ae264210f793224697b5a0acbcfb11e7b45a3897160e9",
              1: "2d7a696079f38becc62b557aa430e4be238de81fde6fa61191bfedca5da2646f"}
# A tune in C major (bar 1-4), 4/4, as (start beat, beats, pitch); a chordal part below it.
TUNE = [(0, 1, 60), (1, 1, 62), (2, 1, 64), (3, 1, 65), (4, 1.5, 67), (5.5, 0.5, 69),
        (6, 2, 67), (8, 0.5, 72), (8.5, 0.5, 71), (9, 1, 69), (10, 2, 67), (12, 1, 65),
        (13, 1, 64), (14, 2, 60)]


@pytest.fixture(scope="module")
def mma_dir() -> Path:
    """The installed MMA's folder; skips where Debian's mma is not installed."""
    found = mma.locate(None)
    if found is None:
        pytest.skip("needs MMA (apt-get install mma; scripts/install-system-deps)")
    return found


def _tune_midi(meter: str = "4/4") -> mido.MidiFile:
    numerator, denominator = (int(x) for x in meter.split("/"))
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage(
        "time_signature", numerator=numerator, denominator=denominator)]))
    for name, notes in (("Melody", TUNE),
                        ("Piano", [(b, 4, p) for b in range(0, 16, 4) for p in (48, 52, 55)])):
        events = []
        for start, length, pitch in notes:
            events += [(round(start * 480), 1, mido.Message("note_on", note=pitch, velocity=90)),
                       (round((start + length) * 480), 0,
                        mido.Message("note_off", note=pitch, velocity=0))]
        track, now = mido.MidiTrack([mido.MetaMessage("track_name", name=name)]), 0
        for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    return midi


def _midi_root(folder: Path, package: str = "planetblupi-music-midi") -> Path:
    """A fetched-looking MIDI folder: one tune file and its manifest row."""
    path = f"{package}/usr/share/music/tune.mid"
    (folder / path).parent.mkdir(parents=True)
    _tune_midi().save(folder / path)
    (folder / "manifest.jsonl").write_text(json.dumps({"package": package, "path": path}) + "\n")
    return folder


def _chords(meter: str, key: Key, progression: str) -> list[ChordSpan]:
    bar = METER_BEATS[meter]
    return [ChordSpan(i * bar, bar, chord, 0)
            for i, chord in enumerate(parse_progression(progression, key))]


@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8"])
def test_mma_accepts_the_written_file_and_plays_the_chords(mma_dir: Path, meter: str) -> None:
    genre = {"4/4": "rock", "3/4": "jazz", "6/8": "pop ballad"}[meter]
    groove = mma.grooves_for(genre, meter, mma_dir)[0]
    key = Key(9, "minor")
    chords = _chords(meter, key, "i-iv-V-i")
    text = mma.write_mma(96, meter, key, 4, chords, [(0, groove)], seed=3)
    assert f"Groove {groove.name}" in text and "KeySig A Minor" in text
    bar_beats = METER_BEATS[meter]
    tracks = mma.accompaniment(mma.run_mma(text, mma_dir), groove.time, bar_beats,
                               4 * bar_beats)
    assert {"drums", "bass"} <= {t.family for t in tracks}
    assert any(t.name.startswith(("Chord", "Bass")) for t in tracks)
    for track in tracks:
        assert all(0 <= n.start < 4 * bar_beats and n.start + n.length <= 4 * bar_beats + 1e-9
                   for n in track.notes)
        if track.name.startswith(("Chord", "Bass")):  # chord tones at each bar's downbeat
            for bar, span in enumerate(chords):
                pcs = {n.pitch % 12 for n in track.notes
                       if abs(n.start - bar * bar_beats) < 0.05}
                assert pcs <= set(span.chord.pcs()), (track.name, bar, pcs)
    again = mma.accompaniment(mma.run_mma(text, mma_dir), groove.time, bar_beats, 4 * bar_beats)
    assert [(t.name, t.notes) for t in again] == [(t.name, t.notes) for t in tracks]


def test_the_feel_is_measured_on_what_mma_played(mma_dir: Path) -> None:
    key = Key(0, "major")
    measured = {}
    for name in ("Swing", "BasicRock"):
        groove = mma.library(mma_dir)[name.lower()]
        text = mma.write_mma(100, "4/4", key, 4, _chords("4/4", key, "I-IV-V-I"),
                             [(0, groove)], seed=1)
        measured[name] = mma.measured_swing(mma.accompaniment(mma.run_mma(text, mma_dir), 4,
                                                              4.0, 16.0))
    assert measured["Swing"] >= mma.SWUNG > measured["BasicRock"]
    assert abs(measured["Swing"] - 2 / 3) < 0.03 and abs(measured["BasicRock"] - 0.5) < 0.03


def test_mma_refusing_a_file_says_why(mma_dir: Path) -> None:
    groove = mma.grooves_for("rock", "4/4", mma_dir)[0]
    text = mma.write_mma(100, "4/4", Key(0, "major"), 1, _chords("4/4", Key(0, "major"), "I"),
                         [(0, groove)], seed=1).replace("1 C", "1 Hq7")
    with pytest.raises(mma.MmaError, match="Hq7"):
        mma.run_mma(text, mma_dir)


def test_every_quality_is_spelled_as_mma_reads_it(mma_dir: Path) -> None:
    from engine.corpus.theory import QUALITIES, Chord

    groove = mma.grooves_for("rock", "4/4", mma_dir)[0]
    chords = [ChordSpan(4.0 * i, 4.0, Chord(3, q, iv), 0)
              for i, (q, iv) in enumerate(QUALITIES.items())]
    text = mma.write_mma(120, "4/4", Key(3, "major"), len(chords), chords, [(0, groove)], 2)
    assert "Ebm(add9)" in text and "Eb69" in text
    mma.run_mma(text, mma_dir)  # raises MmaError on a chord MMA does not know


def test_every_genre_and_meter_has_grooves(mma_dir: Path) -> None:
    for name, genre in GENRES.items():
        for meter in genre.meters:
            grooves = mma.grooves_for(name, meter, mma_dir)
            assert grooves, (name, meter)
            assert all(g.time in mma.METER_TIMES[meter] for g in grooves)
            assert not any("intro" in g.name.lower() or "end" in g.name.lower()
                           for g in grooves)


def test_tracks_map_to_families() -> None:
    assert mma.track_family("Drum-Kick", None, 9) == "drums"
    assert mma.track_family("Walk", 32, 3) == "bass"
    assert mma.track_family("Bass-Sus", 33, 4) == "bass"
    assert mma.track_family("Chord-Piano", 0, 1) == "keys"
    assert mma.track_family("Plectrum", 25, 2) == "guitar"
    assert mma.track_family("Chord-Sus", 48, 5) == "strings"
    assert mma.track_family("Arpeggio", 11, 6) == "keys"
    assert mma.track_family("Chord", 89, 7) == "pad"
    assert mma.track_family("Scale", 122, 8) is None  # sound effects are dropped
    one, two = [Note(0, 1, 60, 80)], [Note(0, 1, 60, 80), Note(1, 1, 64, 80)]
    assert mma.style_of([mma.TrackNotes("Chord", "keys", one),
                         mma.TrackNotes("Arpeggio-8", "keys", two)]) == "arpeggio"
    assert mma.style_of([mma.TrackNotes("Walk", "bass", one)]) == "walking"


def test_a_phrase_is_picked_transposed_and_placed_with_its_rhythm(tmp_path: Path) -> None:
    phrases = file_phrases(_tune_midi(), "planetblupi-music-midi", "tune.mid")
    assert len(phrases) == 1
    phrase = phrases[0]
    assert [(a, b, p) for a, b, p, _ in phrase.notes] == TUNE  # the tune, not the chords
    assert (phrase.tonic, phrase.minor, phrase.meter, phrase.bars) == (0, False, "4/4", 4)
    notes, shift = place(phrase, Key(5, "major"), 8, 55, 90)  # F major, twice as long
    assert shift == 5
    assert [(n.start, n.length, n.pitch) for n in notes] == [
        (a + loop * 16, b, p + 5) for loop in (0, 1) for a, b, p in TUNE]
    short, _ = place(phrase, Key(5, "major"), 2, 55, 90)
    assert [(n.start, n.length) for n in short] == [(a, b) for a, b, _ in TUNE if a < 8]
    low, shift = place(phrase, Key(11, "major"), 4, 28, 55)  # B, down toward a bass range
    assert shift % 12 == 11 and shift < 0
    assert abs(np.mean([n.pitch for n in low]) - (28 + 55) / 2) <= 6
    assert candidates((phrase,), "3/4", Key(0, "major")) == []


def test_the_phrase_bank_reads_the_manifest_and_refuses_reserved_rows(tmp_path: Path) -> None:
    bank = phrase_bank(_midi_root(tmp_path / "ok"))
    assert [p.package for p in bank] == ["planetblupi-music-midi"]
    with pytest.raises(ReservedSourceError):
        phrase_bank(_midi_root(tmp_path / "bad", package="openttd-openmsx"))


def _seed(want_lead: bool = True, meter: str = "4/4", limit: float = 6.0) -> int:
    for seed in range(2000):
        spec, _ = sample_spec_v2(seed)
        families = {s.family for s in spec.stems}
        if (spec.meter == meter and spec.seconds <= limit and "drums" in families
                and ("lead" in families) == want_lead and len(spec.stems) >= 3):
            return seed
    raise AssertionError("no seed fits")


def _decode(data: bytes) -> np.ndarray:
    return sf.read(io.BytesIO(data), dtype="float32", always_2d=True)[0].T


def test_an_mma_example_is_produced_from_mma_and_a_real_phrase(tmp_path: Path, mma_dir: Path,
                                                               fluidsynth) -> None:
    sources = Sources.locate(_midi_root(tmp_path / "midi"))
    assert sources.mma_dir == mma_dir  # nothing fetched there: the installed MMA
    found = Instruments.locate(tmp_path / "instruments")  # FluidR3 alone
    seed = _seed()
    song, extra = arrange(seed, sources)
    lead = song.part("lead")
    assert lead is not None and extra["melody_source"]["path"].endswith("tune.mid")
    shift = extra["melody_source"]["transpose"]
    assert [(n.start, n.length, n.pitch - shift) for n in lead.notes][:len(TUNE)] == [
        (a, b, p) for a, b, p in TUNE][:len(lead.notes)]
    meta, files = make_example_mma(seed, found, sources, store_mix=True)
    assert meta["recipe"] == "mma" and meta["mma"]["grooves"][0] == song.sections[0].groove
    assert meta["melody"] and "hum.flac" in files
    assert {s["family"] for s in meta["stems"]} >= {"drums", "lead"}
    assert set(meta["mma"]["tracks"]) == {s["family"] for s in meta["stems"]} - {"lead"}
    stems = [_decode(files[f"{s['name']}.flac"]) for s in meta["stems"]]
    mix = _decode(files["mix.flac"])
    assert np.array_equal(np.sum(stems, axis=0, dtype=np.float64), mix.astype(np.float64))
    assert all(np.abs(s).max() > 0 for s in stems)
    assert meta["feel"] in ("swing", "straight")
    instruments = {s["instrument_name"] for s in meta["stems"]}
    assert any(any(i.lower() in c.lower() for i in instruments) for c in meta["captions"])
    again, files_again = make_example_mma(seed, found, sources, store_mix=True)
    assert files_again == files and again["captions"] == meta["captions"]


def test_v2_examples_are_unchanged(tmp_path: Path, fluidsynth, tiny_kit) -> None:
    kit_dir = tmp_path / "hydrogen-data/usr/share/hydrogen/data/drumkits"
    kit_dir.mkdir(parents=True)
    tiny_kit(kit_dir).rename(kit_dir / "GMRockKit")
    found = Instruments.locate(tmp_path)
    for seed, expected in V2_DIGESTS.items():
        meta, files = make_example_v2(seed, found)
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode())
            digest.update(files[name])
        digest.update(json.dumps(meta, sort_keys=True).encode())
        assert digest.hexdigest() == expected, seed


def test_the_build_command_asks_for_the_midi_folder(tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser(prog="stemloom")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["corpus", "build", str(tmp_path / "out"), "-n", "1", "--recipe",
                              "mma", "--instruments", str(tmp_path)])
    assert args.func(args) == 2
    assert "--midi DIR" in capsys.readouterr().err
