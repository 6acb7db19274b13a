"""stemloom generate --play: the streamed preview reaches the output device."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("sounddevice", reason="--play needs the host extra")

from tests.plugin_host.sound_servers import pulseaudio_null_sink
from tests.plugin_host.test_studio_preview import RATE, Monitor


def test_the_preview_is_heard_while_the_job_runs(tmp_path: Path) -> None:
    with pulseaudio_null_sink(tmp_path / "pulse", RATE), Monitor() as monitor:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
               "XDG_DATA_HOME": str(tmp_path / "data"),
               "PULSE_SERVER": os.environ["PULSE_SERVER"]}
        started = time.monotonic()
        made = subprocess.run(
            [sys.executable, "-m", "stemloom", "generate", "slow pads", "--play",
             "--bpm", "60", "--bars", "8", "--stems", "pads", "--model", "random-tiny"],
            capture_output=True, text=True, timeout=300, env=env, check=False)
        ended = time.monotonic()
        assert made.returncode == 0, made.stderr
        assert "cannot be played" not in made.stderr
        heard = monitor.first_sound(started)
        assert heard is not None and heard < ended  # sound while the command ran
        time.sleep(0.5)
        assert monitor.loudest(ended + 0.3, time.monotonic()) < 0.01  # stopped with the job
