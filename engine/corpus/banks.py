"""The GM banks the v2 recipe rotates per stem, found where `stemloom data fetch` put them.

FluidR3 comes from the system (scripts/install-system-deps); the others are Debian packages
fetched with `stemloom data fetch PACKAGE --dest DIR`, each under DIR/PACKAGE/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.corpus.fluid import DEFAULT_SOUNDFONT, presets

# Genres whose synth-heavy sound an FM bank (OPL3) suits; elsewhere it is a rare colour.
FM_GENRES = ("synthwave", "techno", "house", "trap", "drum and bass")
FM_FAMILIES = ("bass", "lead", "pad", "keys")


@dataclass(frozen=True)
class Bank:
    """A GM soundfont: its short name, the Debian package holding it and its path in there
    (absolute for the system bank) and how often it is drawn relative to the others."""

    name: str
    package: str
    path: str
    weight: float


BANKS: tuple[Bank, ...] = (
    Bank("fluidr3", "fluid-soundfont-gm", DEFAULT_SOUNDFONT, 1.0),
    Bank("musescore", "musescore-general-soundfont",
         "usr/share/sounds/sf3/MuseScore_General_Full.sf3", 1.5),
    Bank("sf_gmbank", "csound-soundfont", "usr/share/sounds/sf2/sf_GMbank.sf2", 0.8),
    Bank("timgm6mb", "timgm6mb-soundfont", "usr/share/sounds/sf2/TimGM6mb.sf2", 0.8),
    Bank("opl3", "opl3-soundfont", "usr/share/sounds/sf2/OPL-3_FM_128M.sf2", 0.05),
)


def bank_path(bank: Bank, root: Path | None) -> Path:
    """Where `bank` lies: its absolute path, or under root/PACKAGE/."""
    path = Path(bank.path)
    return path if path.is_absolute() or root is None else Path(root) / bank.package / path


def locate(root: Path | None) -> tuple[dict[str, str], list[Bank]]:
    """The banks present ({name: path}) and the banks missing under `root`."""
    found, missing = {}, []
    for bank in BANKS:
        path = bank_path(bank, root)
        if path.is_file():
            found[bank.name] = str(path)
        else:
            missing.append(bank)
    return found, missing


def _weight(bank: Bank, genre: str, family: str) -> float:
    if bank.name == "opl3" and genre in FM_GENRES and family in FM_FAMILIES:
        return 0.6  # FM belongs in synth genres
    return bank.weight


def choose_bank(rng: np.random.Generator, found: dict[str, str], genre: str, family: str,
                program: int, drums: bool) -> str:
    """Draw the bank for one stem among those found that define its preset (the program,
    or a kit in bank 128); FluidR3 when none does."""
    wanted = (128 if drums else 0, program)
    names = [b.name for b in BANKS if b.name in found and wanted in presets(found[b.name])]
    if not names:
        return "fluidr3"
    weights = np.array([_weight(next(b for b in BANKS if b.name == n), genre, family)
                        for n in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]
