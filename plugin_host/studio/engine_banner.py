"""The strip at the top of the window: is the engine there, and what to do if it is not."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from plugin_host.studio.engine_link import EngineLink, EngineState


class EngineBanner(QFrame):
    """Engine status; when it is not running, "Start engine" (or the command to run)."""

    def __init__(self, link: EngineLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("engineBanner")
        self.link = link
        self.status = QLabel()
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint = QLabel()
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint.setObjectName("engineHint")
        self.start_button = QPushButton("Start engine")
        self.start_button.setToolTip(f"Start a Stemloom engine on {link.address} for this "
                                     "window; it stops when the window closes.")
        self.start_button.clicked.connect(link.start)
        self.retry_button = QPushButton("Check again")
        self.retry_button.clicked.connect(link.probe)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.status, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.start_button)
        layout.addWidget(self.retry_button)
        link.changed.connect(self.show_state)
        self.show_state(link.state)

    def show_state(self, state: EngineState) -> None:
        """Show ``state``: green when running, amber with remedies when not."""
        self.status.setText(state.message)
        down = not state.running and not state.checking
        self.setProperty("state", "ok" if state.running else "down" if down else "checking")
        self.style().unpolish(self)
        self.style().polish(self)
        self.start_button.setVisible(down and self.link.can_start)
        self.retry_button.setVisible(down)
        no_start = down and not self.link.can_start
        self.hint.setVisible(no_start)
        if no_start:
            self.hint.setText(f"Start it in a terminal: <code>{self.link.settings.engine_command}"
                              "</code>")
