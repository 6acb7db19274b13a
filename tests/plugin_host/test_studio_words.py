"""The studio window fills tempo, key, meter, length and stems from the words of the prompt as
the producer types (real keystrokes into real widgets, offscreen): the boxes say which values
came from the words, a box set by hand keeps its value, a DAW session's tempo beats the words
(and the window says so), contradictory words hold Generate back, and words deleted hand their
field back to the next source."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads: no display needed

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6", reason="the studio needs PySide6 (pip install PySide6-Essentials)")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from bridge.words import WordsError
from plugin_host.daw.folder import FolderAdapter
from plugin_host.genre_presets import load_preset
from plugin_host.studio.app import application
from plugin_host.studio.form import WORDS_DELAY_MS
from plugin_host.studio.settings import StudioSettings
from plugin_host.studio.window import PROMPT_CONTRADICTS, StudioWindow
from stemloom.local_engine import LocalEngine, free_port
from tests.plugin_host.test_studio import wait_until

ACID = "acid house, 126 bpm, Gm, squelchy 303 line, crisp hats"
# The window with the acid-house prompt typed, for docs/images/studio-words.png.
SCREENSHOT = Path("/tmp/studio-words.png")


@pytest.fixture(scope="module")
def app() -> QApplication:
    """The one QApplication of the test process. Windows are closed, not deleted, as in
    test_studio.py: deleting one that ran a job makes PySide crash at the interpreter's exit
    once test_studio.py ran in the same process."""
    return application()


def open_window(tmp_path: Path, port: int) -> StudioWindow:
    """A shown studio window for an engine on ``port``, its files under ``tmp_path``."""
    settings = StudioSettings(host="127.0.0.1", port=port, journal=tmp_path / "jobs.json",
                              clips_root=tmp_path / "clips", hum_folder=tmp_path / "hums",
                              timeout=1.0)
    shown = StudioWindow(settings)
    shown.show()
    return shown


@pytest.fixture
def window(app: QApplication, tmp_path: Path) -> Iterator[StudioWindow]:
    """A shown studio window with no engine behind it (the form does not need one)."""
    shown = open_window(tmp_path, free_port())
    yield shown
    shown.close()


def pause(seconds: float = WORDS_DELAY_MS / 1000 + 0.25) -> None:
    """Run the event loop for ``seconds``: longer than the words' debounce, so the prompt is
    read as after a producer stopped typing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)


def type_prompt(window: StudioWindow, text: str) -> None:
    """Type ``text`` into the prompt, key by key, then stop typing."""
    window.form.prompt.setFocus()
    QTest.keyClicks(window.form.prompt, text)
    pause()


def erase(window: StudioWindow, words: str) -> None:
    """Delete ``words`` from the end of the prompt with backspace, as a producer would."""
    assert window.form.prompt.toPlainText().endswith(words)
    for _ in words:
        QTest.keyClick(window.form.prompt, Qt.Key.Key_Backspace)
    pause()


def hint(window: StudioWindow, field: str) -> str:
    return window.form.hints[field].text()


def test_typing_the_acid_house_prompt_fills_and_marks_the_boxes(window: StudioWindow) -> None:
    form = window.form
    assert form.bpm.value() == 120 and form.hints["bpm"].text() == ""  # the default
    form.prompt.setFocus()
    QTest.keyClicks(form.prompt, ACID)
    # Debounced: nothing changes while the producer is still typing.
    assert form.bpm.value() == 120 and form.key.currentData() == ""
    pause()
    assert form.bpm.value() == 126
    assert form.key.currentData() == "G minor" and form.key.currentText() == "G minor"
    assert form.chosen_stems() == ("drums", "bass")
    assert (form.bars.value(), form.meter.currentText()) == (8, "4/4")
    # Marked as read from the words, quoting them; the rest is marked as not.
    assert form.resolved is not None
    assert {name for name, source in form.resolved.sources.items() if source == "words"} \
        == {"bpm", "key", "stems"}
    assert "from the prompt" in hint(window, "bpm") and "126 bpm" in hint(window, "bpm")
    assert "from the prompt" in hint(window, "key") and "Gm" in hint(window, "key")
    assert "303 line" in hint(window, "stems") and "hats" in hint(window, "stems")
    assert "126 bpm" in form.labels["bpm"].toolTip()
    assert form.labels["bpm"].property("source") == "words"
    assert form.stem_group.property("source") == "words"
    assert form.labels["bars"].property("source") == "default"
    assert hint(window, "bars") == "" and not form.words_note.isVisible()
    assert window.generate_button.isEnabled()
    # What Generate sends is what the boxes show.
    request = form.request("words-1")
    assert (request.bpm, request.key, request.stems) == (126.0, "G minor", ("drums", "bass"))
    assert request.prompt == ACID


def test_generate_sends_what_the_words_filled(app: QApplication, tmp_path: Path) -> None:
    """Typed and sent at once (before the debounce ran out): the prompt is read first, and
    the engine makes what the boxes then show."""
    with LocalEngine(tmp_path / "library", model="random-tiny") as engine:
        window = open_window(tmp_path, engine.udp_port)
        try:
            wait_until(lambda: window.link.state.running, 20, "the engine banner to say running")
            window.form.prompt.setFocus()
            QTest.keyClicks(window.form.prompt, ACID)
            window.generate_button.click()
            wait_until(lambda: window.jobs.model.rowCount() == 1
                       and window.jobs.model.record(0).state == "done", 60, "the job to finish")
            record = window.jobs.model.record(0)
            sent = record.request
            assert (sent.bpm, sent.key, sent.bars, sent.time_signature) \
                == (126.0, "G minor", 8, "4/4")
            assert sent.stems == ("drums", "bass") and set(record.stems) == {"drums", "bass"}
            assert record.key == "G minor"
            assert (window.form.bpm.value(), window.form.key.currentData()) == (126, "G minor")
            wait_until(lambda: window.banner.status.text().endswith("ready"), 10,
                       "the banner to see the model loaded")
            wait_until(lambda: window.jobs.stems.count() == 2, 10, "the clips to drag")
            window.jobs.stems.selectAll()  # the view as a producer sees it after the job
            assert window.grab().save(str(SCREENSHOT)) and SCREENSHOT.stat().st_size > 10_000
        finally:
            window.close()


def test_a_box_set_by_hand_keeps_its_value(window: StudioWindow) -> None:
    form = window.form
    type_prompt(window, "squelchy 303 line, 126 bpm")
    assert form.bpm.value() == 126
    # The producer types a tempo into the box: it is theirs from now on.
    form.bpm.setFocus()
    form.bpm.selectAll()
    QTest.keyClicks(form.bpm, "100")
    QTest.keyClick(form.bpm, Qt.Key.Key_Return)
    pause()
    assert form.bpm.value() == 100 and "bpm" in form.hand
    assert "set by hand" in hint(window, "bpm")
    # Typing on changes the other boxes but not that one; the window says which tempo is used.
    erase(window, "126 bpm")
    type_prompt(window, "140 bpm, Dm, 4 bars")
    assert form.bpm.value() == 100
    assert (form.key.currentData(), form.bars.value()) == ("D minor", 4)
    assert form.words_note.isVisible()
    assert "The prompt says 140 BPM ('140 bpm'); the setting 100 BPM is used" \
        in form.words_note.text()
    assert form.request("words-2").bpm == 100
    # A ticked stem makes the stems the producer's too.
    form.stems["keys"].setFocus()
    QTest.keyClick(form.stems["keys"], Qt.Key.Key_Space)
    assert form.stems["keys"].isChecked() and "set by hand" in hint(window, "stems")
    type_prompt(window, ", with strings")
    assert form.chosen_stems() == ("bass", "keys")
    # "follow the prompt" hands a box back: the words fill it again.
    form.hints["bpm"].linkActivated.emit("bpm")
    assert form.bpm.value() == 140 and "from the prompt" in hint(window, "bpm")
    assert form.chosen_stems() == ("bass", "keys")  # still the producer's
    form.hints["stems"].linkActivated.emit("stems")
    assert form.chosen_stems() == ("bass", "strings")


def test_contradictory_words_hold_generate_back(window: StudioWindow) -> None:
    form = window.form
    type_prompt(window, "acid house, 120 bpm, 130 bpm")
    assert form.words_problem == "the prompt gives two tempi: '120 bpm' and '130 bpm'; keep one"
    assert form.words_note.isVisible() and form.words_problem in form.words_note.text()
    assert not window.generate_button.isEnabled()
    assert form.words_problem in window.generate_button.toolTip()
    window.generate()  # a script, or a click that beat the button's disabling: refused
    assert window.form_problem.text() == f"Cannot generate: {PROMPT_CONTRADICTS}"
    with pytest.raises(WordsError, match="two tempi"):
        form.request("words-x")
    assert window.jobs.model.rowCount() == 0
    erase(window, ", 130 bpm")
    assert form.words_problem == "" and window.generate_button.isEnabled()
    assert form.bpm.value() == 120 and "from the prompt" in hint(window, "bpm")
    assert window.form_problem.text() == "" and not form.words_note.isVisible()


def test_deleting_the_tempo_words_gives_the_tempo_back(window: StudioWindow) -> None:
    form = window.form
    type_prompt(window, "squelchy 303 line, 132 bpm")
    assert form.bpm.value() == 132
    erase(window, ", 132 bpm")
    assert form.bpm.value() == 120 and form.resolved.sources["bpm"] == "default"
    assert hint(window, "bpm") == "" and form.labels["bpm"].property("source") == "default"
    # A genre's tempo is the next source when the words name one.
    type_prompt(window, ", drum and bass")
    assert form.bpm.value() == 174 and form.resolved.sources["bpm"] == "genre"
    assert "from the genre" in hint(window, "bpm")


def test_the_daw_session_tempo_beats_the_words(window: StudioWindow, tmp_path: Path) -> None:
    form = window.form
    session = tmp_path / "session"
    FolderAdapter(session, bpm=120, time_signature=(4, 4), sample_rate=44100).commit()
    window.daw_target.choose("folder", session)
    wait_until(lambda: form.session is not None, 10, "the DAW session")
    type_prompt(window, "acid house, 132 bpm, in 3")
    assert (form.bpm.value(), form.meter.currentText()) == (120, "4/4")
    assert "from the DAW session" in hint(window, "bpm")
    note = form.words_note.text()
    assert ("The prompt says 132 BPM ('132 bpm'); the DAW session's 120 BPM is used so the "
            "clips fit its grid") in note
    assert "the DAW session's 4/4 is used" in note
    assert window.generate_button.isEnabled()
    request = form.request("words-3")
    assert (request.bpm, request.time_signature, request.sample_rate) == (120, "4/4", 44100)
    # Deleting the words: the session's tempo stays, and so does nothing to note.
    erase(window, ", 132 bpm, in 3")
    assert form.bpm.value() == 120 and not form.words_note.isVisible()
    # No DAW target any more: the words rule the tempo again.
    type_prompt(window, ", 132 bpm")
    window.daw_target.adapter.setCurrentIndex(0)
    assert form.session is None and form.bpm.value() == 132
    assert not form.words_note.isVisible()


def test_a_preset_and_the_words_added_to_its_prompt(window: StudioWindow) -> None:
    form = window.form
    form.choose_preset("jazz-waltz")  # its prompt names drums, bass and sax; it adds keys
    assert (form.bpm.value(), form.meter.currentText()) == (150, "3/4")
    assert form.chosen_stems() == ("drums", "bass", "keys", "lead")
    assert "from the preset" in hint(window, "stems")
    # Words the producer adds beat the preset; what they leave alone stays the preset's.
    form.prompt.moveCursor(form.prompt.textCursor().MoveOperation.End)
    type_prompt(window, ", 160 bpm, in Eb")
    assert (form.bpm.value(), form.key.currentData()) == (160, "Eb major")
    assert "160 bpm" in hint(window, "bpm") and "from the preset" in hint(window, "bars")
    assert form.chosen_stems() == ("drums", "bass", "keys", "lead")
    # A box set by hand gives way when a preset is chosen: the preset fills them all.
    form.bars.setValue(2)
    assert form.hand == {"bars"} and "set by hand" in hint(window, "bars")
    form.choose_preset("techno")
    assert not form.hand and form.bars.value() == load_preset("techno").bars
    assert "from the preset" in hint(window, "bars")
