"""Jobs for the window: HostJobs followed in worker threads, every change as a Qt signal."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from bridge.client import EngineClient
from bridge.messages import Generate
from plugin_host.jobs import HostJobs, HostState, JobRecord
from plugin_host.studio.threads import run_in_thread


class JobRunner(QObject):
    """Submits and resubmits jobs without blocking the GUI thread.

    ``updated`` carries a snapshot of a :class:`JobRecord` each time HostJobs changes it (from
    the worker thread; Qt delivers it on the GUI thread).
    """

    updated = Signal(object)
    problem = Signal(str)

    def __init__(self, jobs: HostJobs, connect: Callable[[], EngineClient],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self._connect = connect

    def records(self) -> list[JobRecord]:
        """Every job on record, oldest first."""
        return self.jobs.records()

    def submit(self, request: Generate) -> None:
        """Journal, send and follow ``request`` in a worker thread."""
        self._start(lambda: self.jobs.run(request, on_update=self._emit), request.request_id)

    def resubmit(self, job_id: str) -> None:
        """Send a lost, failed or cancelled job again under a new id (ValueError if it cannot
        be: raised here, on the GUI thread, so the caller can say why)."""
        if not self.jobs.get(job_id).can_resubmit:
            raise ValueError(f"job {job_id} cannot be resubmitted")

        def update(record: JobRecord) -> None:
            if record.state == HostState.SENT:
                # HostJobs marked the old job resubmitted without telling: show that too.
                self._emit(self.jobs.get(job_id))
            self._emit(record)

        self._start(lambda: self.jobs.resubmit(job_id, on_update=update), job_id)

    def cancel(self, job_id: str) -> None:
        """Ask the engine to cancel a job; the job's own thread then records it cancelled.
        A refusal (the engine is gone, the job already ended) comes out as ``problem``."""

        def cancel() -> None:
            with self._connect() as client:
                client.cancel(job_id)

        run_in_thread(cancel, None, lambda error: self.problem.emit(f"Cannot cancel: {error}"),
                      name="job-cancel")

    def _emit(self, record: JobRecord) -> None:
        # A copy: HostJobs goes on mutating its record while the GUI reads this one.
        self.updated.emit(JobRecord(**vars(record)))

    def _start(self, work: Callable[[], object], job_id: str) -> None:
        # Daemon: closing the window must not wait for a job that follows a slow engine.
        threading.Thread(target=work, name=f"job-{job_id}", daemon=True).start()
