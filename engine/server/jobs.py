"""Jobs and the bounded, fair queue that feeds the workers.

A ``JobBook`` owns every job the engine knows: the queue of waiting jobs (bounded: a full
queue, or a client host that already has ``client_queue_size`` jobs waiting, is refused with
``busy``) and the record of finished ones, kept for ``retention_s`` so their status can
still be asked. All methods are thread-safe.

The queue is fair across turns: a worker takes the oldest waiting job of the turn served
least recently (one never served first), so turns alternate: one producer who queues eight
jobs makes another, who queues one, wait for the job running now, not for all eight. A job's
turn key (``Job.turn``; see ``EngineService.turn_of``) is its client's network address, not
anything a request says, so a client that gives every job a new ``client_id`` still waits
its turn and stays within ``client_queue_size``.

A worker that batches (``take_batch``) takes the job ``take`` would give it and, with it,
the waiting jobs that ``take`` would give next whose batch key equals that job's, turn by turn
(each turn's oldest job only, a served turn going to the back as ``take`` sends it): a turn
whose oldest job does not fit is passed over and keeps its place, first for the next take. So
a batch never holds two jobs of one turn while another turn's fitting job waits, and a job
that does not fit waits for the whole batch running now, which lasts longer than one job
(4 jobs about 3x one on a 2-core CPU); its queue position counts jobs, not batches.

Every job has an owner (an opaque key the service derives from the client; see
``EngineService.owner_of``). Asked with an owner, the book answers only for that owner's jobs:
another client's job is ``unknown_job``, exactly as if it did not exist.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Done, Fail, Generate, JobStatus, Stage
from bridge.schema import Message

# A job remembers this many clients to send its updates to (the submitter and the latest
# clients that asked for its status, e.g. a host that reconnected).
MAX_SUBSCRIBERS = 4


class Recipient(Protocol):
    """Where replies to one client go: its ``bridge.listener.Replier``, or a view of it that
    names files for a remote client (``engine.server.naming``)."""

    peer: str  # the client's transport and address, with its port
    host: str  # its network address alone

    def send(self, message: Message) -> None:
        """Send one reply to the client."""


@dataclass
class Job:
    """One generation request and everything known about its progress."""

    request: Generate
    seed: int
    owner: str = ""  # who made it: only requests from the same owner see it
    turn: str = ""  # whose turn it waits for: its client's address (see the module's note)
    # The real files its inputs name: an upload among them is kept while the job is unfinished.
    inputs: tuple[Path, ...] = ()
    status: JobStatus = JobStatus.QUEUED
    fraction: float = 0.0
    stage: str = Stage.QUEUED
    outcome: Done | Fail | None = None
    created: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    subscribers: list[Recipient] = field(default_factory=list)
    batch: str = ""  # the id of the batch it ran in with other jobs ("" when alone)

    @property
    def id(self) -> str:
        """The job's id: the request id of its generate request."""
        return self.request.request_id

    def subscribe(self, replier: Recipient) -> None:
        """Send this job's further updates to ``replier`` too."""
        self.subscribers = [s for s in self.subscribers if s.peer != replier.peer]
        self.subscribers.append(replier)
        del self.subscribers[:-MAX_SUBSCRIBERS]

    def notify(self, message: Message) -> None:
        """Send ``message`` to every subscriber."""
        for replier in list(self.subscribers):
            replier.send(message)


@dataclass(frozen=True)
class QueueLoad:
    """How busy the queue is, for one turn key: jobs running and waiting (all clients),
    places left before busy (all clients), and places left for this turn key."""

    running: int
    waiting: int
    free: int
    client_free: int


class JobBook:
    """The engine's jobs: a bounded queue of waiting ones, taken in turns by turn key, and a
    record of all."""

    def __init__(self, queue_size: int, retention_s: float = 3600.0, max_kept: int = 1000,
                 client_queue_size: int | None = None):
        self.queue_size = queue_size
        # The most jobs one turn key may have waiting at once (None: the whole queue).
        self.client_queue_size = min(queue_size, client_queue_size or queue_size)
        self.retention_s = retention_s
        self.max_kept = max_kept
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        # Waiting jobs per turn key, oldest first; a key is here only while it has some.
        self._waiting: dict[str, deque[Job]] = {}
        # When each turn key's job was last taken (a tick of _served), for the turns.
        self._last_served: dict[str, int] = {}
        self._served = itertools.count(1)
        self._cond = threading.Condition()
        self._closed = False

    @property
    def waiting(self) -> int:
        """How many jobs wait now (all clients)."""
        with self._cond:
            return sum(map(len, self._waiting.values()))

    def load(self, turn: str) -> QueueLoad:
        """The queue as it stands, seen by the turn key ``turn`` (one consistent snapshot)."""
        with self._cond:
            waiting = self.waiting
            return QueueLoad(
                running=sum(j.status is JobStatus.RUNNING for j in self._jobs.values()),
                waiting=waiting,
                free=max(0, self.queue_size - waiting),
                client_free=min(max(0, self.queue_size - waiting),
                                self.client_queue_size - len(self._waiting.get(turn, ()))),
            )

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
            if self.waiting >= self.queue_size:
                raise ProtocolError(
                    ErrorCode.BUSY,
                    f"the queue is full ({self.queue_size} jobs waiting); try again later",
                    job.id,
                )
            if len(self._waiting.get(job.turn, ())) >= self.client_queue_size:
                raise ProtocolError(
                    ErrorCode.BUSY,
                    f"your machine has {self.client_queue_size} jobs waiting, the most one "
                    "client may queue; submit more once one starts",
                    job.id,
                )
            self._jobs[job.id] = job
            self._waiting.setdefault(job.turn, deque()).append(job)
            self._cond.notify()
            return job

    def take(self, timeout: float = 0.5) -> Job | None:
        """The next waiting job in turn (see the module's note), now running; None after
        ``timeout`` or once closed."""
        with self._cond:
            if not self._waiting and not self._closed:
                self._cond.wait(timeout)
            if not self._waiting:
                return None
            return self._start(_turns(self._waiting, self._last_served)[0])

    def take_batch(self, limit: int, key: Callable[[Job], object | None],
                   timeout: float = 0.5) -> list[Job]:
        """The next job in turn and up to ``limit - 1`` more whose ``key`` equals its key
        (None fits nothing), all now running (see the module's note); empty after
        ``timeout`` or once closed. ``key`` is called with the book locked: keep it cheap."""
        with self._cond:
            first = self.take(timeout)
            if first is None:
                return []
            batch = [first]
            wanted = key(first)
            while wanted is not None and len(batch) < limit:
                fitting = [turn for turn in _turns(self._waiting, self._last_served)
                           if key(self._waiting[turn][0]) == wanted]
                if not fitting:
                    break
                batch.append(self._start(fitting[0]))
            return batch

    def _start(self, turn: str) -> Job:
        """Take the oldest waiting job of ``turn`` (the lock held): it runs now, and the
        turn goes to the back."""
        queue = self._waiting[turn]
        job = queue.popleft()
        if not queue:
            del self._waiting[turn]
        self._last_served[turn] = next(self._served)
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
            queue = self._waiting.get(job.turn, deque())
            if job in queue:
                queue.remove(job)
                if not queue:
                    del self._waiting[job.turn]
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
        """Jobs that will start before ``job`` as the queue stands (0 when it runs or is
        next). Turn keys take turns in a fixed order (a served key goes to the back), so a job
        with n jobs of its key ahead of it waits for up to n jobs of every key, and for one
        more of each key whose turn comes first."""
        with self._cond:
            queue = self._waiting.get(job.turn, deque())
            if job not in queue:
                return 0
            index = queue.index(job)
            turns = _turns(self._waiting, self._last_served)
            rank = turns.index(job.turn)
            return sum(min(len(self._waiting[key]), index)
                       + (place < rank and len(self._waiting[key]) > index)
                       for place, key in enumerate(turns))

    def newest(self, limit: int, owner: str | None = None) -> tuple[list[Job], int]:
        """Up to ``limit`` jobs (only ``owner``'s, when given), newest first, and how many
        were left out."""
        with self._cond:
            self._prune()
            jobs = [j for j in reversed(self._jobs.values())
                    if owner is None or j.owner == owner]
        return jobs[:limit], max(0, len(jobs) - limit)

    def unfinished(self) -> list[Job]:
        """The jobs waiting or running now."""
        with self._cond:
            return [j for j in self._jobs.values() if not j.status.finished]

    def close(self) -> tuple[list[Job], list[Job]]:
        """Take no more jobs: wake every waiting worker so it can stop, and return the jobs
        that were waiting (now out of the queue, for the caller to end) and those running."""
        with self._cond:
            self._closed = True
            waiting = [job for queue in self._waiting.values() for job in queue]
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
        # A turn key's last turn is remembered while any job of it is on record.
        keys = {j.turn for j in self._jobs.values()}
        for key in set(self._last_served) - keys:
            del self._last_served[key]


def _turns(waiting: dict[str, deque[Job]], last_served: dict[str, int]) -> list[str]:
    """The turn keys with waiting jobs in the order of their turns: served least recently
    (never: first), ties to the one whose oldest waiting job came first."""
    return sorted(waiting, key=lambda key: (last_served.get(key, 0), waiting[key][0].created))


def _same_request(a: Generate, b: Generate) -> bool:
    """Equal in everything that shapes the result (where replies go does not count)."""
    return dataclasses.replace(a, reply_port=0, token="", client_id="") == dataclasses.replace(
        b, reply_port=0, token="", client_id=""
    )
