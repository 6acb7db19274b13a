"""Start the studio: a Qt application around one StudioWindow."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from plugin_host.studio.settings import StudioSettings
from plugin_host.studio.window import StudioWindow


def application() -> QApplication:
    """The process's QApplication (created once, in the Fusion style)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Stemloom Studio")
        app.setStyle("Fusion")
    return app


def run(settings: StudioSettings) -> int:
    """Show the window and run until it closes; returns the exit code."""
    app = application()
    window = StudioWindow(settings)
    window.show()
    return app.exec()
