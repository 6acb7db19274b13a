"""The generator masters each take as it finishes it, and a stem made again on the kept
plan gets the mastering its take's other stems got, fitted under the ceiling beside them (a
real tiny generator, end to end)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.generator.finish import TAKE_CURVES, TAKE_GAINS, finish_stems, kept_takes
from engine.generator.kept_mix import kept_peaks
from engine.generator.pipeline import load_default
from engine.request import GenerationRequest

REFERENCE = {"drums": {"lr_correlation": 0.9, "loudness_lufs": -21.0},
             "bass": {"lr_correlation": 1.0, "loudness_lufs": -23.0},
             # A loud mix target: the take needs its limiter, which the plan must keep.
             "mix": {"lr_correlation": 0.8, "loudness_lufs": -10.0}}


def test_a_regenerated_stem_gets_its_take_mastering(tiny_generator: Path) -> None:
    generator = load_default(tiny_generator)
    request = GenerationRequest(prompt="dub", bpm=120.0, bars=2, stems=("drums", "bass"))
    generator.stem_sound = None
    raw = generator.generate(request, 3, 4.0)
    generator.stem_sound = REFERENCE
    first = generator.generate(request, 3, 4.0)
    # The take is finished as finish_stems finishes it, and its mastering is kept.
    fresh = finish_stems(raw.stems, raw.sample_rate, REFERENCE)
    for name, audio in first.stems.items():
        np.testing.assert_allclose(audio, fresh.stems[name], atol=1e-5)
    assert first.plan[TAKE_GAINS].tolist() == [fresh.takes[1].gain_db]
    assert first.plan[TAKE_CURVES].min() < 0.9  # the take needed its limiter
    again = replace(request, stems=("bass",), keep_plan=first.plan)
    regenerated = generator.generate(again, 4, 4.0)
    generator.stem_sound = None
    decoded = generator.generate(again, 4, 4.0)
    expected = finish_stems(decoded.stems, decoded.sample_rate, REFERENCE,
                            kept_takes(first.plan), kept_peaks(first.plan)).stems["bass"]
    np.testing.assert_allclose(regenerated.stems["bass"], expected, atol=1e-5)
    # The new plan keeps the take's mastering for the next stem made again, and the peaks
    # of the take as it now is: the kept drums' and the new bass's.
    assert regenerated.plan[TAKE_GAINS].tolist() == first.plan[TAKE_GAINS].tolist()
    before, after = kept_peaks(first.plan), kept_peaks(regenerated.plan)
    assert set(before) == set(after) == {("drums", 1), ("bass", 1)}
    np.testing.assert_array_equal(after[("drums", 1)], before[("drums", 1)])
    assert not np.array_equal(after[("bass", 1)], before[("bass", 1)])
    # Made again on that plan, the same bass lands where it did: same gain, same limiter.
    generator.stem_sound = REFERENCE
    twice = generator.generate(replace(again, keep_plan=regenerated.plan), 4, 4.0)
    np.testing.assert_array_equal(twice.plan[TAKE_CURVES], first.plan[TAKE_CURVES])
    np.testing.assert_allclose(twice.stems["bass"], regenerated.stems["bass"], atol=1e-6)
