"""The preview is heard: a running job's streamed preview plays the moment it arrives, grows
as the engine sends longer ones, and stops when the stems land, the job fails or is cancelled.

Previews are played from the thread that receives them (the job's own worker thread), not
after a trip through the GUI event loop: the first sound comes as soon as the engine's
``preview`` reply does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from bridge.client import EngineClient
from bridge.messages import Preview
from plugin_host.audio_devices import AudioDeviceError
from plugin_host.preview import ClipPlayer

PreviewHandler = Callable[[str, Preview], None]  # (job id, preview reply), on any thread
EndHandler = Callable[[str], None]  # job id, once its wait ended in whatever way


class PreviewStream(QObject):
    """Plays the newest running job's preview through ``device`` (None: the default output).

    ``offer`` and ``end`` may be called from any thread. ``heard`` carries the id of the job
    whose preview starts sounding, then "" when it stops; ``problem`` says why a preview
    cannot be played (once per job).
    """

    heard = Signal(str)
    problem = Signal(str)

    def __init__(self, device: int | str | None = None, enabled: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device = device
        self._enabled = enabled
        self._lock = threading.RLock()
        self._player: ClipPlayer | None = None
        self._job = ""  # the job whose preview plays (or last played)
        self._ended: set[str] = set()  # jobs whose previews must not start again
        self._told: set[str] = set()  # jobs whose problem was said already

    @property
    def enabled(self) -> bool:
        """Whether previews are played at all (the producer's setting)."""
        return self._enabled

    @property
    def playing(self) -> bool:
        """Whether a preview is sounding now."""
        with self._lock:
            return self._player is not None and self._player.playing

    @property
    def job(self) -> str:
        """The id of the job whose preview plays now ("" when none does)."""
        with self._lock:
            return self._job if self.playing else ""

    def set_enabled(self, enabled: bool) -> None:
        """Turn playing previews on or off; off silences the one playing now."""
        self._enabled = enabled
        if not enabled:
            self.silence()
        else:
            self.prepare()

    def prepare(self) -> None:
        """Open the output device in a worker thread, so that the first preview does not wait
        for PortAudio to start (nothing happens if it is open, or previews are off)."""
        if self._enabled and self._player is None:
            threading.Thread(target=self._open_quietly, name="preview-open", daemon=True).start()

    def offer(self, job_id: str, preview: Preview) -> None:
        """Play job ``job_id``'s new ``preview``: from its start for a job not heard yet, on
        from where playback is for a longer preview of the job playing."""
        with self._lock:
            if not self._enabled or job_id in self._ended:
                return
            try:
                player = self._open()
                if job_id == self._job:
                    player.follow(preview.path)
                else:
                    player.play(preview.path)
            except (AudioDeviceError, ValueError) as error:
                if job_id not in self._told:
                    self._told.add(job_id)
                    self.problem.emit(f"Cannot play the preview: {error}")
                return
            started, self._job = job_id != self._job, job_id
        if started:
            self.heard.emit(job_id)

    def end(self, job_id: str) -> None:
        """Job ``job_id`` finished, failed or was cancelled: stop its preview for good."""
        with self._lock:
            self._ended.add(job_id)
            if job_id != self._job:
                return
        self.silence()

    def silence(self) -> None:
        """Stop the preview playing now; that job's later previews stay silent."""
        with self._lock:
            was = self.playing
            if self._job:
                self._ended.add(self._job)
            if self._player is not None:
                self._player.stop()
        if was:
            self.heard.emit("")

    def close(self) -> None:
        """Stop and release the output device (the window is closing)."""
        with self._lock:
            self._enabled = False
            if self._player is not None:
                self._player.close()

    def _open(self) -> ClipPlayer:
        with self._lock:
            if self._player is None:
                self._player = ClipPlayer(self.device)
            return self._player

    def _open_quietly(self) -> None:
        with contextlib.suppress(AudioDeviceError):  # said when a preview cannot play
            self._open()


def tap_previews(connect: Callable[[], EngineClient], arrived: PreviewHandler,
                 ended: EndHandler) -> Callable[[], EngineClient]:
    """``connect``, with every client's ``wait`` also handing each preview reply to
    ``arrived`` and calling ``ended`` when the wait ends (done, fail, cancel, lost).

    HostJobs keeps only a job's state from a preview; the studio needs the file it names.
    """

    def tapped() -> EngineClient:
        client = connect()
        wait = client.wait

        def wait_and_tap(job_id: str, *args: Any,
                         on_preview: Callable[[Preview], None] | None = None,
                         **kwargs: Any) -> Any:
            def both(message: Preview) -> None:
                arrived(job_id, message)
                if on_preview is not None:
                    on_preview(message)

            try:
                return wait(job_id, *args, on_preview=both, **kwargs)
            finally:
                ended(job_id)

        client.wait = wait_and_tap  # type: ignore[method-assign]
        return client

    return tapped
