"""``stemloom doctor`` on a machine that lacks things: it names them and the command to run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stemloom.commands.doctor import SYSTEM, model_checks, system_checks

# Every program the doctor looks for on PATH, and the package that brings it.
PROGRAMS = {"fluidsynth": "fluidsynth", "pulseaudio": "pulseaudio", "jackd": "jackd2",
            "oscsend": "liblo-tools", "lua5.4": "lua5.4", "node": "nodejs",
            "icupkg": "icu-devtools", "ardour7-lua": "ardour"}


def doctor(path: str, *args: str) -> subprocess.CompletedProcess:
    """Run the doctor with ``path`` as the whole PATH."""
    return subprocess.run([sys.executable, "-m", "stemloom", "doctor", *args],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp")})


def test_missing_programs_are_named_with_the_command_that_installs_them(tmp_path) -> None:
    """A PATH holding only some of the tools: the others are reported missing."""
    present = {"lua5.4", "node", "oscsend"}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in present:
        found = shutil.which(name)
        assert found, f"this test needs {name} installed ({SYSTEM})"
        (bin_dir / name).symlink_to(found)
    result = doctor(str(bin_dir))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    for name in PROGRAMS:
        if name == "ardour7-lua":
            name = "ardour"
        line = next(line for line in lines if line.split()[1:2] == [name])
        assert line.split()[0] == ("ok" if name in present else "--"), line
    fix_at = lines.index(f"  {SYSTEM}")
    installs = lines[fix_at + 1].split("installs: ")[1].split(", ")
    assert set(installs) >= {"fluidsynth", "pulseaudio", "jackd2", "icu-devtools", "ardour"}
    assert not set(installs) & {"lua5.4", "nodejs", "liblo-tools"}

    checks = {check["name"]: check for check in json.loads(doctor(str(bin_dir), "--json").stdout)}
    assert checks["jackd"] == {"name": "jackd", "ok": False, "detail": "not on PATH",
                               "needed_for": checks["jackd"]["needed_for"], "fix": SYSTEM,
                               "package": "jackd2"}
    assert checks["node"]["ok"] and checks["node"]["detail"] == str(bin_dir / "node")


def test_with_everything_on_path_the_system_part_matches_what_is_installed() -> None:
    for check in system_checks():
        if check.name in PROGRAMS:
            assert check.ok == (shutil.which(check.name) is not None), check


def test_model_weights_are_checked_per_stage(tmp_path) -> None:
    (tmp_path / "codec").mkdir()
    (tmp_path / "codec" / "codec.pt").write_bytes(b"weights")
    (tmp_path / "generator").mkdir()  # a folder without weights is not a model
    checks = {check.name: check for check in model_checks(tmp_path)}
    assert checks["default model: codec"].ok
    assert checks["default model: codec"].detail == str(tmp_path / "codec" / "codec.pt")
    for part in ("mulan", "generator"):
        check = checks[f"default model: {part}"]
        assert not check.ok and check.fix.startswith("git pull")
        assert "docs/training.md" in check.fix and check.package == f"the {part} weights"


def test_the_shipped_weights_are_reported_as_they_are() -> None:
    weights = Path(__file__).resolve().parents[1] / "engine" / "weights" / "default"
    for check in model_checks():
        part = check.name.split(": ")[1]
        assert check.ok == any((weights / part).glob("*.pt")), check
