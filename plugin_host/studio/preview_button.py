"""Play / Stop for a clip, through the host's preview player (the default output device)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from plugin_host.audio_devices import AudioDeviceError
from plugin_host.preview import ClipPlayer


class PreviewButton(QPushButton):
    """Toggles playback of the clip ``clip()`` names; ``problem`` says why it cannot play."""

    problem = Signal(str)

    def __init__(self, clip: Callable[[], Path | None], device: int | str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("▶ Play", parent)
        self.clip = clip
        self.device = device
        self.player: ClipPlayer | None = None
        self.setToolTip("Play the selected stem")
        self.clicked.connect(self.toggle)
        self._watch = QTimer(self)
        self._watch.setInterval(200)
        self._watch.timeout.connect(self._check_ended)

    def toggle(self) -> None:
        """Play the clip, or stop it if it is playing."""
        if self.player is not None and self.player.playing:
            self.stop()
            return
        path = self.clip()
        if path is None:
            return
        try:
            if self.player is None:
                self.player = ClipPlayer(self.device)  # opens PortAudio on first use only
            self.player.play(path)
        except (AudioDeviceError, ValueError) as error:
            self.problem.emit(f"Cannot play {path.name}: {error}")
            return
        self.setText("■ Stop")
        self._watch.start()

    def stop(self) -> None:
        """Stop playback (the device stays open for the next play)."""
        if self.player is not None:
            self.player.stop()
        self._check_ended()

    def close_device(self) -> None:
        """Stop and release the output device (the window is closing)."""
        if self.player is not None:
            self.player.close()

    def _check_ended(self) -> None:
        if self.player is None or not self.player.playing:
            self._watch.stop()
            self.setText("▶ Play")
