"""The window a producer expects: each finished stem as a row with a grip, its tempo, key and
bars and its waveform; variations as takes to flip between; progress in a producer's words.

Driven against a real engine subprocess (the tiny test model, or the one named by
STEMLOOM_STUDIO_MODEL, e.g. "default") in an offscreen window. STEMLOOM_DOCS_SCREENSHOT=path
also saves the finished window there (docs/images/studio-stems.png).
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads: no display needed

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("PySide6", reason="the studio needs PySide6 (pip install PySide6-Essentials)")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from bridge.loudness import integrated_lufs, true_peak_dbtp
from plugin_host.studio.app import application
from plugin_host.studio.job_model import PROGRESS_COLUMN
from plugin_host.studio.stage_words import STAGE_WORDS, stage_words
from plugin_host.studio.stem_row import FACTS_ROLE, GRIP_COLOUR, GRIP_WIDTH, WAVE_COLOUR
from plugin_host.studio.waveform import clip_overview, narrow, peaks
from plugin_host.studio.window import StudioWindow
from stemloom.local_engine import LocalEngine
from tests.plugin_host.test_studio import newest, settings_for, wait_until

MODEL = os.environ.get("STEMLOOM_STUDIO_MODEL", "random-tiny")
INTERNAL = ("semantic", "coarse", "fine", "decode", "tokens", "generating", "writing")


@pytest.fixture(scope="module")
def app() -> QApplication:
    """The one QApplication of the test process."""
    return application()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[LocalEngine]:
    """A real engine subprocess."""
    with LocalEngine(tmp_path / "library", model=MODEL) as running:
        yield running


def test_peaks_are_the_loudest_sample_of_each_column() -> None:
    quiet_then_loud = np.concatenate([np.full(1000, 0.1), np.full(1000, -0.6)])
    stereo = np.stack([quiet_then_loud, quiet_then_loud * 0.5], axis=1)
    assert peaks(stereo, 4).tolist() == pytest.approx([0.1, 0.1, 0.6, 0.6])
    assert peaks(np.zeros((0, 2)), 3).tolist() == [0, 0, 0]
    assert peaks(np.array([0.0, 2.0]), 4).max() == 1.0  # an over-full clip fills the row
    assert narrow(np.array([0.1, 0.9, 0.2, 0.3]), 2).tolist() == pytest.approx([0.9, 0.3])


def test_stage_names_read_as_a_producer_words() -> None:
    assert stage_words("semantic", ("drums", "bass")) == "planning"
    assert stage_words("coarse", ("drums",)) == "rendering drums"
    assert stage_words("tokens", ("drums", "bass")) == "rendering drums, bass"
    assert stage_words("decode") == "finishing"
    assert stage_words("some-new-stage") == "working" and stage_words("") == ""
    assert all(name in STAGE_WORDS for name in INTERNAL)


def test_finished_stems_show_waveforms_takes_and_words(app: QApplication, tmp_path: Path,
                                                        engine: LocalEngine) -> None:
    window = StudioWindow(settings_for(tmp_path, engine.udp_port))
    window.resize(1180, 760)
    window.show()
    try:
        wait_until(lambda: window.link.state.running, 10, "the engine")
        window.form.prompt.setPlainText("dusty boom bap with a round bass")
        window.form.bpm.setValue(92)
        window.form.bars.setValue(2)
        window.form.takes.setValue(2)
        for name, box in window.form.stems.items():
            box.setChecked(name in ("drums", "bass", "keys"))
        window.clip_level.setCurrentIndex(window.clip_level.findData(-14.0))
        progress: list[str] = []
        window.runner.updated.connect(
            lambda _: progress.append(window.jobs.model.index(0, PROGRESS_COLUMN).data()))
        window.generate_button.click()
        wait_until(lambda: window.jobs.model.rowCount() == 1 and newest(window).state == "done",
                   180, "the job to finish")
        record = newest(window)
        stems = window.jobs.stems
        wait_until(lambda: stems.count() == 3, 10, "the clips")

        # Progress said what is happening in words, never the engine's stage names.
        assert any(text.endswith("rendering drums, bass, keys") for text in progress), progress
        assert not [text for text in progress if any(name in text for name in INTERNAL)]

        # Two takes: tabs; each shows its own three stems by their plain names.
        assert stems.takes.isVisible()
        assert [stems.takes.tabText(i) for i in range(stems.takes.count())] == ["Take 1",
                                                                                "Take 2"]
        assert [stems.item(i).text() for i in range(3)] == ["drums", "bass", "keys"]
        clips = window.jobs.clips[record.id]
        # The take's clips were written at -14 LUFS (or as near as -1 dBTP peaks allow),
        # one gain for all: the engine's own files keep the balance the clips have.
        take = {stem: sf.read(str(clips[f"{stem}.1"]), always_2d=True)[0].T
                for stem in ("drums", "bass", "keys")}
        lufs = integrated_lufs(sum(take.values()), 48000)
        peak = max(true_peak_dbtp(a) for a in (sum(take.values()), *take.values()))
        assert abs(lufs + 14) < 0.2 or (lufs < -14 and abs(peak + 1) < 0.1), (lufs, peak)
        engine_files = {stem: sf.read(record.stems[f"{stem}.1"], always_2d=True)[0].T
                        for stem in take}
        gains = [np.abs(take[s]).max() / np.abs(engine_files[s]).max() for s in take]
        assert max(gains) == pytest.approx(min(gains), rel=1e-3)
        names = {stems.item(i).data(Qt.ItemDataRole.UserRole) for i in range(3)}
        assert names == {"drums.1", "bass.1", "keys.1"}
        # Pick the bass in take 1, flip to take 2: its bass is picked, and Play plays it.
        stems.item(1).setSelected(True)
        assert window.jobs._first_selected_clip() == clips["bass.1"]
        stems.takes.setCurrentIndex(1)
        assert stems.selected_stems() == ["bass.2"]
        assert window.jobs._first_selected_clip() == clips["bass.2"] != clips["bass.1"]
        assert window.jobs.play_button.isEnabled() and window.jobs.regenerate_button.isEnabled()

        # Each row says tempo, key and bars, and carries its clip's waveform overview.
        key = record.key
        assert key and stems.item(0).data(FACTS_ROLE) == f"92 bpm · {key} · 2 bars"
        audio, _ = sf.read(str(clips["drums.2"]), always_2d=True)
        expected = peaks(audio, 1024)
        assert np.allclose(clip_overview(clips["drums.2"]), expected, atol=1e-4)
        assert expected.max() > 0.01  # the row has something to draw
        assert window.jobs.drag_hint.isVisible() and "grip" in window.jobs.drag_hint.text()

        # Painted: a grip at the left of every row and the waveform across it.
        stems.clearSelection()
        QApplication.processEvents()
        image = stems.viewport().grab().toImage()
        rect = stems.visualItemRect(stems.item(0))
        assert _has_colour(image, rect.left(), GRIP_WIDTH, rect, GRIP_COLOUR)
        assert _has_colour(image, rect.left() + 200, rect.width() - 210, rect, WAVE_COLOUR)

        stems.item(0).setSelected(True)
        shot = tmp_path / "studio-stems.png"
        assert window.grab().save(str(shot)) and shot.stat().st_size < 200_000
        if os.environ.get("STEMLOOM_DOCS_SCREENSHOT"):  # this machine has no sound card
            window.statusBar().clearMessage()
            window.grab().save(os.environ["STEMLOOM_DOCS_SCREENSHOT"])
    finally:
        window.close()


def test_thousands_of_updates_do_not_wear_out_none(tmp_path: Path) -> None:
    """PySide6 6.12 on CPython 3.11 takes a reference from None on every Qt call that returns
    nothing (pyproject.toml pins below it); with such a PySide6 this aborts the process."""
    code = ("import os; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from PySide6.QtWidgets import QLabel\n"
            "from plugin_host.studio.app import application\n"
            "app = application(); label = QLabel()\n"
            "for _ in range(20000): label.setText('x'); label.setEnabled(True)\n"
            "print('alive')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).parents[2])
    assert done.returncode == 0 and "alive" in done.stdout, done.stderr[-2000:]


def _has_colour(image: QImage, left: int, width: int, row: object, colour: QColor) -> bool:
    """Whether any pixel of columns ``left``..``left + width`` in ``row`` is ``colour``."""
    target = colour.rgb()
    return any(image.pixel(x, y) == target
               for x in range(left, left + width) for y in range(row.top(), row.bottom()))
