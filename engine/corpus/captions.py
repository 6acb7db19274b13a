"""Captions from an example's metadata: sentences, tag lists, partial prompts, per-stem lines.

Every caption states only what the metadata says (tempo numbers and words, key, genre,
instruments); the wording varies so a text encoder learns language, not one template.
"""

from __future__ import annotations

import re

import numpy as np

from engine.corpus.composer import MACHINE_GENRES
from engine.corpus.genres import GENRES

# Tempo words and the bpm range (inclusive) each may describe.
TEMPO_WORDS: dict[str, tuple[int, int]] = {
    "very slow": (0, 66), "slow": (0, 80), "laid-back": (60, 95), "unhurried": (0, 90),
    "mid-tempo": (88, 118), "steady": (90, 130), "upbeat": (110, 140), "brisk": (120, 150),
    "uptempo": (118, 160), "driving": (118, 180), "fast": (140, 999), "rapid": (155, 999),
    "breakneck": (170, 999),
}
ENERGY_WORDS = (
    (0.0, 0.35, ("calm", "gentle", "low-key", "subdued", "low-energy")),
    (0.3, 0.65, ("medium-energy", "balanced", "poised", "moderately energetic")),
    (0.6, 1.01, ("energetic", "high-energy", "intense", "powerful", "full-throttle")),
)
NOUNS = ("track", "beat", "groove", "instrumental", "piece", "tune", "cue", "jam", "song",
         "production", "idea", "sketch")
LOOP_NOUNS = ("loop", "bar loop", "phrase")
REQUESTS = ("", "", "", "make me ", "give me ", "I need ", "generate ", "create ", "write ",
            "produce ", "compose ", "I'm looking for ", "can you make ", "something like ")
STYLE_WORDS = {
    "root whole": "long sustained bass notes", "root eighths": "pumping eighth-note bass",
    "root sixteenths": "chugging sixteenth-note bass", "octave": "octave-jumping bass line",
    "offbeat": "offbeat bass stabs", "pedal": "rolling pedal-note bass",
    "syncopated": "syncopated slap-style bass line", "two feel": "bossa two-feel bass",
    "reggae": "melodic reggae bass line", "walking": "walking bass line",
    "follow kick": "bass locked to the kick", "808": "booming 808 bass", "sub": "deep sub bass",
    "lazy chords": "lazy rolled chords", "stabs": "short chord stabs", "chops": "funky chord chops",
    "skank": "offbeat skank chops", "jazz comp": "syncopated jazz comping",
    "bossa": "bossa nova comping pattern", "strum": "strummed chords",
    "power chug": "palm-muted power chords", "block": "block chords", "sustain": "held chords",
    "arpeggio": "arpeggiated chords", "ballad piano": "broken-chord ballad accompaniment",
    "ostinato": "insistent string ostinato", "lyrical": "lyrical melody", "riff": "short riff",
    "hook": "catchy hook", "sparse": "sparse melody", "bebop": "bebop-style line",
}
FILL_WORDS = {"toms": "groove with tom fills", "snare roll": "groove with snare-roll fills",
              "kick snare": "groove with kick-and-snare fills",
              "hat roll": "groove with hi-hat rolls", "sparse": "groove with sparse fills"}
METER_WORDS = {"3/4": ("in 3/4", "in waltz time", "3/4 time", "in three"),
               "6/8": ("in 6/8", "6/8 feel", "in compound six-eight", "rolling 6/8 time"),
               "4/4": ("in 4/4", "4/4 time", "in common time")}
FEEL_WORDS = {"swing": ("swung", "with a swing feel", "shuffled", "with a lazy swing"),
              "half-time": ("half-time feel", "in half-time", "with a half-time groove"),
              "straight": ("straight feel", "straight eighths", "played straight"),
              "quantized": ("tight and quantized", "on the grid", "machine-tight")}


def tempo_words(bpm: int) -> list[str]:
    """The tempo words that fit `bpm`."""
    return [w for w, (lo, hi) in TEMPO_WORDS.items() if lo <= bpm <= hi]


def energy_words(energy: float) -> tuple[str, ...]:
    """Words for an energy level in 0..1."""
    for lo, hi, words in ENERGY_WORDS:
        if lo <= energy < hi:
            return words
    return ENERGY_WORDS[-1][2]


def describe(meta: dict, rng: np.random.Generator) -> dict:
    """Pick the descriptive words of an example (moods, textures, production) from its genre,
    plus words its arrangement earns; stored in the metadata so captions and stats agree."""
    genre = GENRES[meta["genre"]]
    n_stems = len(meta["stems"])
    textures = list(genre.textures)
    if n_stems <= 2:
        textures += ["sparse", "minimal", "stripped-back"]
    elif n_stems >= 5:
        textures += ["full", "dense", "layered"]
    return {
        "mood": [str(m) for m in rng.choice(genre.moods, size=2, replace=False)],
        "texture": [str(rng.choice(textures))],
        "production": [str(p) for p in rng.choice(genre.production, size=2, replace=False)],
    }


def _pick(rng: np.random.Generator, options: tuple | list) -> str:
    return str(options[int(rng.integers(len(options)))])


def _join(items: list[str], rng: np.random.Generator) -> str:
    if len(items) == 1:
        return items[0]
    last = _pick(rng, (" and ", ", and ", " & ", " plus ") if len(items) > 2 else
                 (" and ", " & ", " plus "))
    return ", ".join(items[:-1]) + last + items[-1]


def _a(word: str) -> str:
    vowel_sound = word[:1].lower() in "aeiou8" or word.startswith(("11", "18"))  # 'an 80s'
    return ("an " if vowel_sound else "a ") + word


class _Words:
    """Slot fillers for one example, each drawn fresh on every call."""

    def __init__(self, meta: dict, rng: np.random.Generator) -> None:
        self.meta, self.rng = meta, rng
        self.genre = GENRES[meta["genre"]]

    def genre_name(self) -> str:
        return _pick(self.rng, self.genre.words)

    def bpm(self) -> str:
        bpm = self.meta["bpm"]
        forms = (f"{bpm} BPM", f"{bpm} bpm", f"{bpm}bpm", f"{bpm} beats per minute",
                 f"tempo {bpm} BPM", f"{bpm} BPM tempo")
        return _pick(self.rng, forms)

    def tempo(self) -> str:
        words = tempo_words(self.meta["bpm"])
        return _pick(self.rng, words) if words else self.bpm()

    def key(self) -> str:
        name = self.meta["key_name"]
        return _pick(self.rng, (f"in {name}", name, f"in the key of {name}", f"key of {name}",
                                f"{name} key", f"set in {name}"))

    def instruments(self, limit: int = 6) -> list[str]:
        names = [s["instrument_name"] for s in self.meta["stems"]]
        order = self.rng.permutation(len(names))[: max(1, limit)]
        return [names[i] for i in sorted(order)]

    def mood(self) -> str:
        return _pick(self.rng, self.meta["mood"])

    def energy(self) -> str:
        return _pick(self.rng, energy_words(self.meta["energy"]))

    def texture(self) -> str:
        return _pick(self.rng, self.meta["texture"])

    def production(self) -> str:
        return _pick(self.rng, self.meta["production"])

    def meter(self) -> str:
        return _pick(self.rng, METER_WORDS[self.meta["meter"]])

    def feel(self) -> str:
        feel = self.meta["feel"]
        if feel == "straight" and self.meta["genre"] in MACHINE_GENRES:
            feel = "quantized"  # only the machine genres are played without human timing
        return _pick(self.rng, FEEL_WORDS[feel])

    def length(self) -> str:
        bars = self.meta["bars"]
        noun = "bar" if bars == 1 else "bars"
        loop = f"{_a(f'{bars}-bar')} {_pick(self.rng, LOOP_NOUNS)}"
        return _pick(self.rng, (f"{bars} {noun}", loop, f"{bars} {noun} long",
                                f"lasting {bars} {noun}"))

    def noun(self) -> str:
        return _pick(self.rng, NOUNS)


def _sentence(w: _Words) -> str:
    """A full description: an opening noun phrase, then a shuffled run of clauses."""
    rng = w.rng
    adjectives = [w.mood(), w.energy(), w.texture(), w.tempo()]
    genre = w.genre_name()
    adjectives = [a for a in adjectives if a.lower() not in genre.lower()]  # no 'minimal minimal'
    count = min(len(adjectives), int(rng.integers(1, 3)))
    chosen = [adjectives[i] for i in sorted(rng.permutation(len(adjectives))[:count])]
    opener = _pick(rng, REQUESTS) + _a(" ".join([*chosen, genre, w.noun()]))
    instruments = _join(w.instruments(), rng)
    clauses = [
        _bpm_clause(w),
        w.key(),
        _pick(rng, ("with ", "featuring ", "built on ", "led by ", "using ")) + instruments,
        _pick(rng, ("with ", "plus ", "")) + w.production(),
        w.feel(),
        w.meter() if w.meta["meter"] != "4/4" or rng.random() < 0.2 else "",
        w.length() if rng.random() < 0.4 else "",
        _pick(rng, ("the mood is ", "feels ", "sounds ", "")) + w.mood(),
    ]
    keep = [c for c in clauses if c and rng.random() < 0.75]
    order = rng.permutation(len(keep))
    text = opener
    for i in order:
        text += _pick(rng, (", ", ", ", "; ", " — ", ". ")) + keep[i]
    text = re.sub(r"\. (\w)", lambda m: ". " + m.group(1).upper(), text)
    text = text[0].upper() + text[1:]
    return text + _pick(rng, ("", ".", ".", "!")) if not text.endswith(".") else text


def _bpm_clause(w: _Words) -> str:
    """The tempo as a clause: 'at 92 BPM', 'clocking 92 bpm', 'tempo 92 BPM', ..."""
    text = w.bpm()
    if text.startswith("tempo") or text.endswith("tempo"):
        return text
    return _pick(w.rng, ("at ", "clocking ", "moving at ", "")) + text


def _tags(w: _Words) -> str:
    """A comma-separated (or piped) tag list, some tags left out."""
    rng = w.rng
    tags = [w.genre_name(), w.bpm(), w.meta["key_name"], w.mood(), w.energy(), w.texture(),
            w.production(), *w.instruments(), w.tempo(), w.feel()]
    if w.meta["meter"] != "4/4":
        tags.append(w.meta["meter"])
    keep = [t for t in tags if rng.random() < 0.7] or tags[:2]
    keep = [keep[i] for i in rng.permutation(len(keep))]
    if rng.random() < 0.3:
        keep = [t.lower() for t in keep]
    return _pick(rng, (", ", ", ", " | ", "; ", " / ", " · ")).join(keep)


def _partial(w: _Words) -> str:
    """A short prompt naming just one to three things."""
    rng = w.rng
    anchors = [w.genre_name(), w.mood(), _join(w.instruments(limit=2), rng)]
    anchor = int(rng.integers(len(anchors)))
    extras = [w.bpm(), w.key(), w.tempo(), w.energy()]
    picked = rng.permutation(len(extras))[: int(rng.integers(0, 3))]
    chosen = [anchors[anchor]] + [extras[i] for i in sorted(picked)]
    forms = [
        lambda c: " ".join(c),
        lambda c: ", ".join(c),
        lambda c: _a(" ".join(c)) + " " + w.noun(),
        lambda c: " ".join(c) + " vibes",
    ]
    if anchor == 2:  # instruments read well after 'just' or 'with'
        forms += [lambda c: "just " + ", ".join(c), lambda c: "a groove with " + ", ".join(c)]
    else:
        forms += [lambda c: _pick(rng, REQUESTS) + "something " + " ".join(c)]
    return forms[int(rng.integers(len(forms)))](chosen)


def captions(meta: dict, rng: np.random.Generator, count: int = 5) -> list[str]:
    """`count` captions for an example: at least one sentence, one tag list, one partial."""
    w = _Words(meta, rng)
    makers = [_sentence, _tags, _partial]
    makers += [makers[int(rng.integers(3))] for _ in range(max(0, count - 3))]
    return [" ".join(make(w).split()) for make in makers[:count]]


def stem_captions(meta: dict, stem: dict, rng: np.random.Generator, count: int = 2) -> list[str]:
    """Captions for one stem: its instrument, role and style within the song."""
    w = _Words(meta, rng)
    words = FILL_WORDS if stem["family"] == "drums" else STYLE_WORDS
    style = words.get(stem["style"], stem["style"])
    inst = stem["instrument_name"]
    role = {"drums": "drum pattern", "bass": "bass part", "keys": "keys part",
            "guitar": "guitar part", "strings": "string part", "pad": "pad", "lead": "lead"}
    if role[stem["family"]].split()[0].rstrip("s") in inst:  # 'bass bass part' reads badly
        role = dict.fromkeys(role, "part")
    forms = (
        lambda: f"{inst} {role[stem['family']]} for {_a(w.genre_name())} {w.noun()}, {w.bpm()}",
        lambda: f"{style} on {inst}, {w.key()}, {w.bpm()}",
        lambda: f"{w.genre_name()} {stem['family']}: {inst}, {style}",
        lambda: f"isolated {stem['family']} stem — {inst} — {w.mood()} {w.genre_name()}",
        lambda: f"{_a(w.tempo())} {inst} {role[stem['family']]} {w.key()}",
        lambda: f"{inst}, {style}, {w.genre_name()}, {w.bpm()}",
    )
    picks = rng.permutation(len(forms))[:count]
    return [" ".join(forms[i]().split()) for i in picks]
