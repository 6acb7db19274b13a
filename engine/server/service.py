"""The engine's job service: answers every request and runs jobs on worker threads.

``EngineService.handle`` is the listener's handler; it never blocks on generation. Workers
take jobs from the ``JobBook``, run the generator, fit and write the clips into the
``ClipLibrary`` and send done or fail. Nothing a job does can stop a worker.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import threading
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from bridge import limits
from bridge.atomic import atomic_write_bytes
from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import Replier
from bridge.messages import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Done,
    Fail,
    Generate,
    Hello,
    HelloReply,
    JobList,
    JobState,
    JobStatus,
    ListJobs,
    Preview,
    Progress,
    Request,
    Status,
)
from bridge.timing import clip_seconds, loop_tail_seconds
from bridge.version import STEMLOOM_VERSION
from engine.generation import Generator, JobCancelled, NoTrainedModel
from engine.model_store import load_generator
from engine.render_output import fit_clip
from engine.server.jobs import Job, JobBook
from engine.server.library import METADATA_NAME, ClipLibrary, OutsideLibrary

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
MELODY_EXTENSIONS = (*AUDIO_EXTENSIONS, ".mid", ".midi")
MAX_INPUT_BYTES = 50 * 1024 * 1024
PREVIEW_NAME = "preview.wav"
PLAN_NAME = "plan.npz"
MELODY_MIDI_NAME = "melody.mid"
# Progress replies are sent at most this often (a stage change is always sent).
PROGRESS_INTERVAL_S = 0.1


class ModelSlot:
    """Loads the generator in the background so the server answers hello at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = "loading"
        self.problem = ""
        self._generator: Generator | None = None
        self._loaded = threading.Event()

    def load(self) -> None:
        """Load the model (run on a background thread)."""
        try:
            self._generator = load_generator(self.name)
            self.state = "ready"
        except NoTrainedModel as exc:
            self.state, self.problem = "missing", str(exc)
        except Exception as exc:  # a broken model file must not take the server down
            log.exception("model %s failed to load", self.name)
            self.state, self.problem = "error", f"model {self.name!r} failed to load: {exc}"
        finally:
            self._loaded.set()

    @property
    def label(self) -> str:
        """The model's name as reported to clients."""
        return self._generator.name if self._generator else self.name

    def generator(self) -> Generator:
        """The loaded generator; waits for loading, ProtocolError(no_model) if there is none."""
        self._loaded.wait()
        if self._generator is None:
            raise ProtocolError(ErrorCode.NO_MODEL, self.problem)
        return self._generator


class EngineService:
    """Jobs in, clips out."""

    def __init__(
        self,
        model: str,
        library: ClipLibrary,
        *,
        queue_size: int = 8,
        workers: int = 1,
        retention_s: float = 3600.0,
    ) -> None:
        self.model = ModelSlot(model)
        self.library = library
        self.book = JobBook(queue_size, retention_s)
        self._workers = workers
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start loading the model and the worker threads."""
        loader = threading.Thread(target=self.model.load, name="model-load", daemon=True)
        loader.start()
        self._threads.append(loader)
        for index in range(self._workers):
            worker = threading.Thread(target=self._work, name=f"worker-{index}", daemon=True)
            worker.start()
            self._threads.append(worker)

    def stop(self) -> None:
        """Stop the workers after their current job step."""
        self._stopping.set()
        for job in self.book.newest(self.book.max_kept)[0]:
            job.cancel_requested.set()
        self.book.close()
        for thread in self._threads:
            thread.join(timeout=5)

    # ------------------------------------------------------------------ requests

    def handle(self, request: Request, replier: Replier) -> None:
        """Answer one request (the OscListener's handler)."""
        match request:
            case Hello():
                replier.send(self._hello(request.request_id))
            case Generate():
                self._submit(request, replier)
            case Cancel():
                self._cancel(request.request_id, replier)
            case Status():
                self._status(request.request_id, replier)
            case ListJobs():
                jobs, more = self.book.newest(limits.MAX_LISTED_JOBS)
                replier.send(
                    JobList(
                        request_id=request.request_id,
                        jobs={job.id: job.status.value for job in jobs},
                        more=more,
                    )
                )
            case _:
                raise ProtocolError(ErrorCode.UNKNOWN_ADDRESS, "not served", request.request_id)

    def _hello(self, request_id: str) -> HelloReply:
        return HelloReply(
            request_id=request_id,
            protocol=PROTOCOL_VERSION,
            engine_version=STEMLOOM_VERSION,
            model=self.model.label,
            model_state=self.model.state,
            queue_size=self.book.queue_size,
        )

    def _submit(self, request: Generate, replier: Replier) -> None:
        if self.model.state in ("missing", "error"):
            raise ProtocolError(ErrorCode.NO_MODEL, self.model.problem, request.request_id)
        for name, extensions in (("melody", MELODY_EXTENSIONS), ("reference", AUDIO_EXTENSIONS),
                                 ("continue_from", AUDIO_EXTENSIONS)):
            if getattr(request, name):
                _check_input_file(name, getattr(request, name), extensions, request.request_id)
        if request.keep_from and not (
            self.library.job_dir(request.keep_from) / PLAN_NAME
        ).is_file():
            raise ProtocolError(
                ErrorCode.BAD_ARGUMENT,
                f"keep_from: no finished job {request.keep_from!r} with a plan to keep",
                request.request_id,
            )
        seed = request.seed if request.seed >= 0 else secrets.randbelow(2**31)
        if (
            not self.book.knows(request.request_id)
            and self.library.job_dir(request.request_id).exists()
        ):
            # Clips from an earlier engine run live under this id: never overwrite them.
            raise ProtocolError(
                ErrorCode.DUPLICATE_ID,
                f"the clip library already holds a job {request.request_id!r}; use a new id",
                request.request_id,
            )
        job = self.book.submit(Job(request=request, seed=seed))
        job.subscribe(replier)
        replier.send(
            Ack(request_id=job.id, state=job.status.value, queue_position=self.book.position(job))
        )
        if job.outcome is not None:  # a re-sent request for a finished job
            replier.send(job.outcome)

    def _cancel(self, job_id: str, replier: Replier) -> None:
        job, was_waiting = self.book.cancel(job_id)
        if was_waiting:
            self.book.finish(job, JobStatus.CANCELLED, _cancelled(job))
            job.stage = JobStatus.CANCELLED.value
        replier.send(self._state(job))  # the direct answer first, then the job's outcome
        if was_waiting:
            job.notify(job.outcome)

    def _status(self, job_id: str, replier: Replier) -> None:
        try:
            job = self.book.get(job_id)
        except ProtocolError:
            done = self._done_from_library(job_id)
            if done is None:
                raise
            replier.send(
                JobState(
                    request_id=job_id, state="done", fraction=1.0, stage="done", queue_position=0
                )
            )
            replier.send(done)
            return
        replier.send(self._state(job))
        if job.outcome is not None:
            replier.send(job.outcome)
        else:
            job.subscribe(replier)

    def _state(self, job: Job) -> JobState:
        return JobState(
            request_id=job.id,
            state=job.status.value,
            fraction=min(1.0, max(0.0, job.fraction)),
            stage=job.stage,
            queue_position=self.book.position(job),
        )

    def _done_from_library(self, job_id: str) -> Done | None:
        """Rebuild the done reply of a job finished before this engine started."""
        try:
            metadata = self.library.read_json(self.library.job_dir(job_id) / METADATA_NAME)
            return Done(request_id=job_id, **metadata["done"])
        except (OSError, ValueError, KeyError, TypeError, OutsideLibrary):
            return None

    # -------------------------------------------------------------------- workers

    def _work(self) -> None:
        while not self._stopping.is_set():
            job = self.book.take()
            if job is None:
                continue
            try:
                self._run(job)
            except OutsideLibrary as exc:  # its folder was swapped for a link out of the library
                log.warning("job %s refused: %s", job.id, exc)
                self._fail(job, ErrorCode.WRITE_FAILED,
                           "the job's folder is no longer inside the clip library")
            except Exception:  # last line of defence: the worker must survive any job
                log.exception("job %s crashed", job.id)
                with contextlib.suppress(OutsideLibrary):  # never follow a link out to delete
                    _discard(self.library.job_dir(job.id))
                self._fail(job, ErrorCode.INTERNAL, "internal error; see the engine log")

    def _run(self, job: Job) -> None:
        request = job.request
        job_dir = self.library.job_dir(job.id)
        context = _JobContext(self, job, job_dir)
        started = time.monotonic()
        try:
            generator = self.model.generator()
            context.progress(0.0, "generating")
            # A little extra for the resampler's edges.
            seconds = clip_seconds(request.bpm, request.bars, request.time_signature) + 0.05
            if request.loop:
                seconds += loop_tail_seconds(request.bpm)
            raw = generator.generate(request, job.seed, seconds, context)
            context.progress(1.0, "writing")
            stems = {}
            for name, audio in raw.stems.items():
                clip = fit_clip(
                    audio,
                    raw.sample_rate,
                    bpm=request.bpm,
                    bars=request.bars,
                    time_signature=request.time_signature,
                    loop=request.loop,
                    target_rate=request.sample_rate,
                )
                path = self.library.write_audio(
                    job_dir / f"{name}.wav", clip, request.sample_rate, request.format
                )
                stems[name] = str(path)
            midi = ""
            if raw.melody_midi:
                midi_path = job_dir / MELODY_MIDI_NAME
                atomic_write_bytes(midi_path, raw.melody_midi)
                midi = str(midi_path)
            done = Done(
                request_id=job.id,
                bpm=request.bpm,
                bars=request.bars,
                time_signature=request.time_signature,
                key=raw.key,
                sample_rate=request.sample_rate,
                format=request.format,
                seed=job.seed,
                loop=request.loop,
                model=generator.name,
                metadata=str(job_dir / METADATA_NAME),
                stems=stems,
                melody_midi=midi,
            )
            self._write_metadata(job, done, time.monotonic() - started)
            (job_dir / PREVIEW_NAME).unlink(missing_ok=True)
            self._end(job, JobStatus.DONE, done)
        except JobCancelled:
            _discard(job_dir)
            self._end(job, JobStatus.CANCELLED, _cancelled(job))
        except ProtocolError as exc:
            _discard(job_dir)
            self._fail(job, exc.code, exc.message)
        except OSError as exc:
            _discard(job_dir)
            self._fail(
                job, ErrorCode.WRITE_FAILED, f"could not write the clips: {exc.strerror or exc}"
            )

    def _write_metadata(self, job: Job, done: Done, seconds: float) -> None:
        done_fields = {
            f.name: getattr(done, f.name) for f in fields(done) if f.name != "request_id"
        }
        request_fields = {
            f.name: getattr(job.request, f.name)
            for f in fields(job.request)
            if f.name not in ("token", "reply_port")
        }
        self.library.write_json(
            Path(done.metadata),
            {
                "job_id": job.id,
                "request": request_fields,
                "done": done_fields,
                "generation_seconds": round(seconds, 3),
                "engine_version": STEMLOOM_VERSION,
                "protocol": PROTOCOL_VERSION,
            },
        )

    def _fail(self, job: Job, code: ErrorCode, message: str) -> None:
        self._end(job, JobStatus.FAILED, Fail(request_id=job.id, code=code, message=message))

    def _end(self, job: Job, status: JobStatus, outcome: Done | Fail) -> None:
        self.book.finish(job, status, outcome)
        job.stage = status.value
        job.notify(outcome)


class _JobContext:
    """The JobContext a generator sees for one job."""

    def __init__(self, service: EngineService, job: Job, job_dir: Path) -> None:
        self._service = service
        self._job = job
        self._job_dir = job_dir
        self._last_sent = 0.0

    def progress(self, fraction: float, stage: str) -> None:
        """Record progress, tell subscribers (throttled), and honour a cancel request."""
        job = self._job
        if job.cancel_requested.is_set():
            raise JobCancelled(job.id)
        now = time.monotonic()
        changed_stage = stage != job.stage
        job.fraction, job.stage = min(1.0, max(0.0, fraction)), stage
        if changed_stage or now - self._last_sent >= PROGRESS_INTERVAL_S:
            self._last_sent = now
            job.notify(Progress(request_id=job.id, fraction=job.fraction, stage=stage))

    def plan_path(self, job_id: str = "") -> Path:
        """Where a job's generation plan is kept (in its folder of the clip library)."""
        return self._service.library.job_dir(job_id or self._job.id) / PLAN_NAME

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        """Write the mix so far as the job's preview file and announce it."""
        path = self._service.library.write_audio(
            self._job_dir / PREVIEW_NAME, mix, sample_rate, "wav16"
        )
        self._job.notify(
            Preview(request_id=self._job.id, path=str(path), seconds=mix.shape[1] / sample_rate)
        )


def _cancelled(job: Job) -> Fail:
    return Fail(request_id=job.id, code=ErrorCode.CANCELLED, message="cancelled by request")


def _discard(job_dir: Path) -> None:
    """Remove what a job that did not finish wrote: no clip of a failed job is left behind."""
    shutil.rmtree(job_dir, ignore_errors=True)


def _check_input_file(field: str, path_text: str, extensions: tuple[str, ...],
                      request_id: str) -> None:
    """An input file (melody, reference, clip to continue) must be an existing, modest file
    of a kind the engine reads, given by absolute path."""
    path = Path(path_text)
    problem = None
    if not path.is_absolute():
        problem = "must be an absolute path"
    elif path.suffix.lower() not in extensions:
        problem = f"must end in one of {', '.join(extensions)}"
    elif not path.is_file():
        problem = "no such file"
    elif path.stat().st_size > MAX_INPUT_BYTES:
        problem = f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MB"
    if problem:
        raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{field}: {problem}", request_id)
