"""The studio window against a real engine subprocess: submit with a MIDI melody, live
progress, drag data, an effect preset, placement (and a failing one), regenerating a stem,
cancel, an engine killed mid-job and a resubmit after restarting it from the window; hum takes
and preview through a PulseAudio null sink."""

from __future__ import annotations

import json
import os
import shutil

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads: no display needed

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6", reason="the studio needs PySide6 (pip install PySide6-Essentials)")

from PySide6.QtWidgets import QApplication, QMessageBox

from plugin_host.clips import read_clip_info
from plugin_host.daw.folder import FolderAdapter
from plugin_host.jobs import JobRecord
from plugin_host.studio.app import application
from plugin_host.studio.settings import StudioSettings
from plugin_host.studio.window import StudioWindow
from stemloom.local_engine import LocalEngine, free_port

SCREENSHOT = Path("/tmp/studio.png")


@pytest.fixture(scope="module")
def app() -> QApplication:
    """The one QApplication of the test process."""
    return application()


@pytest.fixture
def engines() -> Iterator[list[LocalEngine]]:
    """Every engine a test starts; all stopped at the end, whatever happened."""
    started: list[LocalEngine] = []
    yield started
    for engine in started:
        engine.stop()


def settings_for(tmp_path: Path, port: int, **extra: object) -> StudioSettings:
    """Settings with every file of the window under ``tmp_path``."""
    return StudioSettings(host="127.0.0.1", port=port, journal=tmp_path / "jobs.json",
                          clips_root=tmp_path / "clips", hum_folder=tmp_path / "hums",
                          timeout=1.0, **extra)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Run the Qt event loop until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.02)


def newest(window: StudioWindow) -> JobRecord:
    """The job shown on top of the list."""
    return window.jobs.model.record(0)


def test_only_the_studio_loads_qt_and_it_loads_no_engine() -> None:
    host = ("import sys, plugin_host, plugin_host.jobs, plugin_host.daw, plugin_host.placement, "
            "plugin_host.hum_capture, plugin_host.preview, plugin_host.effects; "
            "assert 'PySide6' not in sys.modules, 'PySide6 imported'")
    studio = ("import sys, plugin_host.studio.window; "
              "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'engine')]; "
              "assert not heavy, heavy")
    for code in (host, studio):
        subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_generate_follow_place_and_drag(app: QApplication, tmp_path: Path, midi_file: Path,
                                        engines: list[LocalEngine]) -> None:
    engine = LocalEngine(tmp_path / "library", model="random-tiny")
    engines.append(engine)
    engine.start()
    session = tmp_path / "session"
    FolderAdapter(session, bpm=96, time_signature=(3, 4), sample_rate=44100).commit()
    window = StudioWindow(settings_for(tmp_path, engine.udp_port, daw="folder",
                                       dest=str(session)))
    window.show()
    try:
        # The DAW session's tempo, meter and rate fill the form; the engine is found.
        wait_until(lambda: window.form.bpm.value() == 96, 10, "the session tempo in the form")
        assert window.form.meter.currentText() == "3/4"
        assert window.form.sample_rate.currentData() == 44100
        # The session's grid wins: its tempo and meter cannot be changed by hand.
        assert not window.form.bpm.isEnabled() and not window.form.meter.isEnabled()
        wait_until(lambda: window.link.state.running, 10, "the engine banner to say running")
        assert "random-tiny" in window.banner.status.text()

        # A form the protocol refuses is explained, not sent.
        window.generate_button.click()
        assert "prompt: must not be empty" in window.form_problem.text()
        assert window.jobs.model.rowCount() == 0

        # A MIDI file with notes becomes the melody reference; a broken one is refused.
        broken = tmp_path / "broken.mid"
        broken.write_bytes(b"MThd not really")
        window.melody.use_midi(broken)
        wait_until(lambda: "not used" in window.melody.current.text(), 10, "the MIDI refusal")
        assert window.melody.melody is None
        window.melody.use_midi(midi_file)
        wait_until(lambda: window.melody.melody == midi_file, 10, "the MIDI melody")
        assert "2 notes" in window.melody.current.text()

        seen: list[tuple[str, float]] = []
        window.runner.updated.connect(lambda r: seen.append((r.state, r.fraction)))
        window.form.prompt.setPlainText("dusty boom bap with a round bass")
        window.form.bars.setValue(1)
        for name, box in window.form.stems.items():
            box.setChecked(name in ("drums", "bass"))
        window.generate_button.click()
        wait_until(lambda: window.jobs.model.rowCount() == 1 and newest(window).state == "done",
                   30, "the job to finish")
        assert any(state == "running" and 0 < fraction < 1 for state, fraction in seen)
        record = newest(window)
        assert set(record.stems) == {"drums", "bass"}
        assert record.request.melody == str(midi_file.resolve()) and not window.form_problem.text()
        model = window.jobs.model
        assert model.index(0, 3).data() == "done" and model.index(0, 4).data().startswith("100%")

        # Tagged clips appear in the drag source; its mime data names exactly those files.
        wait_until(lambda: window.jobs.stems.count() == 2, 10, "the clips to drag")
        window.jobs.stems.selectAll()
        items = window.jobs.stems.selectedItems()
        urls = window.jobs.stems.mimeData(items).urls()
        dragged = {Path(url.toLocalFile()) for url in urls}
        assert window.jobs.originals[record.id] != {
            stem: Path(path) for stem, path in record.stems.items()
        }, f"no tagged clips: {window.statusBar().currentMessage()}"
        assert dragged == set(window.jobs.clips[record.id].values())
        assert all(url.isLocalFile() for url in urls)
        for path in dragged:
            assert path.is_file() and "96bpm" in path.name.replace(" ", "").lower()
            info = read_clip_info(path)
            assert info.acid is not None and info.acid.tempo == 96
        # The melody the job followed drags out as its own MIDI clip.
        wait_until(window.jobs.melody_button.isEnabled, 10, "the melody clip to drag")
        (melody_url,) = window.jobs.melody_button.mime().urls()
        melody_clip = Path(melody_url.toLocalFile())
        assert melody_clip.name.endswith("_melody.mid") and "96bpm" in melody_clip.name
        assert melody_clip.read_bytes().startswith(b"MThd")
        assert not window.jobs.regenerate_button.isEnabled()  # one stem at a time
        window.jobs.stems.clearSelection()
        window.jobs.stems.item(0).setSelected(True)
        assert window.jobs.regenerate_button.isEnabled()
        assert "same plan" in window.jobs.regenerate_button.toolTip()

        # An effect preset on the drums: a new, still tempo-tagged clip replaces them.
        effects = window.effects
        wait_until(lambda: effects.preset.findData("lofi tape") >= 0, 15, "the effect presets")
        effects.preset.setCurrentIndex(effects.preset.findData("lofi tape"))
        assert window.jobs.stems.selected_stems() == ["drums"] and effects.apply_button.isEnabled()
        effects.apply_button.click()
        wait_until(lambda: "lofi" in window.jobs.clips[record.id]["drums"].name, 20,
                   "the lofi drums")
        lofi = window.jobs.clips[record.id]["drums"]
        original = window.jobs.originals[record.id]["drums"]
        assert lofi.is_file() and lofi != original and lofi.read_bytes() != original.read_bytes()
        assert read_clip_info(lofi).acid.tempo == 96  # type: ignore[union-attr]
        assert window.jobs.clips[record.id]["bass"] == window.jobs.originals[record.id]["bass"]
        labels = [window.jobs.stems.item(i).text() for i in range(window.jobs.stems.count())]
        assert labels == ["drums  —  lofi tape", "bass"]

        # Send to DAW through the folder adapter: two new tracks, the drums with their effect,
        # and the melody the job followed as a MIDI clip on a track of its own.
        window.jobs.send_button.click()
        wait_until(lambda: "Placed 2 stems and the melody" in window.statusBar().currentMessage(),
                   15, "the placement")
        manifest = json.loads((session / "session.json").read_text())
        files = {track["name"]: track["clips"][0]["file"] for track in manifest["tracks"]}
        assert sorted(files) == ["bass", "drums", "melody"] and "lofi" in files["drums"]
        assert (session / files["melody"]).read_bytes() == melody_clip.read_bytes()

        wait_until(lambda: window.banner.status.text().endswith("ready"), 10,
                   "the banner to see the model loaded")
        window.jobs.stems.selectAll()  # the main view as a producer sees it
        shot = tmp_path / "studio.png"
        assert window.grab().save(str(shot)) and shot.stat().st_size > 10_000
        window.grab().save(str(SCREENSHOT))

        # Regenerate one stem: a new job with only that stem and a new seed.
        window.jobs.stems.clearSelection()
        window.jobs.stems.item(1).setSelected(True)
        window.jobs.regenerate_button.click()
        wait_until(lambda: window.jobs.model.rowCount() == 2 and newest(window).state == "done",
                   20, "the regenerated stem")
        again = newest(window)
        assert again.request.stems == ("bass",) and again.id != record.id
        assert again.request.keep_from == record.id
        assert again.request.seed not in (-1, record.seed) and again.request.bpm == 96
        assert window.jobs.selected_id() == again.id

        # A placement that cannot succeed says so in a dialog; nothing is left behind.
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where a folder should be")
        window.daw_target.choose("dawproject", blocker / "song.dawproject")
        # A session not made yet takes the request's tempo: the form is free again.
        wait_until(window.form.bpm.isEnabled, 10, "the tempo to be free for a new session")
        assert "new session" in window.daw_target.session.text()
        wait_until(window.jobs.send_button.isEnabled, 10, "the regenerated stem's clip")
        window.jobs.send_button.click()
        wait_until(lambda: window.jobs.error_box is not None and window.jobs.error_box.isVisible(),
                   15, "the placement error dialog")
        box = window.jobs.error_box
        assert box.icon() == QMessageBox.Icon.Critical
        assert "Nothing was placed" in box.text()
        box.accept()

    finally:
        window.close()


def test_engine_started_from_the_window_dies_mid_job_then_resubmit(
        app: QApplication, tmp_path: Path, engines: list[LocalEngine]) -> None:
    port = free_port()

    def start() -> LocalEngine:
        engine = LocalEngine(tmp_path / "library", model="random-tiny", udp_port=port)
        engines.append(engine)
        engine.start()
        return engine

    window = StudioWindow(settings_for(tmp_path, port, start_engine=start))
    window.show()
    try:
        # No engine yet: the banner says so and offers to start one.
        wait_until(lambda: not window.link.state.checking, 10, "the engine probe")
        assert "not running" in window.banner.status.text()
        assert window.banner.start_button.isVisible()
        window.banner.start_button.click()
        wait_until(lambda: window.link.state.running, 30, "the engine started from the window")
        assert not window.banner.start_button.isVisible()

        # A running job cancelled from the window.
        window.form.prompt.setPlainText("slow evolving pad")
        window.form.bars.setValue(2)
        for name, box in window.form.stems.items():
            box.setChecked(name == "pads")
        window.generate_button.click()
        wait_until(lambda: window.jobs.model.rowCount() == 1
                   and newest(window).state == "running", 20, "the job to run")
        window.jobs.cancel_button.click()
        wait_until(lambda: newest(window).state == "cancelled", 10, "the job to be cancelled")
        assert not window.jobs.cancel_button.isEnabled()

        # Another dies with the engine.
        window.generate_button.click()
        wait_until(lambda: window.jobs.model.rowCount() == 2
                   and newest(window).state == "running" and newest(window).fraction > 0,
                   20, "the job to run")
        first = newest(window)
        engines[-1].process.kill()  # the engine dies mid-job, no goodbye

        wait_until(lambda: window.jobs.model.record(0).state == "lost", 20, "the job to be lost")
        assert window.jobs.selected_id() == first.id
        assert "stopped answering" in window.jobs.detail.text()
        assert window.jobs.resubmit_button.isEnabled()
        assert window.grab().save(str(tmp_path / "lost.png"))
        wait_until(lambda: window.banner.start_button.isVisible(), 10,
                   "the banner to offer a restart")

        window.banner.start_button.click()
        wait_until(lambda: window.link.state.running, 30, "the restarted engine")
        window.jobs.resubmit_button.click()
        wait_until(lambda: window.jobs.model.rowCount() == 3 and newest(window).state == "done",
                   30, "the resubmitted job to finish")
        retried = newest(window)
        assert retried.request.prompt == first.request.prompt and retried.id != first.id
        old_row = window.jobs.model.row_of(first.id)
        assert window.jobs.model.index(old_row, 3).data() == "lost (resubmitted)"
        assert window.runner.jobs.get(first.id).resubmitted_as == retried.id
    finally:
        window.close()
    assert all(engine.process.poll() is not None for engine in engines)


@pytest.mark.skipif(shutil.which("pulseaudio") is None,
                    reason="pulseaudio is not installed (apt-get install pulseaudio "
                           "libasound2-plugins libportaudio2)")
def test_hum_takes_through_a_null_sink(app: QApplication, tmp_path: Path) -> None:
    """A silent take is refused with a message; a tone sung into the input becomes the melody.

    The input is a PulseAudio null sink's monitor: what the test plays into the sink is what
    the window records.
    """
    from plugin_host.clips import AcidInfo, write_clip
    from plugin_host.preview import ClipPlayer
    from plugin_host.studio.preview_button import PreviewButton
    from tests.plugin_host.sound_servers import pulseaudio_null_sink

    with pulseaudio_null_sink(tmp_path / "pulse", 48000):
        window = StudioWindow(settings_for(tmp_path, free_port(), input_device="pulse",
                                           output_device="pulse"))
        try:
            window.form.bpm.setValue(240)  # one bar of 4/4: one second
            window.form.bars.setValue(1)
            window.melody.count_in.setValue(0)
            box = window.melody

            def take() -> None:
                box.record_button.click()
                assert box.record_button.text() == "■ Stop"
                wait_until(lambda: box.record_button.text() == "● Record hum", 15, "the take")

            take()
            assert "Hum not used: the take is silent" in box.current.text()
            assert box.melody is None and not list((tmp_path / "hums").glob("*.wav"))

            t = np.arange(48000 * 3) / 48000
            tone = write_clip(tmp_path / "hum-source.wav", 0.3 * np.sin(2 * np.pi * 220 * t),
                              48000, AcidInfo(tempo=120, beats=6))
            levels: list[int] = []
            box.level.valueChanged.connect(levels.append)
            with ClipPlayer("pulse") as voice:
                voice.play(tone)
                time.sleep(0.2)
                take()
            assert box.melody is not None and box.melody.parent == tmp_path / "hums"
            assert box.melody.is_file() and "hum" in box.current.text()
            # A take sung here to the click keeps its timing, unless the tempo changed since.
            assert box.timing(240, (4, 4)) == "click" and box.timing(120, (4, 4)) == "free"
            window.form.prompt.setPlainText("a sung line")
            assert window.form.request("r1", str(box.melody), "click").melody_timing == "click"
            assert max(levels) > -20  # the meter moved with the tone (about -13 dBFS RMS)

            # The preview button plays a clip on the output and stops it on a second click.
            play = PreviewButton(lambda: tone, "pulse")
            play.click()
            assert play.text() == "■ Stop" and play.player is not None and play.player.playing
            play.click()
            assert play.text() == "▶ Play" and not play.player.playing
            play.close_device()
        finally:
            window.close()
