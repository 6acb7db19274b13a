"""Is the engine there? Asked off the GUI thread; and start one when the producer asks."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from bridge.client import EngineUnreachable
from bridge.messages import HelloReply, ModelState
from plugin_host.studio.settings import RunningEngine, StudioSettings
from plugin_host.studio.threads import run_in_thread


@dataclass(frozen=True)
class EngineState:
    """What the window knows about the engine: ``hello`` is None while it is not answering."""

    hello: HelloReply | None
    message: str
    checking: bool = False

    @property
    def running(self) -> bool:
        """True when the engine answered the last hello."""
        return self.hello is not None


class EngineLink(QObject):
    """Probes the engine with hello (on request and every few seconds) and starts a local one;
    every change of what is known is ``changed``."""

    changed = Signal(object)

    def __init__(self, settings: StudioSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.state = EngineState(None, "Looking for the engine…", checking=True)
        self._started: RunningEngine | None = None
        self._busy = False  # a probe or a start is under way
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.probe)

    @property
    def address(self) -> str:
        """host:port of the engine."""
        return f"{self.settings.host}:{self.settings.port}"

    @property
    def can_start(self) -> bool:
        """True when this install can start an engine itself."""
        return self.settings.start_engine is not None

    def watch(self, interval_s: float) -> None:
        """Probe every ``interval_s`` seconds, so the banner notices an engine coming or going
        even while no job runs."""
        self._timer.start(round(interval_s * 1000))

    def probe(self) -> None:
        """Ask the engine who it is, in a worker thread; ``changed`` tells a new answer."""
        if self._busy:
            return
        self._busy = True

        def hello() -> HelloReply:
            with self.settings.connect() as client:
                return client.hello(request_id="studio-hello", client="stemloom-studio")

        run_in_thread(hello, self._answered, self._unanswered, name="engine-probe")

    def start(self) -> None:
        """Start a local engine in a worker thread, then probe it."""
        if self.settings.start_engine is None:
            raise RuntimeError("this install cannot start an engine")
        self.stop_started()  # one the window started before may have died: clean it up
        self._busy = True
        self._set(EngineState(None, f"Starting the engine on {self.address}…", checking=True))
        run_in_thread(self.settings.start_engine, self._engine_started, self._start_failed,
                      name="engine-start")

    def stop_started(self) -> None:
        """Stop the engine this window started, if any."""
        started, self._started = self._started, None
        if started is not None:
            started.stop()

    def _engine_started(self, engine: RunningEngine) -> None:
        self._started = engine
        self._busy = False
        self.probe()

    def _start_failed(self, error: BaseException) -> None:
        self._busy = False
        self._set(EngineState(None, f"The engine could not be started: {error}"))

    def _answered(self, hello: HelloReply) -> None:
        self._busy = False
        state = {ModelState.READY: "ready", ModelState.LOADING: "loading its model"}.get(
            hello.model_state, f"model {hello.model_state}")
        self._set(EngineState(hello, f"Engine {hello.engine_version} on {self.address} · "
                                     f"{hello.model} · {state}"))

    def _unanswered(self, error: BaseException) -> None:
        self._busy = False
        if isinstance(error, EngineUnreachable | OSError):
            message = f"The engine is not running on {self.address}."
        else:
            message = f"The engine on {self.address} answered strangely: {error}"
        self._set(EngineState(None, message))

    def _set(self, state: EngineState) -> None:
        if state != self.state:
            self.state = state
            self.changed.emit(state)
