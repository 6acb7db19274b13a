"""Run Ardour's headless tools: a Lua script under ``ardour7-lua`` and ``ardour7-export``.

Every run gets its own throw-away ``XDG_CONFIG_HOME`` and ``XDG_CACHE_HOME``, so Ardour never
writes to the user's configuration, and a time limit: a hung Ardour is killed and reported as
a :class:`~plugin_host.daw.base.PlacementError`, as is a missing one.

Scripts are the files in ``ardour_lua/``: a run is the plan (a Lua table ``P``) followed by
``prelude.lua`` and one script. Scripts report facts as ``STEMLOOM<TAB>key<TAB>value...``
lines and end with a ``done`` line, so a script that stopped early is never taken for success.

A failed run is one of two kinds. Ardour killed by a signal (an abort or segfault, now and then
on its way out) has *crashed*: :class:`ArdourCrashed`, worth another try. A script that stopped
on an error (``Error: ...: the session has no master bus``, exit 1) or a run that exited
without its ``done`` line would fail the same way again: :class:`ArdourFailed`, never retried.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from plugin_host.daw.base import PlacementError

LUA_COMMANDS = ("ardour7-lua", "ardour8-lua")
EXPORT_COMMANDS = ("ardour7-export", "ardour8-export")
SCRIPTS = Path(__file__).with_name("ardour_lua")
_MARK = "STEMLOOM"
_TAIL = 1500  # characters of Ardour's output quoted in an error

LuaValue = str | int | float | bool | Sequence["LuaValue"] | Mapping[str, "LuaValue"]
Facts = list[list[str]]


class ArdourFailed(PlacementError):
    """Ardour ran and its script failed, or it exited early: another run would do the same."""


class ArdourCrashed(PlacementError):
    """Ardour was killed by a signal (abort, segfault): it does now and then, try again."""


# Signals a crash dies of; a shell in between reports them as 128 + the signal's number.
_CRASH_SIGNALS = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE,
                            signal.SIGILL})


def crashed(code: int) -> bool:
    """Whether the exit status ``code`` is a crash (killed by a signal), not a refusal."""
    return -code in _CRASH_SIGNALS or code - 128 in _CRASH_SIGNALS


def find_command(names: Sequence[str], given: str | None = None) -> str:
    """The path of ``given`` or of the first of ``names`` on PATH; PlacementError if none."""
    for name in [given] if given else names:
        found = shutil.which(name)
        if found:
            return found
    wanted = given or " or ".join(names)
    raise PlacementError(f"{wanted} not found: install Ardour 7 (e.g. `apt-get install ardour`)"
                         " or give the path of its headless tools")


def run_lua(script: str, plan: Mapping[str, LuaValue], *, command: str | None = None,
            timeout: float = 120.0) -> Facts:
    """Run ``ardour_lua/<script>.lua`` with the plan ``P``; return its STEMLOOM lines, split.

    Raises PlacementError when Ardour is missing or hangs past ``timeout`` seconds,
    ArdourCrashed when it is killed by a signal, and ArdourFailed when the script fails or
    ends without its ``done`` line (quoting Ardour's error).
    """
    executable = find_command(LUA_COMMANDS, command)
    body = "\n".join([f"P = {lua_literal(plan)}",
                      (SCRIPTS / "prelude.lua").read_text("utf-8"),
                      (SCRIPTS / f"{script}.lua").read_text("utf-8")])
    with tempfile.TemporaryDirectory(prefix="stemloom-ardour-") as scratch:
        path = Path(scratch) / f"{script}.lua"
        path.write_text(body, "utf-8")
        code, output = _run([executable, str(path)], Path(scratch), timeout)
    facts = [line.split("\t")[1:] for line in output.splitlines()
             if line.startswith(_MARK + "\t")]
    if crashed(code):
        raise ArdourCrashed(f"Ardour crashed running its {script} script (exit {code}): "
                            f"{_tail(output)}")
    if code != 0 or ["done"] not in facts:
        errors = [line for line in output.splitlines() if line.startswith("Error: ")]
        raise ArdourFailed(f"Ardour's {script} script failed (exit {code}): "
                           f"{errors[-1] if errors else _tail(output)}")
    return facts


def export_session(session_dir: str | os.PathLike[str], snapshot: str,
                   output: str | os.PathLike[str], *, bit_depth: str = "float",
                   attempts: int = 6, command: str | None = None,
                   timeout: float = 120.0) -> Path:
    """Render the session range through the master bus to the WAV ``output``.

    ``ardour7-export`` 7.3 aborts now and then ("double free or corruption" as it frees its
    export channels, one run in four or five here), so a crashed run is tried again, up to
    ``attempts`` runs in all; any other failure is reported at once.
    """
    executable = find_command(EXPORT_COMMANDS, command)
    output = Path(output)
    argv = [executable, "-b", bit_depth, "-o", str(output), os.fspath(session_dir), snapshot]
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="stemloom-ardour-") as scratch:
        for _ in range(attempts):
            code, text = _run(argv, Path(scratch), timeout)
            if code == 0 and output.is_file():
                return output
            failures.append(f"exit {code}: {_tail(text, 300)}")
            if not crashed(code):
                raise ArdourFailed(f"ardour export failed: {failures[-1]}")
    raise ArdourCrashed(f"ardour export crashed {attempts} times; last: {failures[-1]}")


def lua_literal(value: LuaValue) -> str:
    """``value`` as a Lua expression: tables for mappings and sequences, escaped strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, str):
        # Decimal escapes for every byte but the plainest: no quoting rule can be missed.
        return '"' + "".join(chr(b) if chr(b).isalnum() or chr(b) in " _-.:/" else f"\\{b:03d}"
                             for b in value.encode("utf-8")) + '"'
    if isinstance(value, Mapping):
        fields = []
        for key, item in value.items():
            if not key.isidentifier():
                raise ValueError(f"not a Lua field name: {key!r}")
            fields.append(f"{key} = {lua_literal(item)}")
        return "{ " + ", ".join(fields) + " }"
    return "{ " + ", ".join(lua_literal(item) for item in value) + " }"


def _run(argv: list[str], scratch: Path, timeout: float) -> tuple[int, str]:
    """Run ``argv`` with its own config folders; return exit code and combined output."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(scratch / "config"),
           "XDG_CACHE_HOME": str(scratch / "cache")}
    # A session of its own, so a hung Ardour can be killed with everything it started.
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env, cwd=scratch,
                               start_new_session=True)
    try:
        raw, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raw, _ = process.communicate()
        raise PlacementError(f"{Path(argv[0]).name} did not finish within {timeout:g} s "
                             f"(Ardour hung?): {_tail(raw.decode('utf-8', 'replace'))}") from None
    return process.returncode, raw.decode("utf-8", "replace")


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        process.kill()  # no process groups here (Windows), or the group is gone already


def _tail(text: str, length: int = _TAIL) -> str:
    text = text.strip()
    return text if len(text) <= length else "..." + text[-length:]
