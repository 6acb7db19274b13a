"""Jobs and the bounded queue that feeds the workers.

A ``JobBook`` owns every job the engine knows: the queue of waiting jobs (bounded: a full
queue refuses with ``busy``) and the record of finished ones, kept for ``retention_s`` so
their status can still be asked. All methods are thread-safe.

Every job has an owner (an opaque key the service derives from the client; see
``EngineService.owner_of``). Asked with an owner, the book answers only for that owner's jobs:
another client's job is ``unknown_job``, exactly as if it did not exist.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import Replier
from bridge.messages import Done, Fail, Generate, JobStatus, Stage
from bridge.schema import Message

# A job remembers this many clients to send its updates to (the submitter and the latest
# clients that asked for its status, e.g. a host that reconnected).
MAX_SUBSCRIBERS = 4


@dataclass
class Job:
    """One generation request and everything known about its progress."""

    request: Generate
    seed: int
    owner: str = ""  # who made it: only requests from the same owner see it
    status: JobStatus = JobStatus.QUEUED
    fraction: float = 0.0
    stage: str = Stage.QUEUED
    outcome: Done | Fail | None = None
    created: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    subscribers: list[Replier] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The job's id: the request id of its generate request."""
        return self.request.request_id

    def subscribe(self, replier: Replier) -> None:
        """Send this job's further updates to ``replier`` too."""
        self.subscribers = [s for s in self.subscribers if s.peer != replier.peer]
        self.subscribers.append(replier)
        del self.subscribers[:-MAX_SUBSCRIBERS]

    def notify(self, message: Message) -> None:
        """Send ``message`` to every subscriber."""
        for replier in list(self.subscribers):
            replier.send(message)


class JobBook:
    """The engine's jobs: a bounded FIFO of waiting ones and a record of all."""

    def __init__(self, queue_size: int, retention_s: float = 3600.0, max_kept: int = 1000):
        self.queue_size = queue_size
        self.retention_s = retention_s
        self.max_kept = max_kept
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: deque[Job] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def submit(self, job: Job) -> Job:
        """Queue a new job. A re-sent request (same id, same fields) returns the existing job;
        a different request under a known id fails with duplicate_id; a full queue with busy."""
        with self._cond:
            self._prune()
            existing = self._jobs.get(job.id)
            if existing is not None:
                if existing.owner != job.owner or not _same_request(existing.request,
                                                                    job.request):
                    raise ProtocolError(
                        ErrorCode.DUPLICATE_ID,
                        f"a different job already has the id {job.id!r}",
                        job.id,
                    )
                return existing
            if self._closed:
                raise ProtocolError(
                    ErrorCode.SHUTTING_DOWN, "the engine is shutting down; try again later",
                    job.id,
                )
            if len(self._waiting) >= self.queue_size:
                raise ProtocolError(
                    ErrorCode.BUSY,
                    f"the queue is full ({self.queue_size} jobs waiting); try again later",
                    job.id,
                )
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._cond.notify()
            return job

    def take(self, timeout: float = 0.5) -> Job | None:
        """The oldest waiting job, now running; None after ``timeout`` or once closed."""
        with self._cond:
            if not self._waiting and not self._closed:
                self._cond.wait(timeout)
            if not self._waiting:
                return None
            job = self._waiting.popleft()
            job.status = JobStatus.RUNNING
            job.stage = Stage.STARTING
            return job

    def cancel(self, job_id: str, owner: str | None = None) -> tuple[Job, bool]:
        """Request cancellation; returns the job and whether it was still waiting (and so is
        cancelled now). A running job stops at its next generation step. With ``owner``,
        another owner's job is unknown_job."""
        with self._cond:
            job = self.get(job_id, owner)
            if job.status.finished:
                return job, False
            job.cancel_requested.set()
            if job in self._waiting:
                self._waiting.remove(job)
                return job, True
            return job, False

    def finish(self, job: Job, status: JobStatus, outcome: Done | Fail) -> bool:
        """Record a job's end; False (and nothing changes) if it had already ended, e.g.
        failed by a shutdown while its worker was still finishing it."""
        with self._cond:
            if job.outcome is not None:
                return False
            job.status = status
            job.outcome = outcome
            job.finished_at = time.monotonic()
            if status is JobStatus.DONE:
                job.fraction = 1.0
            return True

    def knows(self, job_id: str) -> bool:
        """True when a job with this id is on record."""
        with self._cond:
            return job_id in self._jobs

    def get(self, job_id: str, owner: str | None = None) -> Job:
        """The job with this id; ProtocolError(unknown_job) if none, or (given ``owner``) if
        it belongs to another owner."""
        with self._cond:
            job = self._jobs.get(job_id)
        if job is None or (owner is not None and job.owner != owner):
            raise ProtocolError(ErrorCode.UNKNOWN_JOB, f"no job with id {job_id!r}", job_id)
        return job

    def position(self, job: Job) -> int:
        """Jobs waiting ahead of ``job`` (0 when it runs or is next)."""
        with self._cond:
            return self._waiting.index(job) if job in self._waiting else 0

    def newest(self, limit: int, owner: str | None = None) -> tuple[list[Job], int]:
        """Up to ``limit`` jobs (only ``owner``'s, when given), newest first, and how many
        were left out."""
        with self._cond:
            self._prune()
            jobs = [j for j in reversed(self._jobs.values())
                    if owner is None or j.owner == owner]
        return jobs[:limit], max(0, len(jobs) - limit)

    def close(self) -> tuple[list[Job], list[Job]]:
        """Take no more jobs: wake every waiting worker so it can stop, and return the jobs
        that were waiting (now out of the queue, for the caller to end) and those running."""
        with self._cond:
            self._closed = True
            waiting = list(self._waiting)
            self._waiting.clear()
            running = [j for j in self._jobs.values() if j.status is JobStatus.RUNNING]
            self._cond.notify_all()
        return waiting, running

    def _prune(self) -> None:
        """Forget finished jobs past their retention, and the oldest beyond ``max_kept``."""
        now = time.monotonic()
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        excess = max(0, len(self._jobs) - self.max_kept)
        for job in finished:
            if now - job.finished_at > self.retention_s or excess > 0:
                del self._jobs[job.id]
                excess -= 1


def _same_request(a: Generate, b: Generate) -> bool:
    """Equal in everything that shapes the result (where replies go does not count)."""
    return dataclasses.replace(a, reply_port=0, token="", client_id="") == dataclasses.replace(
        b, reply_port=0, token="", client_id=""
    )
