"""The composer's range: genres, keys, modes, meters, lengths, instruments, stems, monophony."""

from __future__ import annotations

from collections import Counter

from engine.corpus.composer import compose, sample_spec, to_midi
from engine.corpus.genres import GENRES
from engine.corpus.instruments import INSTRUMENTS
from engine.corpus.song import METER_BEATS

SPECS = [sample_spec(seed) for seed in range(1500)]


def test_covers_genres_keys_modes_meters_and_lengths() -> None:
    assert len(GENRES) >= 14
    assert {s.genre for s in SPECS} == set(GENRES)
    assert {s.key.tonic for s in SPECS if s.key.mode == "major"} == set(range(12))
    assert {s.key.tonic for s in SPECS if s.key.mode == "minor"} == set(range(12))
    assert {"dorian", "mixolydian", "phrygian", "lydian"} <= {s.key.mode for s in SPECS}
    meters = Counter(s.meter for s in SPECS)
    assert meters["4/4"] > meters["3/4"] > 0 and meters["6/8"] > 0
    assert {s.bars for s in SPECS} >= {1, 2, 4, 8, 16}
    assert all(1 <= s.bars <= 16 and s.seconds <= 60.0 for s in SPECS)


def test_tempo_follows_the_genre() -> None:
    for spec in SPECS:
        low, high = GENRES[spec.genre].tempo
        assert low <= spec.bpm <= high


def test_stems_and_instruments() -> None:
    programs = {(INSTRUMENTS[st.instrument].program, INSTRUMENTS[st.instrument].drum_kit)
                for s in SPECS for st in s.stems}
    melodic = {p for p, kit in programs if not kit}
    assert len(melodic) >= 40
    assert all(2 <= len(s.stems) <= 6 for s in SPECS)
    for spec in SPECS:
        families = [st.family for st in spec.stems]
        assert len(families) == len(set(families))
        for st in spec.stems:
            assert INSTRUMENTS[st.instrument].family == st.family


def test_compose_is_deterministic_and_fits_the_bars() -> None:
    for seed in range(40):
        spec = SPECS[seed]
        a, b = compose(spec), compose(spec)
        end = spec.bars * METER_BEATS[spec.meter]
        for pa, pb in zip(a.parts, b.parts, strict=True):
            assert [(n.start, n.pitch, n.velocity) for n in pa.notes] == \
                   [(n.start, n.pitch, n.velocity) for n in pb.notes]
            assert all(0 <= n.start < end and n.start + n.length <= end + 1e-9 for n in pa.notes)
            assert all(0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 for n in pa.notes)


def test_lead_is_monophonic_and_midi_has_a_track_per_stem() -> None:
    for seed in range(60):
        song = compose(SPECS[seed])
        lead = song.part("lead")
        if lead:
            assert all(a.start + a.length <= b.start + 1e-9
                       for a, b in zip(lead.notes, lead.notes[1:], strict=False))
        midi = to_midi(song)
        assert len(midi.tracks) == 1 + len(song.parts)
        assert abs(midi.length - song.spec.seconds) < 0.01


def test_swing_and_sections_show_up() -> None:
    swung = [s for s in SPECS if GENRES[s.genre].feel == "swing"]
    assert swung and all(s.swing > 0.5 for s in swung)
    sectioned = [compose(s) for s in SPECS[:200] if s.bars >= 8]
    two = [song for song in sectioned if len(song.sections) == 2]
    assert two and any(song.sections[1].energy > song.sections[0].energy for song in two)
