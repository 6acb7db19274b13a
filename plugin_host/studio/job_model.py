"""The job list as a Qt table model: one row per job, newest first, updated in place."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from plugin_host.jobs import HostState, JobRecord
from plugin_host.studio.stage_words import stage_words

COLUMNS = ("Prompt", "Stems", "Tempo", "State", "Progress")
PROGRESS_COLUMN = COLUMNS.index("Progress")
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
_STATE_COLOURS = {HostState.DONE: "#2e7d32", HostState.LOST: "#c62828",
                  HostState.FAILED: "#c62828", HostState.CANCELLED: "#8d6e63",
                  HostState.RUNNING: "#1565c0"}

Index = QModelIndex | QPersistentModelIndex


class JobTableModel(QAbstractTableModel):
    """Rows of :class:`JobRecord`; :meth:`upsert` adds a new job on top or refreshes its row."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[JobRecord] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        """Number of jobs (a table has no children)."""
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """Text, tooltip, colour or the record itself (``RECORD_ROLE``) of one cell."""
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = COLUMNS[index.column()]
        if role == RECORD_ROLE:
            return record
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell_text(record, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return record.message or f"{record.request.prompt}\njob {record.id}"
        if role == Qt.ItemDataRole.ForegroundRole and column == "State":
            colour = _STATE_COLOURS.get(record.state)
            return QBrush(QColor(colour)) if colour else None
        return None

    def upsert(self, record: JobRecord) -> None:
        """Show ``record``: refresh its row if the job is listed, else add it on top."""
        row = self.row_of(record.id)
        if row is None:
            self.beginInsertRows(QModelIndex(), 0, 0)
            self._records.insert(0, record)
            self.endInsertRows()
            return
        self._records[row] = record
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def record(self, row: int) -> JobRecord:
        """The record shown in ``row``."""
        return self._records[row]

    def row_of(self, job_id: str) -> int | None:
        """The row showing ``job_id``, or None."""
        return next((row for row, record in enumerate(self._records) if record.id == job_id),
                    None)


def _cell_text(record: JobRecord, column: str) -> str:
    request = record.request
    if column == "Prompt":
        return request.prompt
    if column == "Stems":
        return ", ".join(request.stems)
    if column == "Tempo":
        key = record.key or request.key
        bars = f"{request.bars} bar" + ("s" if request.bars != 1 else "")
        return f"{request.bpm:g} bpm · {bars} · {request.time_signature}" + (
            f" · {key}" if key else "")
    if column == "State":
        if record.state.without_result and record.resubmitted_as:
            return f"{record.state} (resubmitted)"
        return record.state.value
    return f"{record.fraction:.0%} {stage_words(record.stage, request.stems)}".strip()
