"""Paints one finished stem as a row a producer reads at a glance: a grip to drag it by, its
name and effect, its tempo, key and bars, and its waveform."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from plugin_host.studio.waveform import narrow

# Item roles the stem list fills in and this delegate reads.
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2  # "drums — lofi tape"
FACTS_ROLE = Qt.ItemDataRole.UserRole + 3  # "96 bpm · A minor · 4 bars"
OVERVIEW_ROLE = Qt.ItemDataRole.UserRole + 4  # the clip's peaks (waveform.clip_overview)

ROW_HEIGHT = 46
GRIP_WIDTH = 18
TEXT_WIDTH = 170
WAVE_COLOUR = QColor("#3559e0")
WAVE_SELECTED = QColor("#ffffff")
GRIP_COLOUR = QColor("#9a9aa6")


class StemRowDelegate(QStyledItemDelegate):
    """Draws a stem row: grip, words, waveform."""

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        """Every row is as tall as two lines of text beside a waveform."""
        return QSize(TEXT_WIDTH + 2 * GRIP_WIDTH, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        """Draw the row inside ``option.rect``."""
        rect: QRect = option.rect
        widget: QWidget | None = option.widget
        style = widget.style() if widget is not None else None
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                                widget)
        palette = option.palette
        text_colour = palette.highlightedText().color() if selected else palette.text().color()
        _paint_grip(painter, QRect(rect.left(), rect.top(), GRIP_WIDTH, rect.height()),
                    WAVE_SELECTED if selected else GRIP_COLOUR)
        text = QRect(rect.left() + GRIP_WIDTH + 2, rect.top() + 4, TEXT_WIDTH, rect.height() - 8)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        label = str(index.data(LABEL_ROLE) or index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                         painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight,
                                                          text.width()))
        painter.setFont(option.font)
        if not selected:
            painter.setPen(QColor("#6b6b76"))
        facts = str(index.data(FACTS_ROLE) or "")
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                         painter.fontMetrics().elidedText(facts, Qt.TextElideMode.ElideRight,
                                                          text.width()))
        wave = QRect(text.right() + 8, rect.top() + 4, rect.right() - text.right() - 14,
                     rect.height() - 8)
        overview = index.data(OVERVIEW_ROLE)
        if isinstance(overview, np.ndarray) and wave.width() > 0:
            paint_waveform(painter, wave, narrow(overview, wave.width()),
                           WAVE_SELECTED if selected else WAVE_COLOUR)
        painter.restore()


def paint_waveform(painter: QPainter, rect: QRect, columns: np.ndarray, colour: QColor) -> None:
    """One vertical line per pixel column of ``rect``, as tall as that column's peak, around
    the middle line."""
    middle = rect.top() + rect.height() / 2
    half = rect.height() / 2
    painter.setPen(colour)
    painter.drawLine(QLineF(rect.left(), middle, rect.right(), middle))
    lines = [QLineF(rect.left() + x, middle - half * peak, rect.left() + x, middle + half * peak)
             for x, peak in enumerate(columns.tolist()) if peak > 0]
    if lines:
        painter.drawLines(lines)


def _paint_grip(painter: QPainter, rect: QRect, colour: QColor) -> None:
    """Six dots, two by three: the handle a row is dragged by."""
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    left = rect.left() + (rect.width() - 7) // 2
    top = rect.top() + (rect.height() - 13) // 2
    for column in range(2):
        for row in range(3):
            painter.drawEllipse(left + 5 * column, top + 5 * row, 3, 3)
    painter.setBrush(Qt.BrushStyle.NoBrush)
