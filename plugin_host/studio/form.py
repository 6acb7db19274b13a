"""The request form: a genre preset, prompt, tempo, length, meter, key, stems; it builds a
Generate request."""

from __future__ import annotations

from PySide6.QtCore import Qt
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
from bridge.messages import Generate
from plugin_host.daw import SessionInfo
from plugin_host.genre_presets import GenrePreset, PresetError, find_presets, load_preset

DEFAULT_STEMS = ("drums", "bass", "keys", "lead")
METERS = ("4/4", "3/4", "6/8", "5/4", "7/8", "12/8", "2/4")
_NOTES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = ("", *(f"{note} {mode}" for mode in ("major", "minor") for note in _NOTES))
NO_PRESET = "No preset"


class GenerateForm(QWidget):
    """Prompt and musical settings; :meth:`request` turns them into a Generate request."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: SessionInfo | None = None
        self.presets = QComboBox()
        self.presets.setToolTip("A genre preset fills the prompt and the settings below")
        self.presets.addItem(NO_PRESET, None)
        self._presets: dict[str, GenrePreset] = {}
        self.load_presets()
        self.presets.currentIndexChanged.connect(self._preset_chosen)
        self.preset_hint = QLabel()
        self.preset_hint.setObjectName("hint")
        self.preset_hint.setWordWrap(True)
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
        self.loop = QCheckBox("Loop (end flows into start)")
        self.stems = {name: QCheckBox(name) for name in limits.STEM_NAMES}
        for name, box in self.stems.items():
            box.setChecked(name in DEFAULT_STEMS)
        self.stems["mix"].setToolTip("One full mix instead of separate stems")
        self.from_session = QLabel()
        self.from_session.setObjectName("hint")
        self._build()

    def _build(self) -> None:
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        fields = (("Tempo", self.bpm), ("Length", self.bars), ("Meter", self.meter),
                  ("Key", self.key), ("Sample rate", self.sample_rate), ("Seed", self.seed))
        for i, (label, widget) in enumerate(fields):
            grid.addWidget(QLabel(label), i // 2, (i % 2) * 2)
            grid.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        stems = QGroupBox("Stems")
        stem_grid = QGridLayout(stems)
        for i, box in enumerate(self.stems.values()):
            stem_grid.addWidget(box, i // 4, i % 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        presets = QHBoxLayout()
        presets.addWidget(QLabel("Preset"))
        presets.addWidget(self.presets, 1)
        layout.addLayout(presets)
        layout.addWidget(self.preset_hint)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt)
        layout.addLayout(grid)
        row = QHBoxLayout()
        row.addWidget(self.loop)
        row.addStretch(1)
        row.addWidget(self.from_session)
        layout.addLayout(row)
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
        """Fill the form from ``preset``; a DAW session's tempo and meter stay, so the clips
        still fit the session."""
        self.prompt.setPlainText(preset.prompt)
        if self.session is None:
            self.bpm.setValue(preset.bpm)
            self.meter.setCurrentText(preset.time_signature)
        self.bars.setValue(preset.bars)
        self.key.setCurrentIndex(max(self.key.findData(preset.key), 0))
        for name, box in self.stems.items():
            box.setChecked(name in preset.stems)
        low, high = preset.bpm_range
        self.bpm.setToolTip(f"{preset.name} lives between {low:g} and {high:g} bpm")
        self.key.setToolTip("Suggested: " + (", ".join(preset.keys) or "any"))
        effects = ", ".join(f"{stem}: {chain}" for stem, chain in preset.effects.items())
        self.preset_hint.setText(preset.description
                                 + (f"\nSuggested effects: {effects}" if effects else ""))

    def _preset_chosen(self) -> None:
        preset = self._presets.get(self.presets.currentData())
        if preset is None:
            self.preset_hint.clear()
            self.bpm.setToolTip("")
            self.key.setToolTip("")
        else:
            self.apply_preset(preset)

    def chosen_stems(self) -> tuple[str, ...]:
        """The ticked stems, in the protocol's order."""
        return tuple(name for name, box in self.stems.items() if box.isChecked())

    def time_signature(self) -> tuple[int, int]:
        """The meter as (numerator, denominator); ValueError if it is not n/d."""
        numerator, _, denominator = self.meter.currentText().strip().partition("/")
        return int(numerator), int(denominator)

    def request(self, request_id: str, melody: str = "") -> Generate:
        """A validated Generate request; ProtocolError says which field is wrong and why."""
        request = Generate(
            request_id=request_id,
            prompt=self.prompt.toPlainText().strip(),
            bpm=round(self.bpm.value(), 3),
            bars=self.bars.value(),
            time_signature=self.meter.currentText().strip(),
            key=self.key.currentData(),
            stems=self.chosen_stems(),
            seed=self.seed.value(),
            melody=melody,
            sample_rate=self.sample_rate.currentData(),
            loop=self.loop.isChecked(),
        )
        request.validate()
        return request

    def apply_session(self, info: SessionInfo) -> None:
        """Take tempo, meter and (when offered) sample rate from the DAW session."""
        self.session = info
        self.bpm.setValue(info.bpm)
        numerator, denominator = info.time_signature
        self.meter.setCurrentText(f"{numerator}/{denominator}")
        rate = self.sample_rate.findData(info.sample_rate)
        if rate >= 0:
            self.sample_rate.setCurrentIndex(rate)
        self.from_session.setText("tempo, meter and rate from the DAW session")
