"""The request reader: the wordings producers use, precedence, and refusals.

Wordings here are the issue's and the docs' examples, not lines of the frozen evaluation set
(evals/prompt_words.jsonl), which ``stemloom eval words`` scores."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bridge.keys import Key, parse_key
from bridge.words import WordsError, read_prompt, resolve_request
from bridge.words.numbers import digits_for_words


def _value(found):
    return None if found is None else found.value


@pytest.mark.parametrize(("prompt", "bpm"), [
    ("98bpm boom bap", 98), ("dark techno at 140", 140), ("around 85, lazy", 85),
    ("bpm 128 house", 128), ("tempo: 110", 110), ("a hundred and twenty beats per minute", 120),
    ("one-forty dubstep", None), ("one forty bpm", 140), ("~96 soul", 96), ("140ish", 140),
    ("♩ = 72 ballad", 72), ("Tempo around 75.", 75),
    ("90s hip hop, booming 808", None), ("TR-909 drums", None), ("24 bars of house", None),
    ("double-time feel trap", None), ("half-time dnb", None), ("1979 disco", None),
])
def test_tempo_wordings(prompt: str, bpm: float | None) -> None:
    assert _value(read_prompt(prompt).bpm) == bpm


@pytest.mark.parametrize(("prompt", "key"), [
    ("Dm lofi", "D minor"), ("G#m drill", "Ab minor"), ("E flat minor chamber piece", "Eb minor"),
    ("key: F", "F major"), ("in A, mellow", "A major"), ("F♯m pads", "F# minor"),
    ("A♭ major ballad", "Ab major"), ("D dorian groove", "D minor"), ("Cb major", "B major"),
    ("in a minor, 90 bpm", "A minor"), ("something in a minor key", None),
    ("with a minor feel", None), ("A-side energy", None), ("#lofi #Dm", "D minor"),
    ("Bbmaj7 chords", None), ("key of c sharp minor", "C# minor"),
])
def test_key_wordings(prompt: str, key: str | None) -> None:
    assert _value(read_prompt(prompt).key) == key


@pytest.mark.parametrize(("prompt", "meter"), [
    ("in 3 please", "3/4"), ("6/8 lilt", "6/8"), ("12/8 shuffle blues", "12/8"),
    ("a jazz waltz", "3/4"), ("in 7", "7/8"), ("a relaxed three-four", "3/4"),
    ("2-step garage", None), ("1/4 note delay", None), ("in 4 bars", None),
])
def test_meter_wordings(prompt: str, meter: str | None) -> None:
    assert _value(read_prompt(prompt).time_signature) == meter


def test_length_in_bars_or_time() -> None:
    assert _value(read_prompt("a 32-bar loop").bars) == 32
    assert _value(read_prompt("sixteen measures").bars) == 16
    assert _value(read_prompt("30 seconds of ambient").seconds) == 30
    assert _value(read_prompt("a 1:30 cue").seconds) == 90
    # 30 s at 120 BPM in 4/4 is 15 bars; in 3/4 it is 20.
    assert resolve_request("30 seconds at 120").bars == 15
    assert resolve_request("30 seconds at 120 in 3").bars == 20


@pytest.mark.parametrize(("prompt", "stems", "excluded"), [
    ("acid house, 126 bpm, Gm, squelchy 303 line, crisp hats", ("bass", "drums"), None),
    ("wurlitzer, clav and a moog bass", ("keys", "bass"), None),
    ("cello, mandolin and pan flute", ("strings", "guitar", "lead"), None),
    ("harmonica over steel drums and marimba", ("lead", "keys"), None),
    ("upright bass and string pads", ("bass", "strings"), None),
    ("a spooky bell lead", ("lead",), None), ("lead guitar and drums", ("lead", "drums"), None),
    ("piano melody with strings", ("keys", "strings"), None),
    ("drum and bass with pads", ("pads",), None),
    ("drumless house with rhodes", ("keys",), ("drums",)),
    ("no percussion whatsoever, warm pads", ("pads",), ("drums",)),
    ("leave out the bass, rhodes and drums", ("keys", "drums"), ("bass",)),
    ("without any guitar: organ and drums", ("keys", "drums"), ("guitar",)),
    ("piano alone", ("keys",), None), ("only strings", ("strings",), None),
    ("keep it to keys and voice", ("keys", "lead"), None),
    ("no drums or bass, just a marimbah", ("keys",), ("drums", "bass")),
])
def test_stems_and_exclusions(prompt: str, stems: tuple, excluded: tuple | None) -> None:
    reading = read_prompt(prompt)
    assert _value(reading.stems) == stems
    assert _value(reading.excluded) == excluded


def test_genre_fills_what_the_words_leave_out() -> None:
    dnb = resolve_request("liquid dnb")
    assert (dnb.bpm, dnb.sources["bpm"], dnb.genre) == (174, "genre", "liquid-dnb")
    ambient = resolve_request("slow ambient")
    assert "drums" not in ambient.stems and ambient.sources["stems"] == "genre"
    assert resolve_request("string quartet in G").stems == ("strings",)
    assert resolve_request("house, no drums").stems == ("bass", "keys")
    plain = resolve_request("something nice")
    assert (plain.bpm, plain.bars, plain.time_signature, plain.key) == (120, 8, "4/4", "")
    assert plain.stems == ("drums", "bass", "keys", "lead")


def test_precedence_and_what_is_said() -> None:
    prompt = "techno, 132 bpm, in 3, 16 bars, Am"
    words = resolve_request(prompt)
    assert (words.bpm, words.time_signature, words.bars, words.key) == (132, "3/4", 16, "A minor")
    assert words.notes == ()
    session = resolve_request(prompt, session={"bpm": 120, "time_signature": "4/4"})
    assert (session.bpm, session.time_signature) == (120, "4/4")
    assert session.sources["bpm"] == "session"
    assert any("132 BPM" in note and "120 BPM" in note and "grid" in note
               for note in session.notes)
    flags = resolve_request(prompt, explicit={"bpm": 100, "key": "Cb major"},
                            session={"bpm": 120})
    assert (flags.bpm, flags.key, flags.sources["key"]) == (100, "B major", "explicit")
    preset = {"bpm": 84, "stems": ("drums", "bass")}
    added = resolve_request("add some rhodes", preset=preset)
    assert (added.bpm, added.sources["bpm"], added.stems) == (84, "preset",
                                                              ("drums", "bass", "keys"))
    assert resolve_request("rhodes alone", preset=preset).stems == ("keys",)


@pytest.mark.parametrize(("prompt", "says"), [
    ("no drums, heavy drums", "drums"), ("120 bpm, no wait, 140 bpm", "two tempi"),
    ("in H minor", "A to G"), ("600 bpm gabber", "between 20 and 300"),
    ("a 200 bar epic", "1 to 64"), ("Dm, actually Em", "two keys"),
    ("leave out the bass, big 808s", "bass"), ("ambient, no pads, no keys, no strings", "every"),
])
def test_bad_words_are_refused_with_the_words_at_fault(prompt: str, says: str) -> None:
    with pytest.raises(WordsError, match=says):
        resolve_request(prompt)


def test_number_words() -> None:
    assert digits_for_words("ninety-five bpm, sixteen bars") == "95 bpm, 16 bars"
    assert digits_for_words("one drop reggae, one bar") == "one drop reggae, 1 bar"
    assert digits_for_words("one twenty") == "120"


def test_one_key_parser() -> None:
    assert parse_key("Cb major") == Key(11, "major")
    assert parse_key("E flat minor") == parse_key("E♭m") == parse_key("D#min") == Key(3, "minor")
    assert parse_key("G mixolydian").mode == "major"
    assert Key(9, "minor").relative == Key(0, "major")
    with pytest.raises(ValueError, match='like "A minor"'):
        parse_key("H dorian")


def test_reader_does_not_import_heavy_modules() -> None:
    code = ("import sys, bridge.words; bridge.words.resolve_request('dnb 174 in Fm');"
            "print(','.join(m for m in ('torch', 'numpy', 'engine', 'plugin_host') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == ""
