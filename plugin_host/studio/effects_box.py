"""Effect chains on finished stems: pick a preset, apply it to the stems selected in the job
panel. The processed clips replace those stems for preview, drag and "Send to DAW"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QPushButton, QWidget

from plugin_host.effect_presets import EffectPreset, PresetError, list_presets, load_preset
from plugin_host.effects import apply_to_stems, build_chain
from plugin_host.studio.job_panel import JobPanel
from plugin_host.studio.threads import run_in_thread

NO_EFFECTS = "No effects (original)"


def process_stems(originals: dict[str, Path], stems: list[str],
                  preset: EffectPreset | None) -> dict[str, Path]:
    """Clips of ``stems`` through ``preset``'s chain (None: the originals), from the original
    clips, so presets never stack; stem -> file, for the chosen stems only."""
    if preset is None:
        return {stem: originals[stem] for stem in stems}
    processed = apply_to_stems(originals, build_chain(preset), preset.name, only=stems)
    return {stem: processed[stem] for stem in stems}


class EffectsBox(QGroupBox):
    """Preset picker and "Apply to selected stems"; ``status`` reports what happened."""

    status = Signal(str)

    def __init__(self, jobs: JobPanel, parent: QWidget | None = None) -> None:
        super().__init__("Effects", parent)
        self.jobs = jobs
        self.presets: dict[str, EffectPreset] = {}
        self.preset = QComboBox()
        self.preset.addItem(NO_EFFECTS, None)
        self.apply_button = QPushButton("Apply to selected stems")
        self.apply_button.setToolTip("Process the selected stems of the selected job through "
                                     "the preset (always from the original clip)")
        self.apply_button.clicked.connect(self.apply)
        layout = QHBoxLayout(self)
        layout.addWidget(self.preset, 1)
        layout.addWidget(self.apply_button)
        jobs.stems.itemSelectionChanged.connect(self._update)
        self._busy = False
        self._update()
        # Checking a preset builds its effects (imports pedalboard): not on the GUI thread.
        run_in_thread(_load_all, self._loaded, self._load_failed, name="effect-presets")

    def apply(self) -> None:
        """Process the selected stems in a worker thread, then show the new clips."""
        record = self.jobs.selected()
        stems = self.jobs.stems.selected_stems()
        if record is None or not stems or record.id not in self.jobs.originals:
            return
        originals = self.jobs.originals[record.id]
        preset = self.presets.get(self.preset.currentData())
        label = preset.name if preset else "no effects"
        self._busy = True
        self._update()
        self.status.emit(f"Applying {label} to {', '.join(stems)}…")

        def done(clips: dict[str, Path]) -> None:
            self._busy = False
            self.jobs.replace_clips(record.id, clips,
                                    dict.fromkeys(stems, preset.name if preset else ""))
            self._update()
            self.status.emit(f"{label.capitalize()} on {', '.join(stems)}")

        def failed(error: BaseException) -> None:
            self._busy = False
            self._update()
            self.status.emit(f"Could not apply {label}: {error}")

        run_in_thread(lambda: process_stems(originals, stems, preset), done, failed,
                      name="effects")

    def _loaded(self, found: tuple[dict[str, EffectPreset], list[str]]) -> None:
        self.presets, problems = found
        for name, preset in self.presets.items():
            self.preset.addItem(name, name)
            self.preset.setItemData(self.preset.count() - 1, preset.description,
                                    Qt.ItemDataRole.ToolTipRole)
        if problems:
            self.status.emit("Some effect presets were skipped: " + "; ".join(problems))

    def _load_failed(self, error: BaseException) -> None:
        self.preset.setToolTip(f"The effect presets could not be loaded: {error}")

    def _update(self) -> None:
        record = self.jobs.selected()
        ready = (record is not None and record.id in self.jobs.originals
                 and bool(self.jobs.stems.selected_stems()))
        self.apply_button.setEnabled(ready and not self._busy)


def _load_all() -> tuple[dict[str, EffectPreset], list[str]]:
    """Every shipped preset that loads, and a line for each one that does not."""
    presets: dict[str, EffectPreset] = {}
    problems: list[str] = []
    for name in list_presets():
        try:
            presets[name] = load_preset(name)
        except PresetError as error:
            problems.append(str(error))
    return presets, problems
