"""REAPER's project chunk format (``.RPP``): read it into a tree, write values REAPER reads back.

An RPP file is text, one item per line. ``<NAME arg ...`` opens a chunk, a line holding only
``>`` closes it, and any other line is an attribute: a name and its arguments. Tokens are
separated by spaces; a token holding a space or a quote is wrapped in whichever of ``"``, ``'``
or a backtick it does not contain (REAPER's own rule). Lines inside a chunk that are not
tokenised this way (base64 plug-in state, MIDI event data) are kept as plain attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_QUOTES = ('"', "'", "`")


@dataclass
class Chunk:
    """One ``<NAME ...>`` block: its header tokens, attributes and child chunks, in order."""

    name: str
    args: list[str] = field(default_factory=list)
    lines: list[list[str]] = field(default_factory=list)
    children: list[Chunk] = field(default_factory=list)

    def attribute(self, name: str) -> list[str] | None:
        """The arguments of the first attribute called ``name``, or None if there is none."""
        for tokens in self.lines:
            if tokens and tokens[0] == name:
                return tokens[1:]
        return None

    def chunks(self, name: str) -> list[Chunk]:
        """The direct children called ``name``."""
        return [child for child in self.children if child.name == name]


def tokenize(line: str) -> list[str]:
    """Split one RPP line into tokens, honouring REAPER's three quote characters."""
    tokens: list[str] = []
    position, end = 0, len(line)
    while position < end:
        if line[position].isspace():
            position += 1
            continue
        quote = line[position]
        if quote in _QUOTES:
            close = line.find(quote, position + 1)
            close = end if close < 0 else close
            tokens.append(line[position + 1:close])
            position = close + 1
        else:
            stop = position
            while stop < end and not line[stop].isspace():
                stop += 1
            tokens.append(line[position:stop])
            position = stop
    return tokens


def parse(text: str) -> Chunk:
    """Parse a whole RPP document; raises ValueError unless it is one well-formed chunk."""
    stack: list[Chunk] = []
    root: Chunk | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if root is not None and not stack:
            raise ValueError(f"line {number}: text after the end of the project")
        if line.startswith("<"):
            tokens = tokenize(line[1:])
            if not tokens:
                raise ValueError(f"line {number}: a chunk without a name")
            chunk = Chunk(tokens[0], tokens[1:])
            if stack:
                stack[-1].children.append(chunk)
            else:
                root = chunk
            stack.append(chunk)
        elif line == ">":
            if not stack:
                raise ValueError(f"line {number}: '>' closes no chunk")
            stack.pop()
        elif not stack:
            raise ValueError(f"line {number}: text outside any chunk")
        else:
            stack[-1].lines.append(tokenize(line))
    if root is None or stack:
        raise ValueError("not a complete RPP chunk (missing '<' or '>')")
    return root


def quote(text: str) -> str:
    """``text`` as one RPP token: bare when it can be, else in a quote it does not contain.

    A string holding all three quote characters has its backticks turned into apostrophes,
    as REAPER does. Line breaks cannot be represented and become spaces.
    """
    text = text.replace("\r", " ").replace("\n", " ")
    if text and not any(c.isspace() or c in _QUOTES for c in text):
        return text
    for mark in _QUOTES:
        if mark not in text:
            return f"{mark}{text}{mark}"
    return f"`{text.replace('`', chr(39))}`"


def number(value: float) -> str:
    """A finite number the way RPP files carry it: plain decimal, no exponent."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = f"{value:.14f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
