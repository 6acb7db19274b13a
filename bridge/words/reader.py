"""Read a producer's prompt into the request's fields: tempo, key, meter, length, stems,
exclusions and genre, each with the words it was read from (``docs/prompt-words.md``).

Each field has its own small reader over the prompt; what one reader has used is blanked out
before the next looks, so "808" read as a bass is not also read as a tempo, and "drum and
bass" read as a genre is not also drums and bass.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bridge import limits
from bridge.keys import ACCIDENTAL_PATTERN, MODE_PATTERN, Key, UnknownKey, parse_key
from bridge.words.genres import Genre, find_genres, genres
from bridge.words.lexicon import (
    FUZZY_CUTOFF,
    FUZZY_MIN_LETTERS,
    LEAD_WORDS,
    NOT_INSTRUMENTS,
    NOT_TYPOS,
    ROLE_WORDS,
    STEM_WORDS,
)
from bridge.words.numbers import UNITS, digits_for_words

T = TypeVar("T")


class WordsError(ValueError):
    """The words ask for something impossible or contradict themselves."""


@dataclass(frozen=True)
class Found(Generic[T]):
    """A value read from the prompt and the words it was read from."""

    value: T
    words: str


@dataclass(frozen=True)
class Reading:
    """Everything the words of a prompt say about the request (None: they say nothing)."""

    bpm: Found[float] | None = None
    key: Found[str] | None = None
    time_signature: Found[str] | None = None
    bars: Found[int] | None = None
    seconds: Found[float] | None = None
    stems: Found[tuple[str, ...]] | None = None  # exactly the stems named
    excluded: Found[tuple[str, ...]] | None = None  # stems the words leave out
    genre: Found[Genre] | None = None
    feel: tuple[str, ...] = field(default=())  # "double-time", "half-time": not tempi
    only: bool = False  # the words restrict the stems to those named ("piano alone")


class _Text:
    """The prompt being read: its words (numbers as digits) and what is already used."""

    def __init__(self, prompt: str) -> None:
        text = unicodedata.normalize("NFC", prompt).replace("\u2019", "'").replace("\u2013", "-")
        self.cased = digits_for_words(text)
        # str.lower can change lengths (e.g. "İ"); read those few characters as they are.
        lower = self.cased.lower()
        self.lower = lower if len(lower) == len(self.cased) else "".join(
            c.lower() if len(c.lower()) == 1 else c for c in self.cased)

    def find(self, pattern: re.Pattern[str], cased: bool = False) -> list[re.Match[str]]:
        """Matches of ``pattern`` in the unused text (lower case unless ``cased``)."""
        return list(pattern.finditer(self.cased if cased else self.lower))

    def use(self, match: re.Match[str]) -> str:
        """Blank out ``match`` so no later reader sees it; return its words as written."""
        start, end = match.span()
        words = self.cased[start:end].strip()
        self.cased = self.cased[:start] + " " * (end - start) + self.cased[end:]
        self.lower = self.lower[:start] + " " * (end - start) + self.lower[end:]
        return words


def read_prompt(prompt: str) -> Reading:
    """What the words of ``prompt`` say about the request. Raises WordsError, whose message
    quotes the words at fault, for two tempi, two keys, an unknown key, a tempo or length out
    of range, or a stem both asked for and excluded."""
    text = _Text(prompt)
    feel = _feel(text)
    bpm = _tempo(text)
    time_signature = _meter(text)
    bars, seconds = _length(text)
    key = _key(text)
    genre = _genre(text)
    only = bool(text.find(_ONLY))
    stems, excluded = _stems(text)
    return Reading(bpm=bpm, key=key, time_signature=time_signature, bars=bars, seconds=seconds,
                   stems=stems, excluded=excluded, genre=genre, feel=feel, only=only)


def _one(found: list[Found[T]], what: str) -> Found[T] | None:
    """The one value the words give for a field; WordsError if they give two."""
    values = {f.value: f for f in found}
    if len(values) > 1:
        first, second = list(values.values())[:2]
        raise WordsError(f"the prompt gives two {what}: {first.words!r} and {second.words!r}; "
                         "keep one")
    return found[0] if found else None


# ----------------------------------------------------------------------------------- feel

_FEEL = re.compile(r"\b(double|half)[\s-]?time\b(?:\s+feel)?")


def _feel(text: _Text) -> tuple[str, ...]:
    """Groove properties that sound like tempi but are not ("double-time feel")."""
    return tuple(f"{m.group(1)}-time" for m in text.find(_FEEL) if text.use(m))


# ---------------------------------------------------------------------------------- tempo

_NUMBER = r"(\d{1,3}(?:\.\d+)?)"
_UNIT = r"(?:bpm|b\.p\.m\.?|beats?\s+(?:per|a|/)\s*min(?:ute)?|bmp)\b"
_RANGE = re.compile(rf"{_NUMBER}\s*(?:-|to)\s*{_NUMBER}\s*{_UNIT}")
_WITH_UNIT = re.compile(rf"{_NUMBER}\s*-?\s*{_UNIT}")
_HEDGE = r"(?:around|about|roughly|approx\.?|approximately|circa|ca\.?|near|~|@|at|of|is|=)"
_TEMPO_WORD = re.compile(
    rf"\b(?:bpm|tempo|speed)\b\s*[:=\-]?\s*(?:(?:should\s+be|is|of|at|set\s+to)\s+)?"
    rf"(?:{_HEDGE}\s*)?{_NUMBER}(?!\d|\.\d)")
# "at 140", "around 85", "~85", "@140": a tempo only where nothing else follows the number.
_NOT_A_TEMPO_AFTER = (r"(?!\s*(?:%|bars?\b|measures?\b|sec|second|min|ms\b|hz\b|khz\b|k\b|db\b|"
                      r"years?\b|s\b|'s\b|th\b|st\b|nd\b|rd\b|x\b|am\b|pm\b|percent|times\b|"
                      r"people|voices?\b|cents?\b|dollars?|notes?\b|steps?\b|/))")
_HEDGED = re.compile(rf"(?:\b(?:at|around|about|roughly|approx\.?|approximately|near|circa)\s+|"
                     rf"[~@]\s*)(\d{{2,3}})(?!\d|\.\d){_NOT_A_TEMPO_AFTER}")
_ISH = re.compile(r"\b(\d{2,3})\s*-?\s*ish\b")
_NOTE_EQUALS = re.compile(r"(?:♩|\bq)\s*=\s*(\d{2,3})\b")
_PLAUSIBLE_BARE = (40.0, 250.0)  # a hedged number outside this is not a tempo ("at 300 Hz")


def _tempo(text: _Text) -> Found[float] | None:
    found: list[Found[float]] = []
    for match in text.find(_RANGE):
        low, high = float(match.group(1)), float(match.group(2))
        found.append(Found(round((low + high) / 2, 2), text.use(match)))
    for pattern in (_WITH_UNIT, _TEMPO_WORD, _NOTE_EQUALS):
        for match in text.find(pattern):
            found.append(Found(float(match.group(1)), text.use(match)))
    for pattern in (_HEDGED, _ISH):
        for match in text.find(pattern):
            if _PLAUSIBLE_BARE[0] <= float(match.group(1)) <= _PLAUSIBLE_BARE[1]:
                found.append(Found(float(match.group(1)), text.use(match)))
    tempo = _one(found, "tempi")
    if tempo is not None and not limits.MIN_BPM <= tempo.value <= limits.MAX_BPM:
        raise WordsError(f"{tempo.words!r}: the tempo must be between {limits.MIN_BPM:g} and "
                         f"{limits.MAX_BPM:g} BPM")
    return tempo


# ---------------------------------------------------------------------------------- meter

_FRACTION = re.compile(r"(?<![\d/.])([2-9]|1[0-6])\s*/\s*(2|4|8|16)(?![\d/])"
                       r"(?!\s*(?:notes?|th\b|hats|triplets?|delay|grid|swing))")
# "3 4 time", "a relaxed three-four" (a pair of number words stays in words).
_SPOKEN_FRACTION = re.compile(
    r"\b(2|3|4|5|6|7|9|12|two|three|four|five|six|seven|nine|twelve)(?:[\s-](4|8|four|eight)"
    r"\s+time\b|-(4|8|four|eight)\b(?![\s-]*(?:bars?|measures?|minutes?|mins?|seconds?|"
    r"beats?|times?|hours?|days?|people|\d)))")
_IN_N = re.compile(
    r"\bin\s+(2|3|4|5|6|7|9|12)\b(?![\s-]*(?:/|bars?\b|measures?\b|beats?\b|seconds?\b|"
    r"secs?\b|minutes?\b|mins?\b|hours?\b|days?\b|weeks?\b|keys?\b|parts?\b|part\b|steps?\b|"
    r"octaves?\b|voices?\b|layers?\b|stems?\b|tracks?\b|ways?\b|%|x\b|\d|sections?\b|"
    r"movements?\b|takes?\b|versions?\b|variations?\b))")
_IN_N_METER = {"2": "2/4", "3": "3/4", "4": "4/4", "5": "5/4", "6": "6/8", "7": "7/8",
               "9": "9/8", "12": "12/8"}
_NAMED_METER = re.compile(r"\b(waltz(?:es)?|triple\s+(?:time|meter|metre)|common\s+time)\b")


def _meter(text: _Text) -> Found[str] | None:
    found = [Found(f"{_digits(m.group(1))}/{_digits(m.group(2) or m.group(3))}", text.use(m))
             for pattern in (_FRACTION, _SPOKEN_FRACTION) for m in text.find(pattern)]
    found += [Found(_IN_N_METER[m.group(1)], text.use(m)) for m in text.find(_IN_N)]
    meter = _one(found, "meters")
    # "waltz" says 3/4 unless a meter is written out ("a jazz waltz in 6/8"); it stays in
    # the text, since it also names a genre.
    named = text.find(_NAMED_METER)
    if meter is None and named:
        words = named[0].group(0)
        return Found("4/4" if words.startswith("common") else "3/4", words)
    return meter


def _digits(number: str) -> str:
    return number if number.isdigit() else str(UNITS[number])


# --------------------------------------------------------------------------------- length

_BARS = re.compile(r"(?<![\d.])(\d{1,4})\s*-?\s*(?:bars?|measures?)\b")
_MIN_SEC = re.compile(r"(?<![\d.])(\d{1,2})\s*(?:minutes?|mins?|m)\s*(?:and\s+)?(\d{1,2})\s*"
                      r"(?:seconds?|secs?|s)\b")
_SECONDS = re.compile(r"(?<![\d.])(\d{1,4}(?:\.\d+)?)\s*-?\s*(?:seconds?|secs?\b|sec\b|"
                      r"s\b(?=\s*(?:long|loop|clip|of|piece|track|cue)\b))")
_MINUTES = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d+)?)\s*-?\s*(?:minutes?|mins?)\b")
_A_MINUTE = re.compile(r"\b(half\s+)?an?\s+minute\b")
_CLOCK = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d)(?![\d:])(?!\s*(?:am|pm)\b)")


def _length(text: _Text) -> tuple[Found[int] | None, Found[float] | None]:
    """Bars, and a length in seconds (made bars at the tempo when the request is resolved)."""
    bars = _one([Found(int(m.group(1)), text.use(m)) for m in text.find(_BARS)], "lengths")
    if bars is not None and not limits.MIN_BARS <= bars.value <= limits.MAX_BARS:
        raise WordsError(f"{bars.words!r}: a clip is {limits.MIN_BARS} to {limits.MAX_BARS} "
                         "bars long")
    found = [Found(60.0 * int(m.group(1)) + int(m.group(2)), text.use(m))
             for pattern in (_MIN_SEC, _CLOCK) for m in text.find(pattern)]
    found += [Found(float(m.group(1)), text.use(m)) for m in text.find(_SECONDS)]
    found += [Found(60.0 * float(m.group(1)), text.use(m)) for m in text.find(_MINUTES)]
    found += [Found(30.0 if m.group(1) else 60.0, text.use(m)) for m in text.find(_A_MINUTE)]
    seconds = _one(found, "lengths")
    if seconds is not None and seconds.value <= 0:
        raise WordsError(f"{seconds.words!r}: a clip must have a length")
    return bars, seconds


# ------------------------------------------------------------------------------------ key

_LETTER = r"([a-gA-G])"
_ACC = rf"({ACCIDENTAL_PATTERN})"
_MODE = rf"(?:\s*({MODE_PATTERN})\b)?"
_FULL_MODE = (r"(?:\s*(major|minor|maj|min|ionian|dorian|phrygian|lydian|mixolydian|aeolian|"
              r"locrian|harmonic\s+minor|melodic\s+minor|natural\s+minor)\b)")
_KEY_OF = re.compile(rf"\bkey\b\s*(?:of|:|=|is|in|-)?\s*(?:of\s+)?{_LETTER}{_ACC}{_MODE}"
                     r"(?![\w#♯♭'-])", re.IGNORECASE)
_IN_KEY = re.compile(rf"\bin\s+{_LETTER}{_ACC}{_MODE}(?![\w#♯♭'&-])")
_NAMED_KEY = re.compile(rf"(?<![\w#♯♭'-]){_LETTER}{_ACC}{_FULL_MODE}", re.IGNORECASE)
_SHORT_KEY = re.compile(r"(?<![\w'-])([A-G])([#♯♭b]?)(m|min|maj|M)(?![\w#♯♭'-])")
_SHARP_FLAT = re.compile(r"(?<![\w'-])([A-G])([#♯♭b])(?![\w#♯♭'-])")
_NOT_A_KEY = re.compile(r"\bkey\b\s*(?:of|:|=|is)?\s*(?:of\s+)?([h-zH-Z])(?![\w'-])|"
                        rf"(?<![\w'-])([h-zH-Z])\s*[#♯♭]?\s*{_FULL_MODE}(?!\s+(?:key|feel))")
# After "a minor" in lower case, only these let it be the key A minor ("in a minor, 90 bpm");
# a noun makes "a" an article ("in a minor key", "with a minor feel").
_AFTER_A_KEY = re.compile(r"^\s*(?:$|[,.;:!?)(\]/|#@~-]|\d|(?:at|with|and|for|in|on|please|"
                          r"pls|plz|bpm|tempo|around|about|feat|featuring|using|but|then|"
                          r"over|under|so|yeah|thanks|thx)\b)")


def _key(text: _Text) -> Found[str] | None:
    """The key the words name; WordsError for a key that names no key ("H minor")."""
    for match in text.find(_NOT_A_KEY, cased=True):
        letter = match.group(1) or match.group(2)
        if letter.lower() != "a" and not (match.group(2) and letter.islower() and
                                          letter in "imsuy"):
            raise WordsError(f"{text.use(match)!r}: keys are named A to G (e.g. \"B minor\")")
    found: list[Found[str]] = []
    for pattern in (_KEY_OF, _NAMED_KEY, _IN_KEY, _SHORT_KEY, _SHARP_FLAT):
        for match in text.find(pattern, cased=True):
            key = _key_of(match, pattern, text.cased[match.end():])
            if key is not None:
                found.append(Found(key.name, text.use(match)))
    return _one(found, "keys")


def _key_of(match: re.Match[str], pattern: re.Pattern[str], after: str) -> Key | None:
    letter, accidental = match.group(1), match.group(2) or ""
    mode = match.group(3) if match.lastindex and match.lastindex >= 3 else None
    if pattern is _IN_KEY and letter.islower() and not (accidental or mode):
        return None  # "in a", "in e": a lower-case letter alone is a word
    if letter == "a" and pattern is not _KEY_OF and not _AFTER_A_KEY.match(after):
        return None  # "in a minor key": an article
    if pattern is _SHORT_KEY and mode == "M":
        mode = "major"
    try:
        return parse_key(f"{letter}{accidental} {mode or ''}")
    except UnknownKey:
        return None


# ---------------------------------------------------------------------------------- genre


def _genre(text: _Text) -> Found[Genre] | None:
    """The genre named with the longest words (the first on a tie). Its words stay for the
    stems ("piano ballad" names a piano); genre names that name no instrument ("drum and
    bass") are set aside there."""
    named = find_genres(text.lower)
    if not named:
        return None
    genre, match = max(named, key=lambda item: len(item[1].group(0)))
    return Found(genre, text.cased[match.start():match.end()])


# ---------------------------------------------------------------------------------- stems

_GENERIC = {"drums": {"drums", "drum", "percussion", "beat", "beats", "kit", "drum kit",
                      "percs", "perc"},
            "bass": {"bass", "bassline", "bass line", "basses", "low end"},
            "keys": {"keys", "keyboard", "keyboards"}, "guitar": {"guitar", "guitars"},
            "strings": {"strings"}, "pads": {"pad", "pads", "synths"},
            "lead": {"lead", "leads", "melody", "melodies"}}
_NEGATOR = re.compile(
    r"(?:\bno|\bwithout|\bw/o|\bminus|\bsans|\bnot|\bnor|\bzero|\bskip|\blose|\bomit|"
    r"\bexclude|\bditch|\bcut|\bkill|\bremove|\bforget|\bnix|\bavoid|\bleave\s+out|"
    r"\bnothing|\bdrop\s+(?:the|all|any)|"
    r"\bleave\s+off|\btake\s+out|\bfree\s+of|\bhold\s+the|\blay\s+off|\bno\s+need\s+for|"
    r"\bnothing\s+in\s+the\s+way\s+of|\b(?:don'?t|do\s+not|doesn'?t|dont)\s+"
    r"(?:want|need|use|add|include|put)|\bnon|\bex)"
    r"(?:\s+(?:any|the|real|live|heavy|loud|actual|obvious|more|kind\s+of|sort\s+of|of|"
    r"busy|big|fat|thumping|additional|extra|other|traditional|acoustic|electric|electronic|"
    r"prominent|at\s+all|whatsoever|even|a\s+single|single|type\s+of|"
    r"(?:(?:kind|sort|type)s?\s+of)))*\s*[-:]?\s*$")
# "no drums or bass" leaves out both; a comma alone does not ("no drums, bass and keys").
_LIST_JOIN = re.compile(r"^\s*(?:/|&|,?\s*\bor\b|,?\s*\bnor\b|\band\b|,\s*and\s+no\b)"
                        r"\s*(?:any\s+|the\s+)?$")
_OUT_BEFORE = re.compile(r"\b(?:leave|keep|take|cut|drop|get|pull|mute|strip|knock)\s+"
                         r"(?:the\s+|any\s+|all\s+|those\s+)?$")
_OUT_AFTER = re.compile(r"^\s*(?:out|off)\b")
_AFTER_NEGATION = re.compile(
    r"^\s*(?:(?:(?:is|are)\s+not|isn'?t|aren'?t|not)\s+(?:needed|wanted|necessary|required|"
    r"allowed)\b|(?:should|must|can|will)\s+(?:be\s+)?(?:sit\s+out|absent|silent|muted|"
    r"excluded|left\s+out))")
_LESS = re.compile(r"\b(drums?|beats?|bass|percussion|perc|guitars?|vocals?|keys?|strings?|"
                   r"pads?|lead)(?:-?less|-free)\b")
_LESS_STEM = {"drum": "drums", "beat": "drums", "percussion": "drums", "perc": "drums",
              "bass": "bass", "guitar": "guitar", "vocal": "lead", "key": "keys",
              "string": "strings", "pad": "pads", "lead": "lead"}
_LESS_STEM.update({f"{word}s": stem for word, stem in list(_LESS_STEM.items())})
_ONLY = re.compile(r"\b(?:only|just|alone|solo|nothing\s+but|nothing\s+else|by\s+itself|"
                   r"on\s+(?:its|their)\s+own|purely|exclusively|keep\s+it\s+to|"
                   r"unaccompanied|a[\s-]?capp?ella)\b")
_ONLY_LEAD = re.compile(r"\ba[\s-]?capp?ella\b")
_ADJACENT = re.compile(r"^[\s-]*$")


@dataclass
class _Mention:
    stem: str
    words: str
    start: int
    end: int
    excluded: bool = False


@functools.cache
def _not_instruments() -> re.Pattern[str]:
    alternatives = "|".join(map(re.escape, sorted(NOT_INSTRUMENTS, key=len, reverse=True)))
    return re.compile(rf"(?<![\w'-])(?:{alternatives})(?![\w'-])")


@functools.cache
def _stem_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    by_words = {words: stem for stem, all_words in STEM_WORDS.items() for words in all_words}
    alternatives = "|".join(map(re.escape, sorted(by_words, key=len, reverse=True)))
    return re.compile(rf"(?<![\w'-])(?:{alternatives})(?![\w'-])"), by_words


def _stems(text: _Text) -> tuple[Found[tuple[str, ...]] | None, Found[tuple[str, ...]] | None]:
    """The stems named (exactly those, in order) and the stems excluded."""
    for match in text.find(_not_instruments()):
        text.use(match)
    lower = text.lower
    exclusions = [(_LESS_STEM[m.group(1)], text.use(m)) for m in text.find(_LESS)]
    only_lead = [text.use(m) for m in text.find(_ONLY_LEAD)]
    mentions = _mentions(text)
    for index, mention in enumerate(mentions):
        before, after = lower[:mention.start], lower[mention.end:]
        previous = mentions[index - 1] if index else None
        mention.excluded = bool(
            _NEGATOR.search(_clause_tail(before))
            or (previous is not None and previous.excluded
                and _LIST_JOIN.match(lower[previous.end:mention.start]))
            or (_OUT_BEFORE.search(before[-40:]) and _OUT_AFTER.match(after))
            or _AFTER_NEGATION.match(after))
    named = [m for m in mentions if not m.excluded]
    exclusions += [(m.stem, m.words) for m in mentions if m.excluded]
    excluded: dict[str, str] = {}
    for stem, words in exclusions:
        for mention in (m for m in named if m.stem == stem):
            if mention.words.lower() == words.lower() or _generic(stem, words):
                raise WordsError(f"the prompt both leaves out {stem} ({words!r}) and asks for "
                                 f"it ({mention.words!r}); keep one")
        # "no vocals, sax lead": the lead stays, played by what was asked for.
        if not any(m.stem == stem for m in named):
            excluded.setdefault(stem, words)
    stems = list(dict.fromkeys(m.stem for m in named))
    if only_lead and "lead" not in stems:
        stems.insert(0, "lead")
    found_stems = (Found(tuple(stems), ", ".join([*only_lead, *(m.words for m in named)]))
                   if stems else None)
    found_excluded = (Found(tuple(excluded), ", ".join(excluded.values())) if excluded
                      else None)
    return found_stems, found_excluded


def _generic(stem: str, words: str) -> bool:
    """Whether ``words`` name the whole stem ("drums", "drumless") rather than one of its
    instruments ("shaker")."""
    words = words.lower()
    return words in _GENERIC[stem] or bool(_LESS.fullmatch(words))


def _clause_tail(before: str) -> str:
    """The end of the clause before a mention: a negation does not reach across a full stop,
    a semicolon or "but"."""
    cut = max(before.rfind(mark) for mark in (".", ";", "!", "?", "\n", " but ", " with "))
    return before[cut + 1:] if cut >= 0 else before


def _mentions(text: _Text) -> list[_Mention]:
    """Instrument words in the unused text, with role words folded into their instrument
    ("piano melody" is keys) and "lead" into the lead ("bell lead" is the lead)."""
    pattern, by_words = _stem_pattern()
    mentions = [_Mention(by_words[m.group(0)], text.cased[m.start():m.end()], m.start(), m.end())
                for m in text.find(pattern)]
    mentions += _fuzzy_mentions(text, pattern, by_words)
    mentions.sort(key=lambda m: m.start)
    kept: list[_Mention] = []
    for mention in mentions:
        word = mention.words.lower()
        previous = kept[-1] if kept else None
        adjacent = previous is not None and _ADJACENT.match(text.lower[previous.end:mention.start])
        if adjacent and previous is not None:
            if word in LEAD_WORDS or previous.words.lower() in LEAD_WORDS:
                previous.stem, previous.words = "lead", f"{previous.words} {mention.words}"
                previous.end = mention.end
                continue
            if word in ROLE_WORDS:
                previous.words, previous.end = f"{previous.words} {mention.words}", mention.end
                continue
            if previous.words.lower() in ROLE_WORDS:
                kept[-1] = mention
                mention.words, mention.start = f"{previous.words} {mention.words}", previous.start
                continue
        kept.append(mention)
    return kept


def _fuzzy_mentions(text: _Text, pattern: re.Pattern[str],
                    by_words: dict[str, str]) -> list[_Mention]:
    """Misspelt instruments ("rhoads", "marimbah"): long words close to a one-word entry."""
    unused = pattern.sub(lambda m: " " * len(m.group(0)), text.lower)
    candidates = [w for w in by_words if " " not in w and len(w) >= FUZZY_MIN_LETTERS]
    genre_words = {word for genre in genres() for word in genre.words}
    found = []
    for match in re.finditer(r"[a-z]+", unused):
        word = match.group(0)
        if len(word) < FUZZY_MIN_LETTERS or word in genre_words or word in NOT_TYPOS:
            continue
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=FUZZY_CUTOFF)
        if close:
            found.append(_Mention(by_words[close[0]], match.group(0), *match.span()))
    return found
