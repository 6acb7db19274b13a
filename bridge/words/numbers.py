"""Numbers written in words, as producers write them, turned into digits.

"ninety-five" -> 95, "a hundred and twenty" -> 120, "one twenty" -> 120 (the producer's way
of saying a tempo), "sixteen" -> 16. Only whole numbers; "one" stays a word unless a number
word or a unit follows it, so "one drop" and "one-shot" keep their meaning.
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
        "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER = "|".join(sorted([*UNITS, *TENS, "hundred"], key=len, reverse=True))
# A run of number words joined by spaces, hyphens or "and" ("a hundred and twenty",
# "one-forty"); a leading "a" only before "hundred".
_RUN = re.compile(rf"\b(?:a[\s-]+(?=hundred))?(?:{_NUMBER})"
                  rf"(?:(?:[\s-]+and[\s-]+|[\s-]+)(?:{_NUMBER}))*\b", re.IGNORECASE)
# After "one" alone, these make it a count ("one bar", "one minute").
_COUNTED = re.compile(r"^[\s-]*(bars?|measures?|minutes?|mins?)\b", re.IGNORECASE)


def spelled_number(words: list[str]) -> int | None:
    """The number a list of lower-case number words spells, or None if it spells none."""
    words = ["one" if w == "a" else w for w in words if w != "and"]
    if "hundred" in words:
        at = words.index("hundred")
        hundreds = _below_hundred(words[:at]) if at else 1
        rest = _below_hundred(words[at + 1:]) if words[at + 1:] else 0
        return None if hundreds is None or rest is None else hundreds * 100 + rest
    # "one twenty", "one forty five": a producer's hundred-and-something.
    if len(words) >= 2 and words[0] == "one" and words[1] in TENS:
        rest = _below_hundred(words[1:])
        return None if rest is None else 100 + rest
    return _below_hundred(words)


def _below_hundred(words: list[str]) -> int | None:
    if len(words) == 1:
        return UNITS.get(words[0], TENS.get(words[0]))
    if len(words) == 2 and words[0] in TENS and words[1] in UNITS and UNITS[words[1]] < 10:
        return TENS[words[0]] + UNITS[words[1]]
    return None


def digits_for_words(text: str) -> str:
    """``text`` with each run of number words that spells a number replaced by its digits
    (the same length of text is not kept: use the result for reading, not for positions)."""

    def replace(match: re.Match[str]) -> str:
        words = re.split(r"[\s-]+", match.group(0).lower())
        number = spelled_number(words)
        if number is None or (words == ["one"] and not _COUNTED.match(text[match.end():])):
            return match.group(0)
        return str(number)

    return _RUN.sub(replace, text)
