"""``stemloom bench host``: what the DAW-side host costs a producer, in numbers.

- start-up: a fresh process until the studio window is shown (offscreen Qt), and its peak
  resident memory;
- placement: from the engine's ``done`` to clips placed (``place_job``: clip files written,
  then the adapter's commit) for each adapter that runs on this machine, into a new session
  and into one that already holds tracks (the merge path).

Every figure is a median over ``runs`` (Ardour, which starts its headless tools per commit, is
timed over fewer). Stems are synthetic noise: placement cost does not depend on the sound.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.messages import Done

STEMS = ("drums", "bass", "keys", "lead")
BPM, BARS, RATE = 120.0, 8, 48000
SESSION_NAMES = {"folder": "session", "dawproject": "song.dawproject",
                 "reaper": "song.RPP", "ardour": "song"}
_ARDOUR_RUNS = 2  # each commit runs Ardour's headless tools: seconds, not milliseconds

_STARTUP_SCRIPT = """
import json, os, resource, sys, tempfile
from pathlib import Path
from PySide6.QtWidgets import QApplication
from plugin_host.studio.settings import StudioSettings
from plugin_host.studio.window import StudioWindow
app = QApplication.instance() or QApplication([])
root = Path(tempfile.mkdtemp())
window = StudioWindow(StudioSettings(host="127.0.0.1", port=int(sys.argv[1]),
                                     journal=root / "jobs.json", clips_root=root / "clips",
                                     hum_folder=root / "hums", timeout=1.0))
window.show()
app.processEvents()
print(json.dumps({"max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}),
      flush=True)
os._exit(0)  # measured: what Qt does on the way out is not start-up
"""


def run_host_bench(runs: int = 5) -> dict[str, object]:
    """Every host figure this machine can measure; a part that cannot run says why."""
    results: dict[str, object] = {"runs": runs}
    results.update(_startup(runs))
    with tempfile.TemporaryDirectory(prefix="stemloom-bench-host-") as scratch:
        done = _fake_done(Path(scratch) / "engine")
        for daw in SESSION_NAMES:
            results.update(_placement(daw, done, Path(scratch) / daw, runs))
    return results


def _startup(runs: int) -> dict[str, object]:
    """Seconds from process start to the studio window shown, and its peak memory."""
    try:
        import PySide6  # noqa: F401  (only asked whether it is there)
    except ImportError:
        return {"studio_startup": "skipped: PySide6 is not installed (./scripts/setup --host)"}
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    seconds, memory = [], []
    for _ in range(runs):
        started = time.perf_counter()
        shown = subprocess.run([sys.executable, "-c", _STARTUP_SCRIPT, str(_free_port())],
                               capture_output=True, text=True, env=env, timeout=120,
                               check=False)
        if shown.returncode != 0:
            return {"studio_startup": f"failed (exit {shown.returncode}): "
                                      f"{shown.stderr.strip()[-300:]}"}
        seconds.append(time.perf_counter() - started)
        memory.append(json.loads(shown.stdout.splitlines()[-1])["max_rss_kib"] / 1024)
    return {"studio_startup_to_window_s_median": round(statistics.median(seconds), 3),
            "studio_startup_max_rss_mib_median": round(statistics.median(memory), 1)}


def _placement(daw: str, done: Done, folder: Path, runs: int) -> dict[str, object]:
    """Median seconds from ``done`` to clips placed, into a new and an existing session."""
    from plugin_host.placement import open_adapter, place_job

    if daw == "ardour" and shutil.which("ardour7-lua") is None:
        return {"place_ardour": "skipped: ardour7-lua is not installed"}
    runs = min(runs, _ARDOUR_RUNS) if daw == "ardour" else runs
    results: dict[str, object] = {}
    facts: dict = {"bpm": BPM, "time_signature": (4, 4), "sample_rate": RATE}
    for existing in (False, True):
        times = []
        for run in range(runs):
            session = folder / f"{'merge' if existing else 'new'}-{run}" / SESSION_NAMES[daw]
            if existing:  # a session that already holds the four stems
                place_job(done, "bench", open_adapter(daw, session, **facts),
                          clips_root=folder / "clips")
            # The session's own facts: an existing session takes them, a new one is made so.
            adapter = open_adapter(daw, session, **facts)
            started = time.perf_counter()
            place_job(done, "bench", adapter, clips_root=folder / "clips")
            times.append(time.perf_counter() - started)
        key = f"place_{daw}_{'existing' if existing else 'new'}_session_s_median"
        results[key] = round(statistics.median(times), 3)
    return results


def _fake_done(folder: Path) -> Done:
    """A finished four-stem job of ``BARS`` bars, as the engine leaves it."""
    folder.mkdir(parents=True)
    frames = round(BARS * 4 * 60 / BPM * RATE)
    rng = np.random.default_rng(0)
    stems = {}
    for name in STEMS:
        path = folder / f"{name}.wav"
        sf.write(path, rng.uniform(-0.3, 0.3, (frames, 2)).astype(np.float32), RATE,
                 subtype="PCM_24")
        stems[name] = str(path)
    return Done(request_id="bench", bpm=BPM, bars=BARS, time_signature="4/4", key="A minor",
                sample_rate=RATE, format="wav24", seed=0, loop=False, model="bench",
                metadata="", stems=stems, melody_midi="")


def _free_port() -> int:
    """A UDP port nothing listens on, so the window finds no engine and says so."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
