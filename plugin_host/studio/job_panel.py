"""The job list and what can be done with the selected job: play, drag, regenerate a stem,
send to the DAW, resubmit a lost one."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from bridge.messages import Generate
from plugin_host.jobs import HostState, JobRecord, new_job_id
from plugin_host.placement import MELODY_TRACK
from plugin_host.studio.finished import export_clips, export_melody, send_to_daw
from plugin_host.studio.job_model import PROGRESS_COLUMN, JobTableModel
from plugin_host.studio.job_runner import JobRunner
from plugin_host.studio.preview_button import PreviewButton
from plugin_host.studio.progress_delegate import ProgressDelegate
from plugin_host.studio.stage_words import stage_words
from plugin_host.studio.stem_drag import ClipDragButton, StemList
from plugin_host.studio.threads import run_in_thread

Target = Callable[[], tuple[str, str] | None]  # (adapter, session path; "" for a running DAW)
REGENERATE_TIP = (
    "Makes this stem again with a new seed, as a new job holding only this stem. It follows "
    "the same plan (harmony, groove, form) as the job's other stems, which stay as they are.")


def regenerate_request(record: JobRecord, stem: str) -> Generate:
    """A new request for ``stem`` of ``record`` alone, with a new seed and id, on the plan
    of ``record`` (keep_from) so it still fits the other stems."""
    return dataclasses.replace(record.request, request_id=new_job_id(),
                               stems=(stem.split(".")[0],), variations=1, best_of=1,
                               seed=random.randrange(2**31), keep_from=record.id)


class JobPanel(QWidget):
    """Jobs with live progress, and the actions on the selected one."""

    status = Signal(str)

    def __init__(self, runner: JobRunner, target: Target, clips_root: Path,
                 output_device: int | str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.target = target
        self.clips_root = clips_root
        # The loudness (LUFS) a finished take's clips are written at; None: as generated.
        self.clip_loudness: float | None = None
        self.model = JobTableModel(self)
        # Per job: the tagged clips as exported, and as shown (with effects applied).
        self.originals: dict[str, dict[str, Path]] = {}
        self.clips: dict[str, dict[str, Path]] = {}
        self.effects: dict[str, dict[str, str]] = {}  # job -> stem -> preset applied
        self.melodies: dict[str, Path] = {}  # job -> the MIDI clip of the melody it followed
        self._exporting: set[str] = set()
        self.error_box: QMessageBox | None = None
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, PROGRESS_COLUMN):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(PROGRESS_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(PROGRESS_COLUMN, 190)
        self.detail = QLabel("Submit a prompt: its job appears here.")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # Room for a three-line message (an engine error); the stem list gives way to it.
        self.detail.setMinimumHeight(3 * self.detail.fontMetrics().lineSpacing() + 4)
        self.stems = StemList()
        self.stems.setMinimumHeight(80)
        self.stems.itemDoubleClicked.connect(lambda _: self.play_button.toggle())
        self.drag_hint = QLabel("⠿ Drag a stem by its grip into your DAW")
        self.drag_hint.setObjectName("hint")
        self.play_button: PreviewButton = PreviewButton(self._first_selected_clip, output_device)
        self.play_button.problem.connect(self.status)
        self.regenerate_button = QPushButton("Regenerate stem")
        self.regenerate_button.setToolTip(REGENERATE_TIP)
        self.regenerate_button.clicked.connect(self.regenerate_selected)
        self.send_button = QPushButton("Send to DAW")
        self.send_button.setToolTip("Place every stem of this job on new tracks at the "
                                    "session cursor, all or nothing")
        self.send_button.clicked.connect(self.send_selected)
        self.melody_button = ClipDragButton(
            "Melody (MIDI)", "Drag the melody this job followed, as a MIDI clip on the grid, "
            "onto a MIDI track")
        self.cancel_button = QPushButton("Cancel job")
        self.cancel_button.setToolTip("Stop this job; the engine keeps none of its files")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.resubmit_button = QPushButton("Resubmit")
        self.resubmit_button.setToolTip("Send this job's request again under a new id")
        self.resubmit_button.clicked.connect(self.resubmit_selected)
        self._build()
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self.refresh_detail())
        self.stems.itemSelectionChanged.connect(self._update_buttons)
        runner.updated.connect(self.show_record)
        for record in runner.records():
            self.model.upsert(record)
        self.refresh_detail()

    def _build(self) -> None:
        actions = QVBoxLayout()
        for button in (self.play_button, self.regenerate_button, self.send_button,
                       self.melody_button, self.cancel_button, self.resubmit_button):
            actions.addWidget(button)
        actions.addStretch(1)
        stems = QVBoxLayout()
        stems.setSpacing(2)
        stems.addWidget(self.stems.takes)
        stems.addWidget(self.stems, 1)
        stems.addWidget(self.drag_hint)
        row = QHBoxLayout()
        row.addLayout(stems, 1)
        row.addLayout(actions)
        selected = QGroupBox("Selected job")
        inner = QVBoxLayout(selected)
        inner.addWidget(self.detail)
        inner.addLayout(row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 3)
        layout.addWidget(selected, 2)

    # ------------------------------------------------------------------ records

    def show_record(self, record: JobRecord) -> None:
        """Show a new or changed job; select it when it is new."""
        is_new = self.model.row_of(record.id) is None
        self.model.upsert(record)
        if is_new:
            self.table.selectRow(0)
        if record.state == HostState.DONE and record.id not in self.clips:
            self._export(record)
        if record.id == self.selected_id():
            self.refresh_detail()

    def selected(self) -> JobRecord | None:
        """The selected job's record."""
        index: QModelIndex = self.table.currentIndex()
        return self.model.record(index.row()) if index.isValid() else None

    def selected_id(self) -> str | None:
        """The selected job's id."""
        record = self.selected()
        return record.id if record else None

    def refresh_detail(self) -> None:
        """Show the selected job's state, message and stems."""
        record = self.selected()
        if record is None:
            self.stems.show_stems({})
            self.drag_hint.hide()
            self.melody_button.set_clip(None)
            self._update_buttons()
            return
        self.detail.setText(_describe(record))
        self.detail.setProperty("problem", record.state in (HostState.LOST, HostState.FAILED))
        self.detail.style().unpolish(self.detail)
        self.detail.style().polish(self.detail)
        if record.state == HostState.DONE and record.id not in self.clips:
            self._export(record)  # a job from an earlier session, selected for the first time
        self.stems.show_stems(self.clips.get(record.id, {}), self.effects.get(record.id),
                              clip_facts(record))
        if self.drag_hint.isHidden() == (self.stems.count() > 0):
            self.drag_hint.setVisible(self.stems.count() > 0)
        self.melody_button.set_clip(self.melodies.get(record.id))
        self._update_buttons()

    def _update_buttons(self) -> None:
        record = self.selected()
        done = record is not None and record.state == HostState.DONE
        picked = len(self.stems.selectedItems())
        self.play_button.setEnabled(picked > 0)
        self.regenerate_button.setEnabled(done and picked == 1)
        self.send_button.setEnabled(record is not None and done
                                    and bool(self.clips.get(record.id)))
        self.cancel_button.setEnabled(record is not None and record.state.active)
        self.resubmit_button.setEnabled(record is not None and record.can_resubmit)

    def _export(self, record: JobRecord) -> None:
        if record.id in self._exporting:
            return
        self._exporting.add(record.id)

        def exported(result: tuple[dict[str, Path], Path | None]) -> None:
            clips, melody = result
            self.originals[record.id] = clips
            if melody is not None:
                self.melodies[record.id] = melody
            self.replace_clips(record.id, clips)

        def failed(error: BaseException) -> None:
            # The engine's own files still play and drag; they only lack the tempo tags.
            raw = {stem: Path(path) for stem, path in record.stems.items() if Path(path).is_file()}
            self.status.emit(f"Could not write tagged clips ({error}); "
                             + ("offering the engine's files" if raw else "no stem files left"))
            exported((raw, None))

        loudness = self.clip_loudness
        run_in_thread(lambda: (export_clips(record, self.clips_root, loudness),
                               export_melody(record, self.clips_root)),
                      exported, failed, name="clip-export")

    def replace_clips(self, job_id: str, clips: dict[str, Path],
                      effects: dict[str, str] | None = None) -> None:
        """Use ``clips`` (stem -> file) as job ``job_id``'s stems from now on; ``effects``
        names the preset now on each of them ("" for none)."""
        self.clips[job_id] = {**self.clips.get(job_id, {}), **clips}
        self.effects[job_id] = {**self.effects.get(job_id, {}), **(effects or {})}
        if job_id == self.selected_id():
            self.refresh_detail()

    # ------------------------------------------------------------------ actions

    def regenerate_selected(self) -> None:
        """Submit the selected stem of the selected job again, alone, with a new seed."""
        record, stems = self.selected(), self.stems.selected_stems()
        if record is None or len(stems) != 1:
            return
        self.runner.submit(regenerate_request(record, stems[0]))
        self.status.emit(f"Regenerating {stems[0]} as a new job (new seed)")

    def cancel_selected(self) -> None:
        """Ask the engine to cancel the selected job."""
        record = self.selected()
        if record is None:
            return
        self.cancel_button.setEnabled(False)
        self.runner.cancel(record.id)
        self.status.emit(f"Cancelling “{record.request.prompt}”…")

    def resubmit_selected(self) -> None:
        """Send the selected lost, failed or cancelled job again."""
        record = self.selected()
        if record is None or not record.can_resubmit:
            return
        self.resubmit_button.setEnabled(False)  # once: a double click must not send it twice
        self.runner.resubmit(record.id)
        self.status.emit(f"Resubmitted “{record.request.prompt}”")

    def send_selected(self) -> None:
        """Place the selected job's stems in the DAW target, in a worker thread."""
        record, target = self.selected(), self.target()
        if record is None:
            return
        if target is None:
            self._error("No DAW target", "Choose a DAW adapter and a session under "
                        "“DAW target” first, or drag the stems out of the list.")
            return
        daw, dest = target
        clips = self.clips[record.id]
        self.send_button.setEnabled(False)
        self.status.emit(f"Placing {len(clips)} stems in {dest or daw}…")

        def placed(refs: dict) -> None:
            self._update_buttons()
            bar = next(iter(refs.values())).bar
            stems = len(refs) - (MELODY_TRACK in refs)
            melody = " and the melody's MIDI clip" if MELODY_TRACK in refs else ""
            self.status.emit(f"Placed {stems} stems{melody} on new tracks at bar {bar:g} "
                             f"in {dest or daw} ({daw})")

        def failed(error: BaseException) -> None:
            self._update_buttons()
            # Notes list tracks the adapter could not take back out: then say so plainly.
            notes = "\n".join(getattr(error, "__notes__", []))
            outcome = (f"The placement was undone, but not completely:\n{notes}" if notes
                       else "Nothing was placed: the session is as it was.")
            self._error("Could not send the stems to the DAW", f"{error}\n\n{outcome}")

        melody = self.melodies.get(record.id)
        run_in_thread(lambda: send_to_daw(record, clips, daw, dest, melody=melody), placed,
                      failed, name="placement")

    def _error(self, title: str, text: str) -> None:
        # open(), not exec(): the window keeps running while the message is shown.
        self.error_box = QMessageBox(QMessageBox.Icon.Critical, title, text,
                                     QMessageBox.StandardButton.Ok, self)
        self.error_box.open()
        self.status.emit(title)

    def _first_selected_clip(self) -> Path | None:
        paths = self.stems.selected_paths()
        return paths[0] if paths else None


def clip_facts(record: JobRecord) -> str:
    """Tempo, key and length of a job's clips, as a stem row shows them."""
    request = record.request
    bars = f"{request.bars} bar" + ("s" if request.bars != 1 else "")
    key = record.key or request.key
    return " · ".join(part for part in (f"{request.bpm:g} bpm", key, bars) if part)


def _describe(record: JobRecord) -> str:
    request = record.request
    head = f"“{request.prompt}” — {record.state}"
    if record.state == HostState.RUNNING and record.stage:
        head = f"“{request.prompt}” — {stage_words(record.stage, request.stems)}"
    if record.state == HostState.DONE:
        return (f"{head} · key {record.key or '?'} · seed {record.seed}. Drag stems out, or "
                "send them all to the DAW.")
    if record.resubmitted_as:
        return f"{head}. {record.message} Resubmitted as {record.resubmitted_as}."
    return f"{head}. {record.message}" if record.message else head
