"""``stemloom doctor``: what is installed, what is missing, and the one command that fixes it."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

SETUP_SYSTEM = "sudo ./scripts/install-system-deps"
SETUP_PYTHON = "./scripts/setup"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str
    needed_for: str


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``doctor``."""
    parser = commands.add_parser("doctor", help="check what is installed and what is missing")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_doctor)


def run_checks() -> list[Check]:
    """Every check, in the order a newcomer should fix them."""
    from engine.model_store import DEFAULT_MODEL_DIR

    checks = [
        _module("torch", "the engine", SETUP_PYTHON, version_must_be="2.13.0"),
        _module("soxr", "the engine (resampling)", SETUP_PYTHON),
        _module("mido", "MIDI clips and melodies", SETUP_PYTHON),
        _module("sounddevice", "recording hums", SETUP_PYTHON),
        _module("pedalboard", "effect chains", SETUP_PYTHON),
        _module("PySide6", "the studio window", SETUP_PYTHON),
        _library("portaudio", "recording hums and previews", SETUP_SYSTEM),
        _program("fluidsynth", "building the training corpus", SETUP_SYSTEM),
        Check(
            "GM soundfont",
            SOUNDFONT.is_file(),
            str(SOUNDFONT),
            SETUP_SYSTEM,
            "building the training corpus",
        ),
        _program("oscsend", "driving the engine from a shell (liblo-tools)", SETUP_SYSTEM),
        _program("ardour7-lua", "placing clips in Ardour", SETUP_SYSTEM),
        Check(
            "default model",
            (DEFAULT_MODEL_DIR / "model_card.md").is_file(),
            str(DEFAULT_MODEL_DIR),
            "no trained model has shipped yet; see docs/training.md when it lands",
            "making music",
        ),
    ]
    return checks


def _module(name: str, needed_for: str, fix: str, version_must_be: str = "") -> Check:
    spec = importlib.util.find_spec(name)
    if spec is None:
        return Check(name, False, "not installed", fix, needed_for)
    if not version_must_be:
        return Check(name, True, "installed", "", needed_for)
    from importlib.metadata import version

    found = version(name).split("+")[0]
    ok = found == version_must_be
    return Check(
        name,
        ok,
        f"version {found}",
        "" if ok else f"pip install {name}=={version_must_be}",
        needed_for,
    )


def _program(name: str, needed_for: str, fix: str) -> Check:
    path = shutil.which(name)
    return Check(name, path is not None, path or "not on PATH", "" if path else fix, needed_for)


def _library(name: str, needed_for: str, fix: str) -> Check:
    from ctypes.util import find_library

    found = find_library(name)
    return Check(
        f"lib{name}", found is not None, found or "not found", "" if found else fix, needed_for
    )


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks()
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for check in checks:
            mark = "ok " if check.ok else "-- "
            print(f"{mark} {check.name:<14} {check.detail:<48} for {check.needed_for}")
        missing = [c for c in checks if not c.ok]
        fixes = sorted({c.fix for c in missing if c.fix})
        if fixes:
            print("\nTo fix what is missing, run:")
            for fix in fixes:
                print(f"  {fix}")
    return 0 if all(c.ok for c in checks) else 1
