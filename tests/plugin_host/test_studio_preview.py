"""The preview is heard: clicking Generate in the studio plays the engine's streamed preview
on the output device within moments, and it stops when the stems land, when the job is
cancelled, and when the producer turns previews off.

Everything is real: the engine is a subprocess over OSC (the tiny test model, or the one
named by STEMLOOM_STUDIO_MODEL, e.g. "default"), the output is a PulseAudio null sink, and
what is heard is recorded back from the sink's monitor. The time from the click to the first
non-silent block on the monitor is measured and reported (printed, and written as JSON to
STEMLOOM_PREVIEW_BENCH if set); it is not asserted tightly, since the machine is noisy.
STEMLOOM_PREVIEW_RUNS and STEMLOOM_PREVIEW_JOB ("bpm,bars") set what is measured.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads: no display needed

import json
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6", reason="the studio needs PySide6 (pip install PySide6-Essentials)")
from PySide6.QtWidgets import QApplication

from bridge.client import EngineClient
from bridge.messages import Generate
from plugin_host.studio.app import application
from plugin_host.studio.window import StudioWindow
from stemloom.local_engine import LocalEngine
from tests.plugin_host.sound_servers import pulseaudio_null_sink
from tests.plugin_host.test_studio import newest, settings_for, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("pulseaudio") is None,
    reason="pulseaudio is not installed (apt-get install pulseaudio libasound2-plugins "
           "libportaudio2); the preview is played into and recorded from a null sink")

RATE = 48000
BLOCK = 240  # 5 ms: the resolution of "first sound"
LOUD = 0.01  # peak above which a block is sound (the tiny model's output peaks near 0.2)
MODEL = os.environ.get("STEMLOOM_STUDIO_MODEL", "random-tiny")
RUNS = int(os.environ.get("STEMLOOM_PREVIEW_RUNS", "5"))
# The measured job: 8 bars at 60 bpm (32 s of music) unless STEMLOOM_PREVIEW_JOB="bpm,bars".
BPM, BARS = (float(x) for x in os.environ.get("STEMLOOM_PREVIEW_JOB", "60,8").split(","))


class Monitor:
    """The null sink's monitor, recorded in 5 ms blocks, each kept as (arrival time, peak)."""

    def __init__(self) -> None:
        from plugin_host.audio_devices import sounddevice

        self.blocks: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._stream = sounddevice().InputStream(
            samplerate=RATE, device="pulse", channels=1, dtype="float32", blocksize=BLOCK,
            latency="low", callback=self._block)

    def _block(self, indata: np.ndarray, *_: object) -> None:
        with self._lock:
            self.blocks.append((time.monotonic(), float(np.abs(indata).max())))

    def __enter__(self) -> Monitor:
        """Start recording; return once blocks flow."""
        self._stream.start()
        deadline = time.monotonic() + 5
        while len(self.blocks) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.abort()
        self._stream.close()

    def first_sound(self, after: float) -> float | None:
        """Arrival time of the first loud block after ``after`` (None if none yet)."""
        with self._lock:
            return next((t for t, peak in self.blocks if t > after and peak > LOUD), None)

    def loudest(self, start: float, end: float) -> float:
        """The highest peak of the blocks that arrived between ``start`` and ``end``."""
        with self._lock:
            return max((peak for t, peak in self.blocks if start < t <= end), default=0.0)


@pytest.fixture(scope="module")
def app() -> QApplication:
    """The one QApplication of the test process."""
    return application()


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private PulseAudio whose only sink is a null sink (its monitor the default source)."""
    with pulseaudio_null_sink(tmp_path_factory.mktemp("pulse"), RATE):
        yield


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """A real engine subprocess, its model loaded by one job before any test runs."""
    with LocalEngine(tmp_path_factory.mktemp("library"), model=MODEL) as running:
        with EngineClient(port=running.udp_port, timeout=5) as client:
            client.submit(Generate(request_id="warm-up", prompt="warm up", bars=1,
                                   stems=("drums",)))
            client.wait("warm-up", timeout=300)
        yield running


@pytest.fixture
def window(app: QApplication, pulse: None, engine: LocalEngine,
           tmp_path: Path) -> Iterator[StudioWindow]:
    """A studio window playing into the null sink, its engine found."""
    studio = StudioWindow(settings_for(tmp_path, engine.udp_port, output_device="pulse"))
    studio.show()
    try:
        wait_until(lambda: studio.link.state.running, 10, "the engine")
        studio.form.prompt.setPlainText("warm rhodes over a lazy beat")
        for name, box in studio.form.stems.items():
            box.setChecked(name in ("drums", "bass"))
        yield studio
    finally:
        for record in studio.runner.records():  # a failed test leaves no job to wait behind
            if record.state in ("sent", "queued", "running"):
                studio.runner.cancel(record.id)
        studio.close()


def generate(window: StudioWindow, bpm: float, bars: int) -> float:
    """Click Generate for a job of ``bars`` bars at ``bpm``; the time of the click."""
    window.form.bpm.setValue(bpm)
    window.form.bars.setValue(bars)
    jobs = window.jobs.model.rowCount()
    clicked = time.monotonic()
    window.generate_button.click()
    wait_until(lambda: window.jobs.model.rowCount() == jobs + 1, 5, "the new job")
    return clicked


def settle(seconds: float) -> None:
    """Run the event loop for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)


def test_generate_is_heard_at_once_and_stops_when_the_stems_land(
        window: StudioWindow, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    assert window.hear_preview.isChecked()  # on by default
    latencies = []
    with Monitor() as monitor:
        for _ in range(RUNS):
            clicked = generate(window, bpm=BPM, bars=int(BARS))
            wait_until(lambda at=clicked: monitor.first_sound(at) or newest(window).state == "done",
                       120, "the preview to be heard")
            heard = monitor.first_sound(clicked)
            wait_until(lambda: newest(window).state == "done", 120, "the stems")
            landed = time.monotonic()
            assert heard is not None and heard < landed, "the preview was not heard"
            latencies.append(heard - clicked)
            # The stems landed: the preview stops (the monitor lags by a block or two).
            settle(0.4)
            assert not window.preview.playing
            assert monitor.loudest(landed + 0.25, time.monotonic()) < LOUD
    report = {"model": MODEL, "job": f"{BARS:g} bars at {BPM:g} bpm", "runs": len(latencies),
              "median_s": round(statistics.median(latencies), 3),
              "min_s": round(min(latencies), 3), "max_s": round(max(latencies), 3),
              "all_s": [round(x, 3) for x in latencies]}
    print(f"\nGenerate -> first sound ({MODEL}): {json.dumps(report)}")
    record_property("generate_to_first_sound", report)
    if os.environ.get("STEMLOOM_PREVIEW_BENCH"):
        Path(os.environ["STEMLOOM_PREVIEW_BENCH"]).write_text(json.dumps(report, indent=1))
    assert report["median_s"] < 5.0  # a loose bound: heard while it generates, not after


def test_a_cancelled_job_falls_silent(window: StudioWindow) -> None:
    with Monitor() as monitor:
        clicked = generate(window, bpm=40, bars=32)  # minutes of music: long enough to cancel
        wait_until(lambda: monitor.first_sound(clicked), 30, "the preview to be heard")
        assert newest(window).state == "running" and window.preview.playing
        wait_until(lambda: "♪" in window.statusBar().currentMessage(), 5, "the window to say so")
        window.jobs.cancel_button.click()
        wait_until(lambda: newest(window).state == "cancelled", 15, "the job to be cancelled")
        cancelled = time.monotonic()
        settle(0.4)
        assert not window.preview.playing
        assert monitor.loudest(cancelled + 0.25, time.monotonic()) < LOUD


def test_the_producer_turns_previews_off(window: StudioWindow) -> None:
    with Monitor() as monitor:
        # Turned off while it plays: silent at once, and the job still finishes.
        clicked = generate(window, bpm=60, bars=8)
        wait_until(lambda: monitor.first_sound(clicked), 30, "the preview to be heard")
        window.hear_preview.setChecked(False)
        off = time.monotonic()
        assert not window.preview.playing
        wait_until(lambda: newest(window).state == "done", 120, "the stems")
        settle(0.3)
        assert monitor.loudest(off + 0.25, time.monotonic()) < LOUD
        # Off: a whole job goes by in silence.
        clicked = generate(window, bpm=60, bars=8)
        wait_until(lambda: newest(window).state == "done", 120, "the stems")
        assert monitor.first_sound(clicked) is None
        # On again: heard again.
        window.hear_preview.setChecked(True)
        clicked = generate(window, bpm=60, bars=8)
        wait_until(lambda: monitor.first_sound(clicked) or newest(window).state == "done", 120,
                   "the preview to be heard")
        assert monitor.first_sound(clicked) is not None
        wait_until(lambda: newest(window).state == "done", 120, "the stems")
