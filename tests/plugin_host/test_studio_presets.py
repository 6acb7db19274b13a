"""The studio form's preset box: choosing a preset fills the form (a DAW session's tempo and
meter stay), the user's presets are listed beside the shipped ones."""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads: no display needed

import pytest

pytest.importorskip("PySide6", reason="the studio needs PySide6 (pip install PySide6-Essentials)")

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from plugin_host.daw import SessionInfo
from plugin_host.genre_presets import load_preset
from plugin_host.studio.app import application
from plugin_host.studio.form import NO_PRESET, GenerateForm


@pytest.fixture
def app(tmp_path, monkeypatch) -> Iterator[QApplication]:
    """The QApplication, with the user's config folder (and so their presets) in tmp_path.
    The forms a test made are deleted while the application still exists: left to the
    interpreter's exit, Qt deletes them after the application and the process crashes."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = application()
    yield app
    for widget in QApplication.topLevelWidgets():
        widget.close()
        widget.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_choosing_a_preset_fills_the_form(app) -> None:
    form = GenerateForm()
    assert form.presets.currentText() == NO_PRESET
    assert form.presets.count() >= 25  # "No preset" and every shipped preset
    form.choose_preset("jazz-waltz")
    preset = load_preset("jazz-waltz")
    request = form.request("studio-1")
    assert request.prompt == preset.prompt
    assert (request.bpm, request.bars, request.time_signature) == (150.0, 8, "3/4")
    assert request.key == preset.keys[0]
    assert request.stems == ("drums", "bass", "keys", "lead")
    assert "Suggested effects: lead: wide reverb" in form.preset_hint.text()
    assert "110 and 190 bpm" in form.bpm.toolTip()
    form.presets.setCurrentIndex(0)
    assert form.preset_hint.text() == ""


def test_a_session_keeps_its_tempo_and_meter(app) -> None:
    form = GenerateForm()
    form.apply_session(SessionInfo(bpm=97.0, time_signature=(4, 4), cursor_bar=1.0,
                                   sample_rate=44100))
    form.choose_preset("slow-jam")
    request = form.request("studio-2")
    assert (request.bpm, request.time_signature, request.sample_rate) == (97.0, "4/4", 44100)
    assert request.prompt == load_preset("slow-jam").prompt


def test_user_presets_are_listed(app, tmp_path) -> None:
    folder = tmp_path / "config" / "stemloom" / "presets"
    folder.mkdir(parents=True)
    (folder / "my-waltz.toml").write_text(
        'prompt = "a music box waltz"\nbpm = 90\nbpm_range = [80, 100]\nstems = ["keys"]\n'
        'keys = []\ntime_signature = "3/4"\nbars = 4\n')
    (folder / "broken.toml").write_text("bpm = ")
    form = GenerateForm()
    assert form.presets.findText("my-waltz (yours)") >= 0
    assert "broken.toml" in form.presets.toolTip()
    form.choose_preset("my-waltz")
    request = form.request("studio-3")
    assert (request.prompt, request.stems, request.key) == ("a music box waltz", ("keys",), "")
    with pytest.raises(ValueError, match="no preset 'broken'"):
        form.choose_preset("broken")
