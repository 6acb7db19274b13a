"""The host's own record of the jobs it asked for, kept on disk so none is ever lost.

Every submitted request is journalled before it is sent. When the engine is not running,
dies mid-job or restarts, the job is marked ``lost`` with a message the producer can read,
and ``resubmit`` sends the same request again under a new id: one action, nothing retyped.
Over TCP the engine may be on another machine: the job's input files are uploaded and its
clips fetched into the host's clip folder (``plugin_host.remote``), so a record's stems are
always files on this machine.
The journal is one JSON file, rewritten atomically on every change.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bridge.atomic import atomic_write
from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Ack, Done, Generate, Preview, Progress, Stage
from bridge.transfer import TransferError
from plugin_host.remote import RemoteEngine


class HostState(StrEnum):
    """A job as the host knows it: the engine's states (``JobStatus``) and two of its own,
    sent until acked and lost when the engine went away. The journal keeps the values."""

    SENT = "sent"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def active(self) -> bool:
        """True while the job may still change: sent, queued or running."""
        return self in (HostState.SENT, HostState.QUEUED, HostState.RUNNING)

    @property
    def without_result(self) -> bool:
        """True when the job ended with no clips: lost, failed or cancelled."""
        return self in (HostState.LOST, HostState.FAILED, HostState.CANCELLED)


@dataclass
class JobRecord:
    """What the host knows about one job."""

    request: Generate
    state: HostState = HostState.SENT
    fraction: float = 0.0
    stage: str = ""
    message: str = ""
    stems: dict[str, str] = field(default_factory=dict)
    melody_midi: str = ""  # the engine's MIDI clip of the melody the music follows, if any
    key: str = ""
    seed: int = -1
    resubmitted_as: str = ""

    @property
    def id(self) -> str:
        """The job's id (its request id)."""
        return self.request.request_id

    @property
    def can_resubmit(self) -> bool:
        """True when the job ended without a result and has not been sent again yet."""
        return self.state.without_result and not self.resubmitted_as


def new_job_id() -> str:
    """A fresh, unique request id."""
    return f"host-{uuid.uuid4().hex[:16]}"


class HostJobs:
    """Submit, follow and resubmit jobs; every change is saved to ``journal``."""

    def __init__(self, connect: Callable[[], EngineClient], journal: Path,
                 clips_root: Path | None = None) -> None:
        """``connect`` opens a client; ``clips_root`` is where the clips of an engine reached
        over TCP are fetched to (default: the host's clip folder)."""
        self._connect = connect
        self._clips_root = clips_root
        self._journal = journal
        journal.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._records: dict[str, JobRecord] = self._load()

    def records(self) -> list[JobRecord]:
        """Every job on record, oldest first."""
        with self._lock:
            return list(self._records.values())

    def get(self, job_id: str) -> JobRecord:
        """One job's record; KeyError if the host never sent it."""
        with self._lock:
            return self._records[job_id]

    def run(
        self,
        request: Generate,
        *,
        timeout: float = 1800.0,
        on_update: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Journal, submit and follow ``request`` to its end; return the final record.

        Never raises for engine trouble: the record says what happened (``lost`` when the
        engine is gone, ``failed`` with the engine's message otherwise).
        """
        record = JobRecord(request=request)
        self._update(record, on_update)

        def progress(message: Progress) -> None:
            self._update(record, on_update, state=HostState.RUNNING,
                         fraction=message.fraction, stage=message.stage)

        try:
            client = self._connect()
            if client.transport == "tcp":
                done = self._run_remote(client, request, timeout, progress,
                                        lambda ack: self._update(record, on_update,
                                                                 state=HostState(ack.state)))
            else:
                with client:
                    ack = client.submit(request)
                    self._update(record, on_update, state=HostState(ack.state))

                    def preview(message: Preview) -> None:
                        self._update(record, on_update, state=HostState.RUNNING)

                    done = client.wait(request.request_id, timeout=timeout,
                                       on_progress=progress, on_preview=preview)
        except EngineUnreachable as exc:
            self._update(record, on_update, state=HostState.LOST, message=_lost_message(exc))
        except ProtocolError as exc:
            state = (HostState.CANCELLED if exc.code == ErrorCode.CANCELLED
                     else HostState.FAILED)
            self._update(record, on_update, state=state, message=f"{exc.message} [{exc.code}]")
        except TransferError as exc:
            self._update(record, on_update, state=HostState.FAILED, message=str(exc))
        else:
            self._finish(record, done, on_update)
        return record

    def resubmit(
        self,
        job_id: str,
        *,
        timeout: float = 1800.0,
        on_update: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Send a lost, failed or cancelled job's request again under a new id and follow it."""
        old = self.get(job_id)
        if not old.can_resubmit:
            raise ValueError(f"job {job_id} is {old.state}; only lost, failed or cancelled "
                             "jobs can be resubmitted, once")
        request = dataclasses.replace(old.request, request_id=new_job_id())
        self._update(old, None, resubmitted_as=request.request_id)
        return self.run(request, timeout=timeout, on_update=on_update)

    # ------------------------------------------------------------------ internals

    def _run_remote(self, client: EngineClient, request: Generate, timeout: float,
                    progress: Callable[[Progress], None],
                    acked: Callable[[Ack], None]) -> Done:
        """Run the job with files in the protocol: the engine may be on another machine."""
        from plugin_host.placement import default_clips_root  # soundfile: only when needed

        folder = (self._clips_root or default_clips_root()) / request.request_id / "engine"
        with RemoteEngine(self._connect, client=client) as remote:
            return remote.run(request, folder, timeout=timeout, on_ack=acked,
                              on_progress=progress)

    def _finish(self, record: JobRecord, done: Done,
                on_update: Callable[[JobRecord], None] | None) -> None:
        self._update(record, on_update, state=HostState.DONE, fraction=1.0, stage=Stage.DONE,
                     stems=dict(done.stems), melody_midi=done.melody_midi, key=done.key,
                     seed=done.seed, message="")

    def _update(self, record: JobRecord, on_update: Callable[[JobRecord], None] | None,
                **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)
            self._records[record.id] = record
            self._save()
        if on_update is not None:
            on_update(record)

    def _save(self) -> None:
        payload = [_to_json(record) for record in self._records.values()]
        data = json.dumps(payload, indent=1).encode()
        atomic_write(self._journal, lambda handle: handle.write(data))

    def _load(self) -> dict[str, JobRecord]:
        if not self._journal.exists():
            return {}
        try:
            rows = json.loads(self._journal.read_text())
            records = [_from_json(row) for row in rows]
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"the job journal {self._journal} is unreadable: {exc}") from exc
        for record in records:
            if record.state.active:
                # The host stopped while following it: its fate is unknown until asked.
                record.state = HostState.LOST
                record.message = "the host stopped while this job ran"
        return {record.id: record for record in records}


def _lost_message(exc: EngineUnreachable) -> str:
    return (f"The engine stopped answering ({exc}). Start it again ('stemloom engine serve') "
            "and resubmit the job.")


def _to_json(record: JobRecord) -> dict:
    row = dataclasses.asdict(record)
    row["request"] = {f.name: getattr(record.request, f.name)
                      for f in dataclasses.fields(record.request) if f.name != "token"}
    return row


def _from_json(row: dict) -> JobRecord:
    request_fields = dict(row.pop("request"))
    request_fields["stems"] = tuple(request_fields["stems"])
    if "state" in row:
        try:
            row["state"] = HostState(row["state"])
        except ValueError:  # a state this host does not know (a newer host's): unknown fate
            row["state"] = HostState.LOST
    return JobRecord(request=Generate(**request_fields), **row)
