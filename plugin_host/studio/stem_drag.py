"""The finished job's stems as a list the producer drags files out of, into any application."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

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
