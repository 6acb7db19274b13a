"""The request form: a genre preset, prompt, tempo, length, meter, key, stems; it builds a
Generate request.

Tempo, length, meter, key and stems follow the words of the prompt as the producer types
(``bridge.words``, 300 ms after the last keystroke), by the project's precedence: a box the
producer set by hand > the DAW session > the words > the chosen genre preset > the genre the
words name > the defaults. A box set by hand keeps its value until its "follow the prompt"
link (or choosing a preset) hands it back; each box says where its value came from.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from bridge import limits
from bridge.keys import NOTE_NAMES
from bridge.messages import Generate
from bridge.words import DEFAULT_STEMS, Reading, Resolved, WordsError, read_prompt, resolve_request
from plugin_host.daw import SessionInfo
from plugin_host.genre_presets import GenrePreset, PresetError, find_presets, load_preset

METERS = ("4/4", "3/4", "6/8", "5/4", "7/8", "12/8", "2/4")
KEYS = ("", *(f"{note} {mode}" for mode in ("major", "minor") for note in NOTE_NAMES))
NO_PRESET = "No preset"
# The fields the words of the prompt can fill, with the names the form shows for them.
SESSION_GRID_TIP = ("The DAW session's: clips placed into it are made on its grid, and the "
                    "session is never retimed")
WORD_FIELDS = {"bpm": "Tempo", "bars": "Length", "time_signature": "Meter", "key": "Key",
               "stems": "Stems"}
# How long after the last keystroke the prompt is read again.
WORDS_DELAY_MS = 300
# What a field's hint says for each source (the words and the genre also quote the words).
_SOURCE_HINTS = {"session": "from the DAW session", "preset": "from the preset",
                 "default": "", "explicit": "set by hand"}
_SOURCE_TIPS = {
    "words": "Read from the prompt: {words}. Edit the prompt, or set this box by hand.",
    "genre": "From the genre the prompt names: {words}. Words in the prompt or a value set "
             "by hand beat it.",
    "session": "From the DAW session, so the clips fit its grid.",
    "preset": "From the chosen preset. Words you add to the prompt beat it.",
    "default": "The default: the prompt says nothing about it.",
    "explicit": "Set by hand: the prompt no longer changes it. Click \u201cfollow the "
                "prompt\u201d to hand it back.",
}


class GenerateForm(QWidget):
    """Prompt and musical settings; :meth:`request` turns them into a Generate request.

    ``words_read`` is emitted each time the prompt was read: "" when its words make sense,
    else the message saying what contradicts what (Generate must wait until it is fixed).
    """

    words_read = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: SessionInfo | None = None
        self.hand: set[str] = set()  # the WORD_FIELDS the producer set by hand
        self.resolved: Resolved | None = None  # the last reading of the prompt that made sense
        self.words_problem = ""  # why the words contradict themselves, if they do
        self._preset: GenrePreset | None = None
        self._filling = False  # the form itself is filling the boxes: not the producer
        self.presets = QComboBox()
        self.presets.setToolTip("A genre preset fills the prompt and the settings below")
        self.presets.addItem(NO_PRESET, None)
        self._presets: dict[str, GenrePreset] = {}
        self.load_presets()
        self.presets.currentIndexChanged.connect(self._preset_chosen)
        self.preset_hint = QLabel()
        self.preset_hint.setObjectName("hint")
        self.preset_hint.setWordWrap(True)
        self.preset_hint.hide()
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What should it sound like? e.g. dusty lo-fi drums, "
                                       "round sub bass and mellow rhodes")
        self.prompt.setFixedHeight(72)
        self.bpm = QDoubleSpinBox()
        self.bpm.setRange(limits.MIN_BPM, limits.MAX_BPM)
        self.bpm.setDecimals(1)
        self.bpm.setValue(120.0)
        self.bpm.setSuffix(" bpm")
        self.bars = QSpinBox()
        self.bars.setRange(limits.MIN_BARS, limits.MAX_BARS)
        self.bars.setValue(8)
        self.bars.setSuffix(" bars")
        self.bars.valueChanged.connect(
            lambda bars: self.bars.setSuffix(" bar" if bars == 1 else " bars"))
        self.meter = QComboBox()
        self.meter.setEditable(True)  # any n/d the protocol accepts, not only the common ones
        self.meter.addItems(METERS)
        self.key = QComboBox()
        for key in KEYS:
            self.key.addItem(key or "Model chooses", key)
        self.sample_rate = QComboBox()
        for rate in limits.SAMPLE_RATES:
            self.sample_rate.addItem(f"{rate / 1000:g} kHz", rate)
        self.sample_rate.setCurrentIndex(limits.SAMPLE_RATES.index(48000))
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("random")
        self.takes = QSpinBox()
        self.takes.setRange(1, limits.MAX_VARIATIONS)
        self.takes.setToolTip("Variations of the same request, to compare side by side")
        self.loop = QCheckBox("Loop (end flows into start)")
        self.stems = {name: QCheckBox(name) for name in limits.STEM_NAMES}
        for name, box in self.stems.items():
            box.setChecked(name in DEFAULT_STEMS)
        self.stems["mix"].setToolTip("One full mix instead of separate stems")
        self.from_session = QLabel()
        self.from_session.setObjectName("hint")
        self.labels = {name: QLabel(label) for name, label in WORD_FIELDS.items()
                       if name != "stems"}
        self.stem_group = QGroupBox("Stems")
        # Per field: where its value came from ("from the prompt: '126 bpm'", "set by hand").
        self.hints: dict[str, QLabel] = {}
        for name in WORD_FIELDS:
            hint = QLabel()
            hint.setObjectName("fieldHint")
            hint.setTextFormat(Qt.TextFormat.RichText)
            hint.linkActivated.connect(self.follow_prompt)
            self.hints[name] = hint
        # The words' disagreements with the DAW session or the boxes, or their contradiction.
        self.words_note = QLabel()
        self.words_note.setObjectName("wordsNote")
        self.words_note.setWordWrap(True)
        self.words_note.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the prompt
        self.words_note.hide()
        self._words_timer = QTimer(self)
        self._words_timer.setSingleShot(True)
        self._words_timer.setInterval(WORDS_DELAY_MS)
        self._words_timer.timeout.connect(self.read_words)
        self.prompt.textChanged.connect(self._words_timer.start)
        self.bpm.valueChanged.connect(lambda: self._touched("bpm"))
        self.bars.valueChanged.connect(lambda: self._touched("bars"))
        self.meter.currentTextChanged.connect(lambda: self._touched("time_signature"))
        self.key.currentIndexChanged.connect(lambda: self._touched("key"))
        for box in self.stems.values():
            box.toggled.connect(lambda: self._touched("stems"))
        self._build()
        self.read_words()

    def _build(self) -> None:
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        fields = (("bpm", self.bpm), ("bars", self.bars), ("time_signature", self.meter),
                  ("key", self.key), ("Sample rate", self.sample_rate), ("Seed", self.seed),
                  ("Takes", self.takes))
        for i, (name, widget) in enumerate(fields):
            row, column = i // 2 * 2, (i % 2) * 2
            grid.addWidget(self.labels.get(name) or QLabel(name), row, column)
            grid.addWidget(widget, row, column + 1)
            if name in self.hints:  # the hint under the box, where the eye checks the value
                grid.addWidget(self.hints[name], row + 1, column + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        stems = self.stem_group
        stem_grid = QGridLayout(stems)
        for i, box in enumerate(self.stems.values()):
            stem_grid.addWidget(box, i // 4, i % 4)
        stem_grid.addWidget(self.hints["stems"], 2, 0, 1, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        presets = QHBoxLayout()
        presets.addWidget(QLabel("Preset"))
        presets.addWidget(self.presets, 1)
        layout.addLayout(presets)
        layout.addWidget(self.preset_hint)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt)
        layout.addWidget(self.words_note)
        layout.addLayout(grid)
        options = QHBoxLayout()
        options.addWidget(self.loop)
        options.addStretch(1)
        options.addWidget(self.from_session)
        layout.addLayout(options)
        layout.addWidget(stems)

    def load_presets(self) -> None:
        """(Re)list the shipped and the user's genre presets; a broken one is left out and
        named in the combo box's tooltip."""
        found, problems = find_presets()
        self._presets.clear()
        while self.presets.count() > 1:
            self.presets.removeItem(1)
        for name in found:
            try:
                preset = load_preset(name)
            except PresetError as error:
                problems.append(str(error))
                continue
            self._presets[name] = preset
            label = name if preset.shipped else f"{name} (yours)"
            self.presets.addItem(label, name)
            self.presets.setItemData(self.presets.count() - 1, preset.description,
                                     Qt.ItemDataRole.ToolTipRole)
        if problems:
            self.presets.setToolTip("Some presets were skipped: " + "; ".join(problems))

    def choose_preset(self, name: str) -> None:
        """Select the preset called ``name`` (which fills the form); ValueError if unknown."""
        index = self.presets.findData(name)
        if index < 0:
            raise ValueError(f"no preset {name!r}")
        self.presets.setCurrentIndex(index)

    def apply_preset(self, preset: GenrePreset) -> None:
        """Fill the form from ``preset``: its prompt, and its settings where nothing stronger
        says otherwise (a DAW session's tempo and meter stay, so the clips still fit the
        session). Boxes set by hand are handed back: choosing a preset fills them all."""
        self._preset = preset
        self.hand.clear()
        self.prompt.setPlainText(preset.prompt)
        low, high = preset.bpm_range
        self.bpm.setToolTip(f"{preset.name} lives between {low:g} and {high:g} bpm")
        self.key.setToolTip("Suggested: " + (", ".join(preset.keys) or "any"))
        effects = ", ".join(f"{stem}: {chain}" for stem, chain in preset.effects.items())
        self.preset_hint.setText(preset.description
                                 + (f"\nSuggested effects: {effects}" if effects else ""))
        self.preset_hint.setVisible(bool(self.preset_hint.text()))
        self.read_words()

    def _preset_chosen(self) -> None:
        preset = self._presets.get(self.presets.currentData())
        if preset is None:
            self._preset = None
            self.preset_hint.clear()
            self.preset_hint.hide()  # no empty line taking room from the boxes below
            self.bpm.setToolTip("")
            self.key.setToolTip("")
            self.read_words()
        else:
            self.apply_preset(preset)

    def chosen_stems(self) -> tuple[str, ...]:
        """The ticked stems, in the protocol's order."""
        return tuple(name for name, box in self.stems.items() if box.isChecked())

    def time_signature(self) -> tuple[int, int]:
        """The meter as (numerator, denominator); ValueError if it is not n/d."""
        numerator, _, denominator = self.meter.currentText().strip().partition("/")
        return int(numerator), int(denominator)

    def request(self, request_id: str, melody: str = "", melody_timing: str = "free"
                ) -> Generate:
        """A validated Generate request from what the boxes show (the prompt is read first if
        the producer is still typing); ProtocolError says which field is wrong and why,
        WordsError what in the prompt contradicts what."""
        if self._words_timer.isActive():
            self.read_words()
        if self.words_problem:
            raise WordsError(self.words_problem)
        request = Generate(
            request_id=request_id,
            prompt=self.prompt.toPlainText().strip(),
            bpm=round(self.bpm.value(), 3),
            bars=self.bars.value(),
            time_signature=self.meter.currentText().strip(),
            key=self.key.currentData(),
            stems=self.chosen_stems(),
            seed=self.seed.value(),
            variations=self.takes.value(),
            melody=melody,
            melody_timing=melody_timing,
            sample_rate=self.sample_rate.currentData(),
            loop=self.loop.isChecked(),
        )
        request.validate()
        return request

    def apply_session(self, info: SessionInfo) -> None:
        """Take tempo, meter and (when offered) sample rate from the DAW session; a tempo or
        meter set by hand gives way to a session whose tempo or meter is new (the clips must
        fit its grid); reading the same session again leaves them be."""
        before = self.session
        if before is None or (before.bpm, before.time_signature) != (info.bpm,
                                                                     info.time_signature):
            self.hand -= {"bpm", "time_signature"}
        self.session = info
        for box in (self.bpm, self.meter):  # the session's grid wins: never clips off it
            box.setEnabled(False)
            box.setToolTip(SESSION_GRID_TIP)
        rate = self.sample_rate.findData(info.sample_rate)
        if rate >= 0:
            self.sample_rate.setCurrentIndex(rate)
        self.from_session.setText("sample rate from the DAW session")
        self.read_words()

    def clear_session(self) -> None:
        """No DAW session any more: tempo and meter follow the next source again."""
        if self.session is None:
            return
        self.session = None
        for box in (self.bpm, self.meter):
            box.setEnabled(True)
            box.setToolTip("")
        self.from_session.clear()
        self.read_words()

    # -- the words of the prompt ---------------------------------------------------------

    def follow_prompt(self, field: str = "") -> None:
        """Hand box ``field`` (every box when "") back to the prompt and its sources."""
        if field:
            self.hand.discard(field)
        else:
            self.hand.clear()
        self.read_words()

    def read_words(self) -> Resolved | None:
        """Read the prompt now and fill every box not set by hand from the strongest source;
        mark where each value came from. Returns what was resolved, or None when the words
        contradict themselves (then ``words_problem`` says how, and nothing is filled)."""
        self._words_timer.stop()
        try:
            resolved = resolve_request(self.prompt.toPlainText(), explicit=self._explicit(),
                                       session=self._session_fields(),
                                       preset=self._preset_fields(),
                                       reading=self._reading())
        except WordsError as error:
            self.words_problem = str(error)
            self._show_note(f"The prompt contradicts itself: {error}", problem=True)
            self.words_read.emit(self.words_problem)
            return None
        self.words_problem = ""
        self.resolved = resolved
        self._fill(resolved)
        self._mark(resolved)
        notes = [note[:1].upper() + note[1:] for note in resolved.notes]
        self._show_note(". ".join(notes) + ("." if notes else ""), problem=False)
        self.words_read.emit("")
        return resolved

    def _touched(self, field: str) -> None:
        """A box changed: the producer's doing unless the form is filling it."""
        if self._filling:
            return
        self.hand.add(field)
        self._mark_hand(field)
        self._words_timer.start()  # the notes may change: "the setting 100 BPM is used"

    @contextmanager
    def _filling_boxes(self) -> Iterator[None]:
        self._filling = True
        try:
            yield
        finally:
            self._filling = False

    def _explicit(self) -> dict[str, Any]:
        values: dict[str, Any] = {"bpm": self.bpm.value(), "bars": self.bars.value(),
                                  "key": self.key.currentData(),
                                  "stems": self.chosen_stems()}
        try:
            numerator, denominator = self.time_signature()
            values["time_signature"] = f"{numerator}/{denominator}"
        except ValueError:
            pass  # half typed: the request says what is wrong with it
        return {name: value for name, value in values.items() if name in self.hand}

    def _session_fields(self) -> dict[str, Any] | None:
        if self.session is None:
            return None
        numerator, denominator = self.session.time_signature
        return {"bpm": self.session.bpm, "time_signature": f"{numerator}/{denominator}"}

    def _preset_fields(self) -> dict[str, Any] | None:
        preset = self._preset
        if preset is None:
            return None
        return {"bpm": preset.bpm, "bars": preset.bars, "time_signature": preset.time_signature,
                "key": preset.key, "stems": preset.stems}

    def _reading(self) -> Reading:
        """The prompt's words. With a preset chosen, what the preset's own prompt says is
        left to the preset's settings (they were chosen with it): only the words the producer
        added or changed beat the preset."""
        reading = read_prompt(self.prompt.toPlainText())
        if self._preset is None:
            return reading
        try:
            own = read_prompt(self._preset.prompt)
        except WordsError:
            return reading
        same: dict[str, Any] = {
            name: None for name in ("bpm", "key", "time_signature", "bars", "seconds", "stems")
            if getattr(reading, name) is not None
            and getattr(reading, name) == getattr(own, name)}
        return replace(reading, **same)

    def _fill(self, resolved: Resolved) -> None:
        with self._filling_boxes():
            if "bpm" not in self.hand:
                self.bpm.setValue(resolved.bpm)
            if "bars" not in self.hand:
                self.bars.setValue(resolved.bars)
            if "time_signature" not in self.hand:
                self.meter.setCurrentText(resolved.time_signature)
            if "key" not in self.hand:
                self.key.setCurrentIndex(max(self.key.findData(resolved.key), 0))
            if "stems" not in self.hand:
                for name, box in self.stems.items():
                    box.setChecked(name in resolved.stems)

    def _mark(self, resolved: Resolved) -> None:
        """Say beside each box where its value came from."""
        for name in WORD_FIELDS:
            source = "explicit" if name in self.hand else resolved.sources[name]
            self._set_source(name, source, resolved.words.get(name, ""))

    def _mark_hand(self, field: str) -> None:
        self._set_source(field, "explicit", "")

    def _set_source(self, field: str, source: str, words: str) -> None:
        quoted = f"\u201c{html.escape(words)}\u201d"
        if source == "words":
            text = f"from the prompt: {quoted}"
        elif source == "genre":
            text = f"from the genre: {quoted}"
        elif source == "explicit":
            text = ("set by hand \u00b7 "
                    f'<a href="{field}" style="color:#3559e0">follow the prompt</a>')
        else:
            text = _SOURCE_HINTS[source]
        hint = self.hints[field]
        hint.setText(text)
        tip = _SOURCE_TIPS[source].format(words=f"\u201c{words}\u201d")
        hint.setToolTip(tip)
        marked: QWidget = self.stem_group if field == "stems" else self.labels[field]
        marked.setToolTip(tip)
        for widget in (hint, marked):
            widget.setProperty("source", source)
            widget.style().unpolish(widget)
            widget.style().polish(widget)

    def _show_note(self, text: str, problem: bool) -> None:
        self.words_note.setText(text)
        self.words_note.setVisible(bool(text))
        self.words_note.setProperty("problem", problem)
        self.words_note.style().unpolish(self.words_note)
        self.words_note.style().polish(self.words_note)
