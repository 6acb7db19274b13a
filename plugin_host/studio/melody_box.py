"""The melody reference: hum a take (count-in, level meter, silence/clip check) or pick a MIDI
file; either is sent to the engine as the request's ``melody`` path."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from plugin_host.audio_devices import AudioDeviceError
from plugin_host.click import beat_seconds
from plugin_host.hum_capture import HumRecorder, save_take
from plugin_host.levels import FLOOR_DBFS, TakeError
from plugin_host.midi_in import Melody, MidiReadError, read_melody
from plugin_host.studio.threads import run_in_thread

# (bpm, time signature, bars) the hum is sung to: the form's current values.
TempoSource = Callable[[], tuple[float, tuple[int, int], int]]
_METER_FLOOR_DB = -60
_METER_HZ = 30


class AudioDevices(TypedDict):
    """The devices a take is recorded with (HumRecorder's keyword arguments)."""

    input_device: int | str | None
    output_device: int | str | None


class MelodyBox(QGroupBox):
    """Holds the current melody file; records hums into ``hum_folder``."""

    def __init__(self, tempo: TempoSource, hum_folder: Path, *,
                 input_device: int | str | None = None, output_device: int | str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("Melody reference (optional)", parent)
        self.tempo = tempo
        self.hum_folder = hum_folder
        self.devices = AudioDevices(input_device=input_device, output_device=output_device)
        self.melody: Path | None = None
        self._recorder: HumRecorder | None = None
        self._count_in_ends = 0.0
        self._bar_seconds = 0.0
        self._bars = 0
        self.record_button = QPushButton("● Record hum")
        self.record_button.setToolTip("Count in, then hum the melody for the form's length "
                                      "(Stop ends the take early).")
        self.record_button.clicked.connect(self.toggle_recording)
        self.midi_button = QPushButton("MIDI file…")
        self.midi_button.setToolTip("Use the notes of a MIDI file as the melody")
        self.midi_button.clicked.connect(self._pick_midi)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(lambda: self.set_melody(None))
        self.count_in = QSpinBox()
        self.count_in.setRange(0, 16)
        self.count_in.setValue(4)
        self.count_in.setSuffix(" beats")
        self.count_in.setToolTip("Clicks before the take starts")
        self.level = QProgressBar()
        self.level.setRange(_METER_FLOOR_DB, 0)
        self.level.setValue(_METER_FLOOR_DB)
        self.level.setFormat("input level")
        self.level.setTextVisible(True)
        self.level.setFixedHeight(16)
        self.current = QLabel()
        self.current.setTextFormat(Qt.TextFormat.PlainText)
        self.current.setWordWrap(True)
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // _METER_HZ)
        self._timer.timeout.connect(self._poll)
        buttons = QHBoxLayout()
        for button in (self.record_button, self.midi_button, self.clear_button):
            buttons.addWidget(button)
        layout = QGridLayout(self)
        layout.addLayout(buttons, 0, 0, 1, 4)
        layout.addWidget(QLabel("Count-in"), 1, 0)
        layout.addWidget(self.count_in, 1, 1)
        layout.addWidget(self.level, 1, 2, 1, 2)
        layout.addWidget(self.current, 2, 0, 1, 4)
        layout.setColumnStretch(2, 1)
        self.set_melody(None)

    def set_melody(self, path: Path | None, note: str = "",
                   sung_to: tuple[float, tuple[int, int]] | None = None) -> None:
        """Use ``path`` as the melody reference (None: no reference); ``sung_to`` is the
        (bpm, meter) of the click a take recorded here was sung to, after its count-in."""
        self.melody = path
        self._sung_to = sung_to
        self.clear_button.setEnabled(path is not None)
        self._say(note or (f"Melody: {path.name}" if path else "No melody: the model invents one."))

    def timing(self, bpm: float, meter: tuple[int, int]) -> str:
        """How the engine should lay the melody on a request at ``bpm`` in ``meter``: a take
        sung here to that click keeps its timing, anything else has its own beats found."""
        return "click" if self._sung_to == (bpm, meter) else "free"

    def toggle_recording(self) -> None:
        """Start a take, or stop the one running."""
        if self._recorder is not None:
            self._recorder.stop()
            return
        try:
            bpm, meter, bars = self.tempo()
            recorder = HumRecorder(bpm, meter, count_in_beats=self.count_in.value(),
                                   **self.devices)
            recorder.start(bars)
        except (AudioDeviceError, ValueError) as error:
            self._say(f"Cannot record: {error}", problem=True)
            return
        self._recorder = recorder
        beat = beat_seconds(bpm, meter)
        self._count_in_ends = time.monotonic() + self.count_in.value() * beat
        self._bar_seconds, self._bars = beat * meter[0], bars
        self._recording_tempo = (bpm, meter)
        path = self.hum_folder / f"hum-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}.wav"
        self.hum_folder.mkdir(parents=True, exist_ok=True)
        self.record_button.setText("■ Stop")
        self._timer.start()
        run_in_thread(lambda: save_take(recorder.wait(), path), self._recorded,
                      self._not_recorded, name="hum-take")

    def _recorded(self, path: Path) -> None:
        self._finish()
        self.set_melody(path, f"Melody: hum {path.name}", sung_to=self._recording_tempo)

    def _not_recorded(self, error: BaseException) -> None:
        self._finish()
        if isinstance(error, TakeError):
            self._say(f"Hum not used: {error}", problem=True)
        else:
            self._say(f"Recording failed: {error}", problem=True)

    def _finish(self) -> None:
        self._timer.stop()
        if self._recorder is not None:
            self._recorder.close()
        self._recorder = None
        self.record_button.setText("● Record hum")
        self.level.setValue(_METER_FLOOR_DB)
        self.level.setFormat("input level")

    def close_devices(self) -> None:
        """Abandon a running take (the window is closing)."""
        if self._recorder is not None:
            self._recorder.close()

    def _poll(self) -> None:
        if self._recorder is None:
            return
        level = self._recorder.meter.read()
        self.level.setValue(max(_METER_FLOOR_DB, round(level.rms_dbfs)))
        self.level.setFormat("CLIP" if level.clipped else
                             f"{level.peak_dbfs:.0f} dBFS" if level.peak_dbfs > FLOOR_DBFS
                             else "silence")
        recorded = self._recorder.take_seconds
        if recorded > 0:
            bar = min(self._bars, int(recorded / self._bar_seconds) + 1)
            self._say(f"● Recording — hum now (bar {bar} of {self._bars})")
        else:  # the device clock decides when the take starts; the wall clock counts down
            remaining = max(0.0, self._count_in_ends - time.monotonic())
            self._say(f"Count-in… {remaining:.1f} s")

    def _pick_midi(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Melody MIDI file", "",
                                                "MIDI files (*.mid *.midi)")
        if chosen:
            self.use_midi(Path(chosen))

    def use_midi(self, path: Path) -> None:
        """Read the melody of the MIDI file ``path`` (off the GUI thread) and use the file
        if it has one; say why not otherwise."""
        self._say(f"Reading {path.name}…")

        def read(melody: Melody) -> None:
            self.set_melody(path, f"Melody: {path.name} — {len(melody.notes)} notes from "
                                  f"“{melody.part}”")

        def unreadable(error: BaseException) -> None:
            reason = error if isinstance(error, MidiReadError) else f"cannot read it: {error}"
            self._say(f"MIDI file not used: {reason}", problem=True)

        run_in_thread(lambda: read_melody(path), read, unreadable, name="midi-melody")

    def _say(self, text: str, problem: bool = False) -> None:
        self.current.setText(text)
        self.current.setProperty("problem", problem)
        self.current.style().unpolish(self.current)
        self.current.style().polish(self.current)
