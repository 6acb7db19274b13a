"""The finished job's stems as a list the producer drags files out of, into any application,
and a button to drag the melody's MIDI clip from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def file_urls_mime(paths: Iterable[Path]) -> QMimeData:
    """Mime data naming ``paths`` as local file URLs (text/uri-list), what DAWs, file managers
    and browsers accept as dropped files."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path.resolve())) for path in paths])
    return mime


class StemList(QListWidget):
    """One row per stem clip; dragging rows drags their files (copied, never moved)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setToolTip("Drag stems into your DAW's arrangement (or any app that takes files)")

    def show_stems(self, clips: dict[str, Path], effects: dict[str, str] | None = None) -> None:
        """List ``clips`` (stem -> file) with the effect applied to each, if any, keeping the
        selection of stems still listed."""
        selected = set(self.selected_stems())
        effects = effects or {}
        self.clear()
        for stem, path in clips.items():
            item = QListWidgetItem(f"{stem}  —  {effects[stem]}" if effects.get(stem) else stem)
            item.setData(PATH_ROLE, str(path))
            item.setData(Qt.ItemDataRole.UserRole, stem)
            item.setToolTip(str(path))
            self.addItem(item)
            item.setSelected(stem in selected)

    def selected_stems(self) -> list[str]:
        """Stem names of the selected rows."""
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.selectedItems()]

    def selected_paths(self) -> list[Path]:
        """Files of the selected rows."""
        return [Path(item.data(PATH_ROLE)) for item in self.selectedItems()]

    def mimeData(self, items: Sequence[QListWidgetItem]) -> QMimeData:
        """The dragged rows' files as file URLs."""
        return file_urls_mime(Path(item.data(PATH_ROLE)) for item in items)

    def startDrag(self, supported: Qt.DropAction) -> None:
        """Drag the selected stems' files out as a copy (the clips stay for the next drag)."""
        items = self.selectedItems()
        if not items:
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData(items))
        drag.exec(Qt.DropAction.CopyAction)


class ClipDragButton(QPushButton):
    """A button that is a drag source for one file (disabled while there is none)."""

    def __init__(self, text: str, tip: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setToolTip(tip)
        self.path: Path | None = None
        self._pressed_at: QPoint | None = None
        self.set_clip(None)

    def set_clip(self, path: Path | None) -> None:
        """Offer ``path`` for dragging, or nothing."""
        self.path = path
        self.setEnabled(path is not None)

    def mime(self) -> QMimeData:
        """The offered file as a file URL."""
        return file_urls_mime([self.path] if self.path else [])

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Remember where a drag may start."""
        self._pressed_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Past the platform's drag distance, drag the file out as a copy."""
        moved = (self._pressed_at is not None
                 and (event.position().toPoint() - self._pressed_at).manhattanLength()
                 >= QApplication.startDragDistance())
        if self.path is None or not moved:
            super().mouseMoveEvent(event)
            return
        self._pressed_at = None
        self.setDown(False)
        drag = QDrag(self)
        drag.setMimeData(self.mime())
        drag.exec(Qt.DropAction.CopyAction)
