"""A 6/8 tune converted by the real abc2midi gives 6/8 phrases that are placed bar for bar in
a 6/8 song, and the phrase bank leaves out phrases that copy the frozen real-tune set (even
transposed). abc2midi is Debian's abcmidi (scripts/install-system-deps installs it)."""

from __future__ import annotations

import json
from pathlib import Path

import mido

from engine.corpus.real_melody import (
    candidates,
    copies_frozen,
    file_phrases,
    frozen_runs,
    phrase_bank,
    place,
)
from engine.corpus.song import METER_BEATS
from engine.corpus.theory import Key
from engine.data.abc_tunes import find_abc2midi, tune_midi
from engine.generator.real_tunes import TUNES_DIR, load_tunes
from engine.generator.real_tunes_sources import split_abc

# A jig written for this test: a one-eighth pickup, then 4 bars of 6/8.
JIG = """X:1
T:Test Jig
M:6/8
L:1/8
K:D
A|DED F2A|d2f ecA|G2B F2A|E2F GFE|DED F2A|d2f ecA|Bgf edc|d3 d2||
"""
# Its first 4 bars as (onset in quarter notes, pitch): the pickup ends bar 0 (a bar is 3
# quarter notes), the tune's first downbeat is bar 1's.
OPENING = [(2.5, 69), (3.0, 62), (3.5, 64), (4.0, 62), (4.5, 66), (5.5, 69), (6.0, 74),
           (7.0, 78), (7.5, 76), (8.0, 73), (8.5, 69), (9.0, 67), (10.0, 71), (10.5, 66),
           (11.5, 69)]


def _jig() -> mido.MidiFile:
    [(header, body)] = split_abc(JIG)
    made = tune_midi(find_abc2midi(), header, body)
    assert isinstance(made, tuple), made
    assert made[1] == "6/8"
    return made[0]


def test_a_jig_gives_6_8_phrases_placed_bar_for_bar() -> None:
    phrases = file_phrases(_jig(), "abctunes", "tunes.abc.d/x1.mid")
    assert [p.start_bar for p in phrases] == [0, 4]
    first = phrases[0]
    assert (first.meter, first.bars, first.tonic, first.minor) == ("6/8", 4, 2, False)
    assert [(a, p) for a, _, p, _ in first.notes] == OPENING
    assert candidates(tuple(phrases), "6/8", Key(2, "major")) == phrases
    assert candidates(tuple(phrases), "3/4", Key(2, "major")) == []  # same bar, other meter
    bar = METER_BEATS["6/8"]
    notes, shift = place(first, Key(7, "major"), 8, 60, 84)  # G major, twice its length
    assert shift == 5
    assert [(n.start, n.pitch) for n in notes] == [
        (a + loop * 4 * bar, p + 5) for loop in (0, 1) for a, p in OPENING]
    assert all(n.start + n.length <= 8 * bar + 1e-9 for n in notes)
    short, _ = place(first, Key(7, "major"), 2, 60, 84)  # a 2-bar song: the pickup and bar 1
    assert [n.start for n in short] == [a for a, _ in OPENING if a < 2 * bar]
    assert short[-1].start + short[-1].length <= 2 * bar + 1e-9


def test_the_bank_leaves_out_copies_of_the_frozen_set(tmp_path: Path) -> None:
    runs = frozen_runs()
    frozen = next(t for t in load_tunes(TUNES_DIR) if t.meter == "6/8")
    copy = mido.MidiFile(frozen.path)
    for track in copy.tracks:  # a tone higher: a transposed copy is still a copy
        for message in track:
            if message.type in ("note_on", "note_off"):
                message.note += 2
    cut = file_phrases(copy, "planetblupi-music-midi", "copy.mid")
    assert cut and all(copies_frozen(p, runs) for p in cut)
    assert not any(copies_frozen(p, runs) for p in file_phrases(_jig(), "abctunes", "jig"))
    rows = []
    for name, midi in (("copy.mid", copy), ("jig.mid", _jig())):
        path = f"planetblupi-music-midi/{name}"
        (tmp_path / path).parent.mkdir(exist_ok=True)
        midi.save(tmp_path / path)
        rows.append(json.dumps({"package": "planetblupi-music-midi", "path": path}) + "\n")
    (tmp_path / "manifest.jsonl").write_text("".join(rows))
    bank = phrase_bank(tmp_path)
    assert {p.path for p in bank} == {"planetblupi-music-midi/jig.mid"}
    assert {p.meter for p in bank} == {"6/8"}

