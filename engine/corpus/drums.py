"""Drum grooves as step patterns, and the fills that end phrases.

A pattern is one bar on a 16th-note grid ('.' rest, 'o' ghost, 'x' hit, 'X' accent):
16 steps in 4/4, 12 in 3/4 and 6/8 (where a dotted-quarter pulse falls on steps 0 and 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# GM percussion keys (channel 10).
DRUM_KEYS: dict[str, int] = {
    "kick": 36,
    "kick2": 35,
    "rim": 37,
    "snare": 38,
    "clap": 39,
    "snare2": 40,
    "tom_floor": 41,
    "hat": 42,
    "tom_low": 43,
    "pedal": 44,
    "tom_mid": 47,
    "open": 46,
    "tom_high": 50,
    "crash": 49,
    "ride": 51,
    "bell": 53,
    "tamb": 54,
    "cowbell": 56,
    "conga_hi": 63,
    "conga_lo": 64,
    "cabasa": 69,
    "shaker": 70,
    "claves": 75,
}

HIT_LEVEL = {"o": 0.42, "x": 0.78, "X": 1.0}


@dataclass(frozen=True)
class Groove:
    """One bar of drums for a meter; `busy` grooves replace the main one in louder sections."""

    meter: str
    parts: dict[str, str]


def _g(meter: str, **parts: str) -> Groove:
    steps = 16 if meter == "4/4" else 12
    for name, pattern in parts.items():
        if len(pattern) != steps or name not in DRUM_KEYS:
            raise ValueError(f"bad {meter} pattern for {name}: {pattern!r}")
    return Groove(meter, parts)


GROOVES: dict[str, Groove] = {
    "boom bap": _g("4/4", kick="X.....x...x.....", snare="....X.......X...",
                   hat="x.x.x.x.x.x.x.xo"),
    "boom bap b": _g("4/4", kick="X..x......X..x..", snare="....X.......X...",
                     hat="x.x.x.x.x.x.x.x.", open="..............x."),
    "lofi": _g("4/4", kick="X......x..X.....", snare="....X.......X..o",
               hat="x.xox.x.x.xox.x."),
    "lofi rim": _g("4/4", kick="X.......x.x.....", rim="....x.......x...",
                   hat="x.x.x.x.x.x.x.x.", shaker="..o...o...o...o."),
    "trap": _g("4/4", kick="X......x..x.....", snare="........X.......",
               hat="xoxoxoxoxxxoxoxo"),
    "trap b": _g("4/4", kick="X..x......X..x..", clap="........X.......",
                 hat="x.x.xxx.x.x.xxxx", open="...........x...."),
    "four on the floor": _g("4/4", kick="X...X...X...X...", clap="....X.......X...",
                            hat="..x...x...x...x."),
    "house shuffle": _g("4/4", kick="X...X...X...X...", clap="....X.......X...",
                        hat="o.x.o.x.o.x.o.x.", open="..x...x...x...x.", shaker="oxoxoxoxoxoxoxox"),
    "techno": _g("4/4", kick="X...X...X...X...", hat="..x...x...x...x.",
                 ride="x.x.x.x.x.x.x.x.", clap="............x..."),
    "techno b": _g("4/4", kick="X...X...X...X...", open="..X...X...X...X.",
                   hat="xxoxxxoxxxoxxxox", rim="......x.......x."),
    "two step": _g("4/4", kick="X.........X.....", snare="....X.......X...",
                   hat="x.x.x.x.x.x.x.x."),
    "amen": _g("4/4", kick="X.X.......XX....", snare="....X..o.o..X..o",
               ride="x.x.x.x.x.x.x.x."),
    "synthwave": _g("4/4", kick="X.......X.......", snare="....X.......X...",
                    hat="x.x.x.x.x.x.x.x."),
    "synthwave drive": _g("4/4", kick="X...X...X...X...", snare="....X.......X...",
                          hat="xxxxxxxxxxxxxxxx"),
    "funk": _g("4/4", kick="X..x..X...X..x..", snare="....X..o.o..X..o",
               hat="xxxxxxxxxxxxxxxx"),
    "funk b": _g("4/4", kick="X.x....x..X.....", snare="....X.o.oo..X.o.",
                 hat="x.x.x.x.x.x.x.o.", open="..........X....."),
    "disco": _g("4/4", kick="X...X...X...X...", snare="....X.......X...",
                hat="x...x...x...x...", open="..X...X...X...X."),
    "rock": _g("4/4", kick="X.......X.X.....", snare="....X.......X...",
               hat="x.x.x.x.x.x.x.x."),
    "rock b": _g("4/4", kick="X.x.....X.x..x..", snare="....X.......X...",
                 ride="x.x.x.x.x.x.x.x."),
    "ballad": _g("4/4", kick="X.......X.x.....", rim="....x.......x...",
                 hat="x.x.x.x.x.x.x.x."),
    "ballad b": _g("4/4", kick="X.......X.......", snare="....x.......x...",
                   hat="x.o.x.o.x.o.x.o."),
    "jazz ride": _g("4/4", ride="x...x.x.x...x.x.", pedal="....x.......x...",
                    kick="o...............", snare="..........o....o"),
    "jazz brushes": _g("4/4", snare="o.o.o.o.o.o.o.o.", pedal="....x.......x...",
                       ride="x...x.x.x...x.x."),
    "bossa": _g("4/4", kick="x..xx..xx..xx..x", rim="x..x..x...x..x..",
                hat="x.x.x.x.x.x.x.x."),
    "samba light": _g("4/4", kick="x..xx..xx..xx..x", shaker="xoxxxoxxxoxxxoxx",
                      rim="..x...x..x..x..."),
    "one drop": _g("4/4", kick="........X.......", rim="........X.......",
                   hat="x.x.x.x.x.x.x.x."),
    "steppers": _g("4/4", kick="X...X...X...X...", rim="........X.......",
                   hat="..x...x...x...x."),
    "ambient pulse": _g("4/4", kick="X...............", shaker="o.o.o.o.o.o.o.o."),
    "cinematic toms": _g("4/4", tom_low="X.....x...x.....", tom_floor="X.....X.....x...",
                         snare="........x......."),
    "cinematic march": _g("4/4", snare="x.ox..x.x.ox..x.", tom_floor="X.......X.......",
                          crash="X..............."),
    "metal": _g("4/4", kick="xxxxxxxxxxxxxxxx", snare="....X.......X...",
                hat="x.x.x.x.x.x.x.x."),
    "metal half": _g("4/4", kick="X.x...x.X.x.....", snare="........X.......",
                     ride="x...x...x...x...", crash="X..............."),
    "waltz": _g("3/4", kick="X...........", snare="....x...x...", hat="x.x.x.x.x.x."),
    "jazz waltz": _g("3/4", ride="x...x.x.x...", pedal="....x...x...", kick="o..........."),
    "waltz ballad": _g("3/4", kick="X.......x...", rim="....x.......", hat="x.o.x.o.x.o."),
    "six eight": _g("6/8", kick="X.....x.....", snare="......X.....", hat="x.x.x.x.x.x."),
    "six eight rock": _g("6/8", kick="X...x.X.....", snare="......X.....",
                         ride="x.x.x.x.x.x."),
    "six eight shuffle": _g("6/8", kick="X.....X.....", rim="...x.....x..",
                            shaker="xoxoxoxoxoxo"),
}

FILL_STYLES = ("toms", "snare roll", "kick snare", "hat roll", "sparse")


def fill_hits(style: str, steps: int, rng: np.random.Generator) -> list[tuple[int, str, float]]:
    """Hits (step, drum, level) for a fill covering the last `steps` 16th steps of a bar.

    Step numbers count from the start of the fill; levels rise towards the downbeat.
    """
    hits: list[tuple[int, str, float]] = []
    toms = ["tom_high", "tom_mid", "tom_low", "tom_floor"]
    for s in range(steps):
        rise = 0.55 + 0.45 * (s + 1) / steps
        if style == "toms":
            drum = toms[min(len(toms) - 1, s * len(toms) // steps)]
            if s % 2 == 0 or rng.random() < 0.6:
                hits.append((s, drum, rise))
        elif style == "snare roll":
            hits.append((s, "snare", rise * (0.8 if s % 2 else 1.0)))
        elif style == "kick snare":
            hits.append((s, "kick" if s % 4 == 0 else "snare", rise))
        elif style == "hat roll":
            hits.append((s, "hat" if s < steps - 2 else "open", rise))
        elif style == "sparse" and s % 4 == 2:
            hits.append((s, "snare", rise))
    return hits
