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
    QTabBar,
    QWidget,
)

from bridge.takes import base_of, take_of
from plugin_host.studio.stem_row import FACTS_ROLE, LABEL_ROLE, OVERVIEW_ROLE, StemRowDelegate
from plugin_host.studio.waveform import clip_overview

PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def file_urls_mime(paths: Iterable[Path]) -> QMimeData:
    """Mime data naming ``paths`` as local file URLs (text/uri-list), what DAWs, file managers
    and browsers accept as dropped files."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path.resolve())) for path in paths])
    return mime


class StemList(QListWidget):
    """One row per stem clip (grip, name, tempo, key, bars, waveform); dragging rows drags
    their files (copied, never moved).

    A job with several variations ('drums.1', 'drums.2', ...) shows one take at a time:
    ``takes`` (a tab bar to lay out above the list) switches between them, keeping the same
    stems selected, so takes are compared by flipping tabs and playing.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setToolTip("Drag stems by their grip into your DAW's arrangement (or any app "
                        "that takes files)")
        self.setItemDelegate(StemRowDelegate(self))
        self.setUniformItemSizes(True)
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        self.takes = QTabBar()
        self.takes.setDocumentMode(True)
        self.takes.setExpanding(False)
        self.takes.setToolTip("Variations of this job: flip between takes to compare them")
        self.takes.hide()
        self.takes.currentChanged.connect(lambda _: self._show_take())
        self._clips: dict[str, Path] = {}
        self._effects: dict[str, str] = {}
        self._facts = ""

    def show_stems(self, clips: dict[str, Path], effects: dict[str, str] | None = None,
                   facts: str = "") -> None:
        """List ``clips`` (stem -> file) with the effect applied to each, if any, and
        ``facts`` (tempo, key, bars) under each name, keeping the selection of stems still
        listed; variations become takes."""
        shown = (dict(clips), dict(effects or {}), facts)
        if shown == (self._clips, self._effects, self._facts) and self.count() == len(
                [stem for stem in clips if self.current_take() in (None, take_of(stem))]):
            return  # a progress update of a job whose stems are shown already
        self._clips, self._effects, self._facts = shown
        names = [f"Take {take}" for take in take_numbers(clips)]
        if names != [self.takes.tabText(i) for i in range(self.takes.count())]:
            self.takes.blockSignals(True)
            while self.takes.count():
                self.takes.removeTab(0)
            for name in names:
                self.takes.addTab(name)
            self.takes.blockSignals(False)
        if self.takes.isHidden() == (len(names) > 1):
            self.takes.setVisible(len(names) > 1)
        self._show_take()

    def current_take(self) -> int | None:
        """The take shown (1, 2, ...), or None when the job has one take."""
        if self.takes.count() < 2:
            return None
        return take_numbers(self._clips)[max(self.takes.currentIndex(), 0)]

    def _show_take(self) -> None:
        """Fill the rows with the current take's stems, keeping the stems picked."""
        picked = {base_of(stem) for stem in self.selected_stems()}
        take = self.current_take()
        self.clear()
        for stem, path in self._clips.items():
            if take is not None and take_of(stem) != take:
                continue
            name = base_of(stem) if take is not None else stem
            label = f"{name}  —  {self._effects[stem]}" if self._effects.get(stem) else name
            item = QListWidgetItem(label)
            item.setData(PATH_ROLE, str(path))
            item.setData(Qt.ItemDataRole.UserRole, stem)
            item.setData(LABEL_ROLE, label)
            item.setData(FACTS_ROLE, self._facts)
            item.setData(OVERVIEW_ROLE, clip_overview(path))
            item.setToolTip(f"{path}\nDrag it into your DAW, or double-click to play it")
            self.addItem(item)
            item.setSelected(base_of(stem) in picked)

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


def take_numbers(clips: Iterable[str]) -> list[int]:
    """The variation numbers among stem names ('drums.2' is take 2; 'drums' take 1)."""
    return sorted({take_of(stem) for stem in clips}) or [1]


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
