"""A non-Python OSC stack drives the engine: liblo's oscsend submits, oscdump hears replies."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from stemloom.local_engine import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("oscsend") is None, reason="liblo-tools is not installed"
)


def _wait_for(path: Path, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, path.read_text())
        if match:
            return match
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} never appeared in:\n{path.read_text()}")


@pytest.fixture()
def oscdump(tmp_path) -> Iterator[tuple[int, Path]]:
    """A running `oscdump` on a free port, and the file it prints to."""
    port = free_port()
    log = tmp_path / "oscdump.txt"
    with open(log, "w") as out:
        dump = subprocess.Popen(["oscdump", "-L", str(port)], stdout=out, stderr=out)
    time.sleep(0.3)  # let it bind
    yield port, log
    dump.terminate()
    dump.wait(timeout=5)


def _oscsend(engine, address: str, types: str, *args: str) -> None:
    subprocess.run(["oscsend", "localhost", str(engine.udp_port), address, types, *args],
                   check=True, timeout=10)


def test_oscsend_submits_and_oscdump_receives_the_replies(engine, oscdump) -> None:
    port, log = oscdump
    _oscsend(engine, "/stemloom/hello", "ssi", "liblo-hello", "reply_port", str(port))
    _wait_for(log, r'/stemloom/hello/reply \S+ "liblo-hello" "protocol" 1', 10)
    _oscsend(engine, "/stemloom/generate", "ssssssisisi", "liblo-job", "prompt",
             "techno kick and hats", "stems", "drums", "bars", "1", "bpm", "130",
             "reply_port", str(port))
    _wait_for(log, r'/stemloom/ack \S+ "liblo-job" "state" "(queued|running)"', 10)
    done = _wait_for(log, r'/stemloom/done .*"stems\.drums" "([^"]+)"', 60)
    assert "/stemloom/progress" in log.read_text()
    info = sf.info(done.group(1))
    assert info.samplerate == 48000 and info.channels == 2
    assert abs(info.duration - 4 * 60 / 130) < 1e-4


def test_oscsend_bad_request_gets_a_fail(engine, oscdump) -> None:
    port, log = oscdump
    _oscsend(engine, "/stemloom/generate", "ssssssi", "liblo-bad", "prompt", "x", "bars",
             "eight", "reply_port", str(port))
    _wait_for(log, r'/stemloom/fail \S+ "liblo-bad" "code" "bad_argument"', 10)
