"""Where "Send to DAW" puts the stems: an adapter and its session, whose tempo fills the form."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from plugin_host.daw import LIVE_DAWS, SessionInfo, adapter_names
from plugin_host.placement import open_adapter
from plugin_host.studio.threads import run_in_thread

_NONE = "(none: drag stems out instead)"
# File filters for adapters whose session is one file; the others take a folder.
_FILE_FILTERS = {"dawproject": "DAWproject (*.dawproject)", "reaper": "REAPER project (*.RPP)"}


def read_session(daw: str, target: str) -> SessionInfo:
    """Tempo, meter, cursor and sample rate of the session ``target`` (a path; "" for a
    running DAW) through adapter ``daw``."""
    return open_adapter(daw, Path(target).expanduser() if target else None).session_info()


class DawTargetBox(QGroupBox):
    """Adapter picker and session path; ``session_read`` carries the session's facts,
    ``session_gone`` says there is no session to fit any more (none chosen, or unreadable)."""

    session_read = Signal(object)
    session_gone = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("DAW target", parent)
        self.adapter = QComboBox()
        self.adapter.addItem(_NONE, None)
        for name in adapter_names():
            self.adapter.addItem(name, name)
        self.path = QLineEdit()
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.session = QLabel()
        self.session.setWordWrap(True)
        self.session.setTextFormat(Qt.TextFormat.PlainText)  # error texts may hold < or &
        self.session.setObjectName("hint")
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        layout = QFormLayout(self)
        layout.addRow("Adapter", self.adapter)
        layout.addRow("Session", row)
        layout.addRow("", self.session)
        self.adapter.currentIndexChanged.connect(self._adapter_changed)
        self.path.editingFinished.connect(self.refresh)
        self._adapter_changed()

    def target(self) -> tuple[str, str] | None:
        """(adapter name, session path; "" for a running DAW) when chosen, else None."""
        name = self.adapter.currentData()
        if name in LIVE_DAWS:
            return name, ""
        text = self.path.text().strip()
        return (name, text) if name and text else None

    def choose(self, daw: str, dest: str | Path) -> None:
        """Select adapter ``daw`` and session ``dest`` (ValueError for an unknown adapter)."""
        index = self.adapter.findData(daw)
        if index < 0:
            raise ValueError(f"unknown DAW adapter {daw!r}; known: {', '.join(adapter_names())}")
        self.path.setText(str(dest))
        if index == self.adapter.currentIndex():
            self.refresh()
        else:
            self.adapter.setCurrentIndex(index)  # refreshes through currentIndexChanged

    def refresh(self) -> None:
        """Read the chosen session in a worker thread (a DAW may take a moment to answer)."""
        target = self.target()
        if target is None:
            self._say("Choose an adapter and a session to place stems into.")
            self.session_gone.emit()
            return
        daw, path = target
        if daw not in LIVE_DAWS and not Path(path).expanduser().exists():
            self._say("A new session: it will be made at this request's tempo and meter.")
            self.session_gone.emit()
            return
        self._say("Reading the session…")
        run_in_thread(lambda: read_session(*target), self._read, self._failed,
                      name="daw-session")

    def _read(self, info: SessionInfo) -> None:
        numerator, denominator = info.time_signature
        self._say(f"{info.bpm:g} bpm · {numerator}/{denominator} · "
                  f"{info.sample_rate / 1000:g} kHz · cursor at bar {info.cursor_bar:g}")
        self.session_read.emit(info)

    def _failed(self, error: BaseException) -> None:
        self._say(f"Cannot read the session: {error}", problem=True)
        self.session_gone.emit()

    def _say(self, text: str, problem: bool = False) -> None:
        self.session.setText(text)
        self.session.setProperty("problem", problem)
        self.session.style().unpolish(self.session)
        self.session.style().polish(self.session)

    def _adapter_changed(self) -> None:
        running = self.adapter.currentData() in LIVE_DAWS
        self.path.setEnabled(not running)
        self.browse.setEnabled(not running)
        self.path.setPlaceholderText("the DAW running on this machine" if running
                                     else "session folder or project file")
        self.refresh()

    def _browse(self) -> None:
        name = self.adapter.currentData()
        if name is None:
            return
        if name in _FILE_FILTERS:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Session file", self.path.text(), _FILE_FILTERS[name],
                options=QFileDialog.Option.DontConfirmOverwrite)
        else:
            chosen = QFileDialog.getExistingDirectory(self, "Session folder", self.path.text())
        if chosen:
            self.path.setText(chosen)
            self.refresh()
