"""Captions say what the metadata says, in many different ways."""

from __future__ import annotations

import re

import numpy as np

from engine.corpus.captions import TEMPO_WORDS, captions, describe, stem_captions
from engine.corpus.composer import compose, sample_spec
from engine.corpus.example import song_metadata
from engine.corpus.genres import GENRES
from engine.corpus.theory import MODES

BPM = re.compile(r"(\d+)\s*(?:bpm|beats per minute)", re.IGNORECASE)
KEY = re.compile(r"\b([A-G][#b]?) (" + "|".join(sorted(MODES, key=len, reverse=True)) + r")\b")
TEMPO = re.compile(r"\b(" + "|".join(sorted(TEMPO_WORDS, key=len, reverse=True)) + r")\b",
                   re.IGNORECASE)


def _meta(seed: int) -> dict:
    meta = song_metadata(compose(sample_spec(seed)))
    meta.update(describe(meta, np.random.default_rng(seed)))
    return meta


def test_numbers_keys_tempo_words_and_genres_agree_with_the_metadata() -> None:
    for seed in range(150):
        meta = _meta(seed)
        texts = captions(meta, np.random.default_rng(seed), count=8)
        texts += [c for s in meta["stems"] for c in stem_captions(meta, s,
                                                                  np.random.default_rng(seed))]
        for text in texts:
            for number in BPM.findall(text):
                assert int(number) == meta["bpm"], text
            for tonic, mode in KEY.findall(text):
                assert f"{tonic} {mode}" == meta["key_name"], text
            for word in TEMPO.findall(text):
                low, high = TEMPO_WORDS[word.lower()]
                assert low <= meta["bpm"] <= high, (word, meta["bpm"], text)
        sentence = texts[0].lower()
        assert any(w.lower() in sentence for w in GENRES[meta["genre"]].words), sentence


def test_instruments_named_are_the_ones_playing() -> None:
    all_names = {s["instrument_name"] for seed in range(300) for s in _meta(seed)["stems"]}
    for seed in range(60):
        meta = _meta(seed)
        playing = {s["instrument_name"] for s in meta["stems"]}
        for text in captions(meta, np.random.default_rng(seed), count=8):
            named = {n for n in all_names if n in text}
            # a longer playing name may contain a shorter one ('jazz guitar' in 'hollow-body...')
            assert all(any(n in p for p in playing) for n in named), (named, playing, text)


def test_well_over_300_distinct_phrasings() -> None:
    meta = _meta(11)
    rng = np.random.default_rng(0)
    texts = {t for _ in range(400) for t in captions(meta, rng, count=5)}
    assert len(texts) > 1000
    kinds = {"tags": 0, "sentence": 0}
    for t in texts:
        kinds["tags" if t.count(",") + t.count("|") + t.count(";") >= 4 and "." not in t
              else "sentence"] += 1
    assert min(kinds.values()) > 300


def test_every_stem_gets_captions_naming_its_instrument() -> None:
    meta = _meta(5)
    for stem in meta["stems"]:
        lines = stem_captions(meta, stem, np.random.default_rng(1), count=3)
        assert len(set(lines)) == 3
        assert all(stem["instrument_name"] in line for line in lines)
