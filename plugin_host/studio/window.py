"""The studio's main window: engine banner, request form on the left, jobs on the right."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from bridge.errors import ProtocolError
from bridge.words import WordsError
from plugin_host.jobs import HostJobs, HostState, JobRecord, new_job_id
from plugin_host.studio.daw_target import DawTargetBox
from plugin_host.studio.effects_box import EffectsBox
from plugin_host.studio.engine_banner import EngineBanner
from plugin_host.studio.engine_link import EngineLink
from plugin_host.studio.form import GenerateForm
from plugin_host.studio.job_panel import JobPanel
from plugin_host.studio.job_runner import JobRunner
from plugin_host.studio.melody_box import MelodyBox
from plugin_host.studio.preview_stream import PreviewStream, tap_previews
from plugin_host.studio.settings import StudioSettings
from plugin_host.studio.style import STYLE_SHEET

# How often the banner re-asks the engine while nothing else does.
ENGINE_WATCH_S = 5.0
# The loudness a take's clips can be written at (None: as the engine made them).
CLIP_LEVELS = (("Clips as generated", None), ("Clips at -18 LUFS", -18.0),
               ("Clips at -14 LUFS (sample pack)", -14.0), ("Clips at -9 LUFS (loud)", -9.0))
PROMPT_CONTRADICTS = "the prompt contradicts itself (see under the prompt)"


class _SettingsScroll(QScrollArea):
    """The settings column: it scrolls on a short screen and asks to be as wide as its
    widgets need."""

    def _width(self, inner: QSize) -> int:
        return inner.width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:
        widget = self.widget()
        inner = widget.minimumSizeHint() if widget is not None else QSize()
        return QSize(self._width(inner), 120)

    def sizeHint(self) -> QSize:
        widget = self.widget()
        inner = widget.sizeHint() if widget is not None else QSize()
        return QSize(self._width(inner), inner.height())


class StudioWindow(QMainWindow):
    """Prompt in, stems out: the whole studio in one window."""

    def __init__(self, settings: StudioSettings) -> None:
        super().__init__()
        self.setWindowTitle("Stemloom Studio")
        self.setStyleSheet(STYLE_SHEET)
        self.settings = settings
        self.link = EngineLink(settings, self)
        self.preview = PreviewStream(settings.output_device, settings.play_previews, self)
        tapped = tap_previews(settings.connect, self.preview.offer, self.preview.end)
        self.runner = JobRunner(HostJobs(tapped, settings.journal), settings.connect, self)
        self.banner = EngineBanner(self.link)
        self.daw_target = DawTargetBox()
        self.form = GenerateForm()
        self.melody = MelodyBox(self._tempo, settings.hum_folder,
                                input_device=settings.input_device,
                                output_device=settings.output_device)
        self.jobs = JobPanel(self.runner, self.daw_target.target, settings.clips_root,
                             settings.output_device)
        self.effects = EffectsBox(self.jobs)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("primary")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.hear_preview = QCheckBox("Hear it as it generates")
        self.hear_preview.setToolTip("Play each job's preview the moment the engine streams "
                                     "it; it stops when the stems land")
        self.hear_preview.setChecked(settings.play_previews)
        self.hear_preview.toggled.connect(self.preview.set_enabled)
        self.clip_level = QComboBox()
        self.clip_level.setToolTip("The loudness takes that finish from now on are written "
                                   "at: one gain for every stem, so their mix keeps its "
                                   "balance, held back so no clip peaks over -1 dBTP")
        for label, lufs in CLIP_LEVELS:
            self.clip_level.addItem(label, lufs)
        self.clip_level.currentIndexChanged.connect(self._clip_level_changed)
        self.clip_level.setCurrentIndex(max(0, self.clip_level.findData(settings.clip_loudness)))
        self._clip_level_changed()
        self.form_problem = QLabel()
        self.form_problem.setProperty("problem", True)
        self.form_problem.setWordWrap(True)
        self.form_problem.setTextFormat(Qt.TextFormat.PlainText)
        self._build()
        self.daw_target.session_read.connect(self.form.apply_session)
        self.daw_target.session_gone.connect(self.form.clear_session)
        self.form.words_read.connect(self._words_read)
        self._words_read(self.form.words_problem)
        self.jobs.status.connect(self.statusBar().showMessage)
        self.effects.status.connect(self.statusBar().showMessage)
        self.runner.problem.connect(self.statusBar().showMessage)
        self.runner.updated.connect(self._job_changed)
        self.preview.problem.connect(self.statusBar().showMessage)
        self.preview.heard.connect(self._preview_heard)
        self.jobs.play_button.clicked.connect(self.preview.silence)  # a stem takes over
        self.preview.prepare()
        if settings.daw:
            self.daw_target.choose(settings.daw, settings.dest or "")
        self.link.probe()
        self.link.watch(ENGINE_WATCH_S)
        self.resize(1180, 760)

    def _build(self) -> None:
        settings = QWidget()
        settings.setObjectName("formColumn")
        column = QVBoxLayout(settings)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.daw_target)
        column.addWidget(self.form)
        column.addWidget(self.melody)
        column.addStretch(1)
        # On a short screen the settings scroll; they are never squeezed, and Generate stays.
        scroll = _SettingsScroll()
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 6, 0)
        column.addWidget(scroll, 1)
        column.addWidget(self.form_problem)
        row = QHBoxLayout()
        row.addWidget(self.hear_preview)
        row.addWidget(self.clip_level)
        row.addStretch(1)
        row.addWidget(self.generate_button)
        column.addLayout(row)
        right = QWidget()
        jobs = QVBoxLayout(right)
        jobs.setContentsMargins(6, 0, 0, 0)
        jobs.addWidget(self.jobs, 1)
        jobs.addWidget(self.effects)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([470, 690])  # the settings at their ease, the jobs the rest
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 10, 10, 4)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

    def generate(self) -> None:
        """Submit the form as a new job (the form says what is wrong instead, if anything)."""
        melody = str(self.melody.melody.resolve()) if self.melody.melody else ""
        try:
            bpm, meter, _ = self._tempo()
            request = self.form.request(new_job_id(), melody=melody,
                                        melody_timing=self.melody.timing(bpm, meter))
        except ProtocolError as error:
            self.form_problem.setText(f"Cannot generate: {error.message}")
            return
        except WordsError:  # the form says how, under the prompt
            self.form_problem.setText(f"Cannot generate: {PROMPT_CONTRADICTS}")
            return
        self.form_problem.clear()
        self.runner.submit(request)
        self.statusBar().showMessage(f"Sent “{request.prompt}”")

    def _words_read(self, problem: str) -> None:
        # Words that contradict themselves hold Generate back until the prompt is fixed.
        self.generate_button.setEnabled(not problem)
        self.generate_button.setToolTip(f"Fix the prompt first: {problem}" if problem else "")
        if not problem and self.form_problem.text().endswith(PROMPT_CONTRADICTS):
            self.form_problem.clear()

    def _job_changed(self, record: JobRecord) -> None:
        # A job that ended tells something about the engine: ready after done, gone if lost.
        if record.state in (HostState.DONE, HostState.LOST):
            self.link.probe()

    def _clip_level_changed(self) -> None:
        self.jobs.clip_loudness = self.clip_level.currentData()

    def _preview_heard(self, job_id: str) -> None:
        if job_id:
            self.statusBar().showMessage("♪ Playing the preview as it streams…")
        elif self.statusBar().currentMessage().startswith("♪"):
            self.statusBar().clearMessage()

    def _tempo(self) -> tuple[float, tuple[int, int], int]:
        return self.form.bpm.value(), self.form.time_signature(), self.form.bars.value()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Release the audio devices and stop an engine this window started."""
        self.melody.close_devices()
        self.jobs.play_button.close_device()
        self.preview.close()
        self.link.stop_started()
        super().closeEvent(event)
