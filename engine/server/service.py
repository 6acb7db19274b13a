"""The engine's job service: answers every request and runs jobs on worker threads.

``EngineService.handle`` is the listener's handler; it never blocks on generation. Workers
take jobs from the ``JobBook``, run the generator, fit and write the clips into the
``ClipLibrary`` and send done or fail. Nothing a job does can stop a worker. With
``max_batch`` over 1 and a generator that batches, a worker takes the next job in turn with up
to ``max_batch - 1`` waiting jobs of the same length and sampling settings and runs them as one
batch (``engine.server.batching``); each job still ends on its own (a bad input or a cancel
ends that job only) and its replies go to its own clients.

Input files are read only from the engine's input folders (``engine.server.inputs``). A job
belongs to the client that made it (``owner_of``): only that client lists it, asks its
status, follows its progress, cancels it or keeps its plan; to anyone else it does not exist.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import logging
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from bridge import limits
from bridge.atomic import atomic_write_bytes
from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import Replier, is_loopback
from bridge.messages import (
    CAPACITY_VERSION,
    FILES_VERSION,
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Done,
    Fail,
    Fetch,
    Generate,
    Hello,
    HelloCapacity,
    HelloFiles,
    HelloReply,
    JobList,
    JobState,
    JobStatus,
    ListJobs,
    ModelState,
    Preview,
    Progress,
    Request,
    Stage,
    Status,
    Upload,
)
from bridge.version import STEMLOOM_VERSION
from engine.api import Result
from engine.generation import Generator, JobCancelled, NoTrainedModel
from engine.model_store import load_generator
from engine.request import GenerationRequest, KeptPlan, RequestError, from_generate
from engine.server.batching import Work, batch_key, batches, render_all
from engine.server.device import DeviceError, place
from engine.server.inputs import InputFolders, InputRefused
from engine.server.jobs import Job, JobBook, Recipient
from engine.server.library import METADATA_NAME, ClipLibrary, OutsideLibrary
from engine.server.naming import EnginePaths, NamingReplier
from engine.server.transfers import fetch_chunks, require_stream
from engine.server.uploads import UploadArea, is_handle

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
MELODY_EXTENSIONS = (*AUDIO_EXTENSIONS, ".mid", ".midi")
# The request fields a job's record never holds: secrets, and where replies went.
UNRECORDED_FIELDS = ("token", "reply_port", "client_id")
# The input fields of a generate request and the kinds of file each may name.
INPUT_FIELDS = (("melody", MELODY_EXTENSIONS), ("reference", AUDIO_EXTENSIONS),
                ("continue_from", AUDIO_EXTENSIONS))
PREVIEW_NAME = "preview.wav"
# Uploaded inputs live in the library's hidden folder (never a job's: ids start alnum).
UPLOADS_NAME = ".uploads"
PLAN_NAME = "plan.npz"
MELODY_MIDI_NAME = "melody.mid"
# Progress replies are sent at most this often (a stage change is always sent).
PROGRESS_INTERVAL_S = 0.1
# On shutdown, how long running jobs get to stop at their next step and remove their files
# (their clients have been told already); what is left then is swept at the next start.
SHUTDOWN_WAIT_S = 3.0
# What the files of a job that did not finish may include: removed when it is swept.
PARTIAL_NAMES = (PREVIEW_NAME, PLAN_NAME)


class ModelSlot:
    """Loads the generator in the background so the server answers hello at once."""

    def __init__(self, name: str, device: str = "cpu", asked_device: str = "cpu") -> None:
        self.name = name
        # Where to try to generate (resolved: cpu or cuda:N) and what the operator asked for.
        self._target, self._asked_device = device, asked_device
        # Where the model runs: known once it is loaded and placed ("" until then).
        self.device = ""
        self.state = ModelState.LOADING
        self.problem = ""
        self._generator: Generator | None = None
        self._loaded = threading.Event()

    def load(self) -> None:
        """Load the model (run on a background thread)."""
        try:
            generator = load_generator(self.name)
            self.device = place(generator, self._target, asked=self._asked_device)
            log.info("model %s runs on %s (--device %s)", generator.name, self.device,
                     self._asked_device)
            self._generator = generator
            self.state = ModelState.READY
        except NoTrainedModel as exc:
            self.state, self.problem = ModelState.MISSING, str(exc)
        except DeviceError as exc:
            self.state, self.problem = ModelState.ERROR, str(exc)
        except Exception as exc:  # a broken model file must not take the server down
            log.exception("model %s failed to load", self.name)
            self.state = ModelState.ERROR
            self.problem = f"model {self.name!r} failed to load: {exc}"
        finally:
            self._loaded.set()

    @property
    def label(self) -> str:
        """The model's name as reported to clients: a model given as a path is named by its
        last part until it loads (a client learns no folder of the engine's machine)."""
        return self._generator.name if self._generator else Path(self.name).name or self.name

    @property
    def loaded(self) -> Generator | None:
        """The generator once loaded (None while loading, or if it could not be)."""
        return self._generator

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
        client_queue_size: int | None = None,
        workers: int = 1,
        retention_s: float = 3600.0,
        input_folders: Iterable[Path] = (),
        device: str = "cpu",
        asked_device: str = "cpu",
        max_batch: int = 1,
    ) -> None:
        self.model = ModelSlot(model, device, asked_device)
        # The most jobs one worker generates as one batch (1: every job alone).
        self.max_batch = max(1, max_batch)
        self.library = library
        # The library is always an input folder (a clip it made may be continued).
        self.inputs = InputFolders((library.root, *input_folders))
        self.book = JobBook(queue_size, retention_s, client_queue_size=client_queue_size)
        self.uploads = UploadArea(library.root / UPLOADS_NAME, MELODY_EXTENSIONS,
                                  in_use=self._inputs_in_use)
        # What remote clients never hear of: the library (uploads named by their handles),
        # the engine's own folder (its code and default weights) and a model named by path.
        self.paths = EnginePaths(self.uploads.root, (
            library.root, Path(__file__).resolve().parents[1],
            *((Path(model),) if model != "default" else ())))
        # A random key per TCP connection (its Replier): a connection's identity that no
        # other connection can take, even one that later gets the same address and port.
        self._connection_keys: weakref.WeakKeyDictionary[Replier, str] = (
            weakref.WeakKeyDictionary())
        # The protocol each TCP connection's latest hello said (none yet: v1). From 2 on, or
        # from any address but this machine's, its replies name a job's files, never the
        # engine's paths (engine.server.naming).
        self._protocols: weakref.WeakKeyDictionary[Replier, int] = weakref.WeakKeyDictionary()
        self._keys_lock = threading.Lock()
        self._workers = workers
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Sweep what a killed engine left in the library, then start loading the model
        and the worker threads."""
        self.sweep()
        loader = threading.Thread(target=self.model.load, name="model-load", daemon=True)
        loader.start()
        self._threads.append(loader)
        for index in range(self._workers):
            worker = threading.Thread(target=self._work, name=f"worker-{index}", daemon=True)
            worker.start()
            self._threads.append(worker)

    def sweep(self) -> list[str]:
        """Mark the jobs a killed engine left running in the library failed (interrupted)
        and remove their partial files, and remove the uploads past their retention;
        skipped while another engine holds the library."""
        if not self.library.claim():
            log.warning("another engine serves %s: not sweeping it", self.library.root)
            return []
        swept = self.library.sweep_interrupted(PARTIAL_NAMES, {
            "code": ErrorCode.INTERRUPTED.value,
            "message": "the engine stopped (killed or crashed) while this job ran; its "
            "partial files were removed",
        }, stale_names=(PREVIEW_NAME,))
        if swept:
            log.warning("%d job(s) interrupted by an earlier engine: %s", len(swept),
                        ", ".join(swept[:10]))
        self.uploads.sweep()
        return swept

    def stop(self, wait_s: float = SHUTDOWN_WAIT_S) -> None:
        """Shut down: refuse new jobs, fail every queued and running job with shutting_down
        (their clients hear it now, while the sockets are open), then give the workers up to
        ``wait_s`` to stop at their next step and remove the jobs' files."""
        self._stopping.set()
        waiting, running = self.book.close()
        for job in (*running, *waiting):
            job.cancel_requested.set()
            self._fail(job, ErrorCode.SHUTTING_DOWN,
                       "the engine is shutting down; submit the job again once one runs")
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.library.release()

    # ------------------------------------------------------------------ requests

    def owner_of(self, request: Request, replier: Replier) -> str:
        """The owner key of a request: who it speaks for. The token (when the engine has
        one) and the request's ``client_id``; without a client_id, its TCP connection, or
        over UDP its reply address (host and reply port). Hashed: no record holds a secret."""
        if request.client_id:
            basis = f"client:{request.client_id}"
        elif replier.peer.startswith("tcp:"):
            with self._keys_lock:
                key = self._connection_keys.setdefault(replier, secrets.token_hex(16))
            basis = f"connection:{key}"
        else:
            basis = f"address:{replier.peer}"
        return hashlib.sha256(f"{request.token}\0{basis}".encode()).hexdigest()

    def recipient(self, replier: Replier) -> Recipient:
        """Where replies to ``replier``'s client go, as that client sees files: a TCP
        connection from another address (any protocol: paths are no use off this machine) or
        one that said protocol 2 or more gets names in its job folder; UDP and v1 loopback
        connections (on the engine's machine: 127.0.0.0/8 or ::1) get paths."""
        if not replier.peer.startswith("tcp:"):
            return replier
        with self._keys_lock:
            protocol = self._protocols.get(replier, 1)
        if protocol >= FILES_VERSION or not is_loopback(replier.host):
            return NamingReplier(replier, self.paths)
        return replier

    @staticmethod
    def turn_of(replier: Recipient) -> str:
        """The turn key of a request: its client's network address (no port), which decides
        when its jobs run and how many may wait. Not the owner: a request picks its
        ``client_id`` freely, so one keyed on it could jump the queue with a new id per job.
        Every client on one machine (or behind one NAT) shares one turn."""
        return replier.host or replier.peer

    def handle(self, request: Request, connection: Replier) -> None:
        """Answer one request (the OscListener's handler)."""
        owner = self.owner_of(request, connection)
        if isinstance(request, Hello) and connection.peer.startswith("tcp:"):
            with self._keys_lock:
                self._protocols[connection] = request.protocol
        replier = self.recipient(connection)
        try:
            self._answer(request, replier, owner)
        except ProtocolError as error:  # the listener sends it: as the client may hear it
            if isinstance(replier, NamingReplier):
                raise replier.refusal(error) from None
            raise

    def _answer(self, request: Request, replier: Recipient, owner: str) -> None:
        """Answer one request for its client (``owner``), through ``replier``."""
        match request:
            case Hello():
                replier.send(self._hello(request))
                if request.protocol >= FILES_VERSION:
                    replier.send(HelloFiles(request_id=request.request_id))
                if request.protocol >= CAPACITY_VERSION:
                    replier.send(self._capacity(request, replier))
            case Upload():
                require_stream(request, replier)
                replier.send(self.uploads.receive(owner, request))
            case Fetch():
                require_stream(request, replier)
                self._fetch(request, replier, owner)
            case Generate() if self._stopping.is_set():
                raise ProtocolError(ErrorCode.SHUTTING_DOWN,
                                    "the engine is shutting down; try again later",
                                    request.request_id)
            case Generate():
                try:
                    self._submit(request, replier, owner)
                except OutsideLibrary:  # <library>/<id> is a link out of the library
                    raise ProtocolError(
                        ErrorCode.BAD_ARGUMENT,
                        "an id names a folder of the clip library that links out of it",
                        request.request_id,
                    ) from None
            case Cancel():
                self._cancel(request.request_id, replier, owner)
            case Status():
                self._status(request.request_id, replier, owner)
            case ListJobs():
                jobs, more = self.book.newest(limits.MAX_LISTED_JOBS, owner)
                replier.send(
                    JobList(
                        request_id=request.request_id,
                        jobs={job.id: job.status.value for job in jobs},
                        more=more,
                    )
                )
            case _:
                raise ProtocolError(ErrorCode.UNKNOWN_ADDRESS, "not served", request.request_id)

    def _hello(self, request: Hello) -> HelloReply:
        return HelloReply(
            request_id=request.request_id,
            protocol=min(request.protocol, PROTOCOL_VERSION),
            engine_version=STEMLOOM_VERSION,
            model=self.model.label,
            model_state=self.model.state,
            queue_size=self.book.queue_size,
        )

    def _capacity(self, request: Hello, replier: Recipient) -> HelloCapacity:
        """What the engine can take on now, for the asking client's turn key and for all
        (hello, protocol 3)."""
        load = self.book.load(self.turn_of(replier))
        return HelloCapacity(
            request_id=request.request_id,
            workers=self._workers,
            running=load.running,
            queue_size=self.book.queue_size,
            waiting=load.waiting,
            free=load.free,
            client_queue_size=self.book.client_queue_size,
            client_free=load.client_free,
            device=self.model.device,
            # Before the model is loaded, whether it batches is not known: the cap decides.
            batching=self.max_batch > 1 and (self.model.loaded is None
                                             or batches(self.model.loaded)),
        )

    def _submit(self, request: Generate, replier: Recipient, owner: str) -> None:
        if self.model.state in (ModelState.MISSING, ModelState.ERROR):
            raise ProtocolError(ErrorCode.NO_MODEL, self.model.problem, request.request_id)
        resolved = self._resolved_inputs(request, owner)
        inputs = tuple(Path(getattr(resolved, name)) for name, _ in INPUT_FIELDS
                       if getattr(resolved, name))
        if request.keep_from:
            try:
                self._kept_plan(request.keep_from, owner)
            except ProtocolError:
                raise ProtocolError(
                    ErrorCode.BAD_ARGUMENT,
                    f"keep_from: no finished job {request.keep_from!r} of yours with a plan "
                    "to keep",
                    request.request_id,
                ) from None
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
        job = self.book.submit(Job(request=request, seed=seed, owner=owner,
                                   turn=self.turn_of(replier), inputs=inputs))
        job.subscribe(replier)
        replier.send(
            Ack(request_id=job.id, state=job.status.value, queue_position=self.book.position(job))
        )
        if job.outcome is not None:  # a re-sent request for a finished job
            replier.send(job.outcome)

    def _fetch(self, request: Fetch, replier: Recipient, owner: str) -> None:
        """Send the asked range of a file of one of the client's own jobs."""
        if not self._owns(request.job, owner):
            raise ProtocolError(ErrorCode.UNKNOWN_JOB, f"no job with id {request.job!r}",
                                request.request_id)
        for chunk in fetch_chunks(self.library, self.library.job_dir(request.job), request,
                                  self.paths):
            replier.send(chunk)

    def _cancel(self, job_id: str, replier: Recipient, owner: str) -> None:
        job, was_waiting = self.book.cancel(job_id, owner)
        if was_waiting:
            self.book.finish(job, JobStatus.CANCELLED, _cancelled(job))
            job.stage = JobStatus.CANCELLED.value
        replier.send(self._state(job))  # the direct answer first, then the job's outcome
        if was_waiting:
            job.notify(job.outcome)

    def _status(self, job_id: str, replier: Recipient, owner: str) -> None:
        try:
            job = self.book.get(job_id, owner)
        except ProtocolError:
            if self.book.knows(job_id):  # another client's job: it does not exist for this one
                raise
            outcome = self._outcome_from_library(job_id, owner)
            if outcome is None:
                raise
            state = JobStatus.DONE if isinstance(outcome, Done) else JobStatus.FAILED
            replier.send(
                JobState(request_id=job_id, state=state.value, stage=state.value,
                         fraction=1.0 if state is JobStatus.DONE else 0.0, queue_position=0)
            )
            replier.send(outcome)
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

    def _outcome_from_library(self, job_id: str, owner: str) -> Done | Fail | None:
        """Rebuild the done (or, for a job a killed engine left, the interrupted fail) reply
        of a job of ``owner``'s that ended before this engine started (None for another's,
        or one whose record names no owner)."""
        try:
            metadata = self.library.read_json(self.library.job_dir(job_id) / METADATA_NAME)
            if metadata.get("owner") != owner:
                return None
            if "fail" in metadata:
                fail = metadata["fail"]
                return Fail(request_id=job_id, code=ErrorCode(fail["code"]),
                            message=str(fail["message"]))
            return Done(request_id=job_id, **metadata["done"])
        except (OSError, ValueError, KeyError, TypeError, OutsideLibrary):
            return None

    # -------------------------------------------------------------------- workers

    def _work(self) -> None:
        """The worker loop. It supervises itself: whatever escapes one job's own handling
        (a failure while reporting a failure, say) is logged and the loop goes on, so the
        queue is never left without a worker while hello says ready."""
        while not self._stopping.is_set():
            try:
                self._work_on_next()
            except Exception:
                log.exception("the worker recovered from an error outside any job")

    def _work_on_next(self) -> None:
        jobs = self.book.take_batch(self.max_batch, self._batch_key)
        try:
            self._run(jobs)
        except Exception:  # last line of defence: the worker must survive any job
            log.exception("jobs %s crashed", ", ".join(job.id for job in jobs))
            for job in jobs:  # those not ended yet (ending twice changes nothing)
                self._fail(job, ErrorCode.INTERNAL, "internal error; see the engine log")

    def _batch_key(self, job: Job) -> object | None:
        """What ``job`` must share with others to run in one batch with them (None: it runs
        alone). Called with the job book locked: from the request's fields alone."""
        try:
            return batch_key(self.model.loaded, from_generate(job.request))
        except Exception:  # a request the model cannot take fails in its own run
            return None

    def _run(self, jobs: list[Job]) -> None:
        """Run ``jobs`` (taken together) as one batch, each ending on its own."""
        started = time.monotonic()
        if len(jobs) > 1:
            batch = f"batch-{secrets.token_hex(4)}"
            log.info("%s runs %d jobs: %s", batch, len(jobs), ", ".join(j.id for j in jobs))
            for job in jobs:
                job.batch = batch
        work: list[tuple[Job, Work]] = []
        generator: Generator | None = None
        left: set[str] = set()  # the jobs that left the batch early, answered then

        def leave(job: Job, error: Exception) -> None:
            """End a job that left its batch early (cancelled, a bad input) now, not when
            the batch ends."""
            left.add(job.id)
            with self._ending(job):
                raise error

        for job in jobs:
            with self._ending(job):
                self._record_running(job)
                context = _JobContext(self, job, self.library.job_dir(job.id))
                generator = self.model.generator()
                context.progress(0.0, Stage.GENERATING)
                work.append((job, Work(self._generation_request(job), job.seed, context,
                                       job.request.sample_rate, functools.partial(leave, job))))
        if generator is None or not work:
            return
        try:
            results = render_all(generator, [w for _, w in work])
        except Exception as error:  # the batch as a whole: every job not yet answered ends
            results = [error] * len(work)
        for (job, _), result in zip(work, results, strict=True):
            if job.id in left:  # it has its answer and its files are gone
                continue
            with self._ending(job):
                if isinstance(result, Exception):
                    raise result
                self._deliver(job, result, generator.name, time.monotonic() - started)

    @contextlib.contextmanager
    def _ending(self, job: Job) -> Iterator[None]:
        """End ``job`` with the right reply for whatever its block raises (and remove what
        it wrote); other jobs of its batch go on."""
        try:
            yield
        except JobCancelled:
            self._discard(job)
            self._end(job, JobStatus.CANCELLED, _cancelled(job))
        except OutsideLibrary as exc:  # its folder was swapped for a link out of the library
            log.warning("job %s refused: %s", job.id, exc)
            self._fail(job, ErrorCode.WRITE_FAILED,
                       "the job's folder is no longer inside the clip library")
        except ProtocolError as exc:
            self._discard(job)
            self._fail(job, exc.code, exc.message)
        except RequestError as exc:  # the model cannot serve the request as asked
            self._discard(job)
            self._fail(job, ErrorCode.BAD_ARGUMENT, str(exc))
        except OSError as exc:  # the reason alone: the whole error names the library's paths
            self._discard(job)
            self._fail(job, ErrorCode.WRITE_FAILED,
                       f"could not write the clips: {exc.strerror or 'a file system error'}")
        except Exception:
            log.exception("job %s crashed", job.id)
            self._discard(job)
            self._fail(job, ErrorCode.INTERNAL, "internal error; see the engine log")

    def _discard(self, job: Job) -> None:
        """Remove what an unfinished job wrote (never following a link out to delete)."""
        with contextlib.suppress(OutsideLibrary):
            _discard(self.library.job_dir(job.id))

    def _deliver(self, job: Job, raw: Result, model: str, seconds: float) -> None:
        """Write a finished job's clips, plan and melody, record it and send done."""
        request = job.request
        job_dir = self.library.job_dir(job.id)
        _JobContext(self, job, job_dir).progress(1.0, Stage.WRITING)
        stems = {}
        for name, clip in raw.stems.items():
            path = self.library.write_audio(
                job_dir / f"{name}.wav", clip, request.sample_rate, request.format
            )
            stems[name] = str(path)
        if raw.plan:  # what a later keep_from needs
            plan = io.BytesIO()
            np.savez(plan, **raw.plan)
            atomic_write_bytes(job_dir / PLAN_NAME, plan.getvalue())
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
            model=model,
            metadata=str(job_dir / METADATA_NAME),
            stems=stems,
            melody_midi=midi,
        )
        self._write_metadata(job, done, seconds)
        (job_dir / PREVIEW_NAME).unlink(missing_ok=True)
        self._end(job, JobStatus.DONE, done)

    def _generation_request(self, job: Job) -> GenerationRequest:
        """The model's request for a job's generate message (the edge between the protocol
        and the model): input paths checked again and resolved (the model reads the real
        file, never a link that may have changed since the job was submitted), a keep_from
        job's plan read from its folder."""
        request = job.request
        kept = self._kept_plan(request.keep_from, job.owner) if request.keep_from else None
        return from_generate(self._resolved_inputs(request, job.owner), keep_plan=kept)

    def _resolved_inputs(self, request: Generate, owner: str) -> Generate:
        """``request`` with each input path replaced by the real file it names, or a
        bad_argument error for one the engine will not read (see ``engine.server.inputs``:
        missing, unreadable and outside the input folders get the same answer; of the
        uploads, only ``owner``'s own)."""
        resolved: dict[str, Any] = {}
        for name, extensions in INPUT_FIELDS:
            text = getattr(request, name)
            if not text:
                continue
            if is_handle(text):  # an upload of this client's, by the handle its reply gave
                uploaded = self.uploads.file_of(owner, text)
                if uploaded is None:
                    raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{name}: no finished upload "
                                        f"{text!r} of yours (it expired, or never completed); "
                                        "upload the file again", request.request_id)
                text = str(uploaded)
            try:
                resolved[name] = str(self.inputs.resolve(
                    text, extensions, private=self.uploads.root, own=self.uploads.folder(owner)))
            except InputRefused as refused:
                raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{name}: {refused}",
                                    request.request_id) from None
        return dataclasses.replace(request, **resolved) if resolved else request

    def _inputs_in_use(self) -> list[Path]:
        """The files that jobs waiting or running read (their uploads must stay)."""
        return [path for job in self.book.unfinished() for path in job.inputs]

    def _owns(self, job_id: str, owner: str) -> bool:
        """Whether ``owner`` made the job ``job_id`` (in memory, or recorded in the library)."""
        if self.book.knows(job_id):
            try:
                self.book.get(job_id, owner)
                return True
            except ProtocolError:
                return False
        try:
            record = self.library.read_json(self.library.job_dir(job_id) / METADATA_NAME)
        except (OSError, ValueError, OutsideLibrary):
            return False
        return isinstance(record, dict) and record.get("owner") == owner

    def _kept_plan(self, job_id: str, owner: str) -> KeptPlan:
        """The plan a finished job of ``owner``'s left in its folder, read only as a regular
        file there (never through a link), or a bad_argument error."""
        try:
            if not self._owns(job_id, owner):
                raise OSError(f"{job_id} is not this client's job")
            data = self.library.read_regular(self.library.job_dir(job_id) / PLAN_NAME,
                                             limits.MAX_INPUT_BYTES)
            with np.load(io.BytesIO(data), allow_pickle=False) as plan:
                return {name: plan[name] for name in plan.files}
        except (OSError, ValueError, OutsideLibrary) as error:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT,
                                f"keep_from: job {job_id!r} left no plan to keep (it is "
                                "unknown, not yours, failed, or made by another model)"
                                ) from error

    def _record_running(self, job: Job) -> None:
        """Note in the library that the job runs: found by the next engine's sweep if this
        one is killed before the job ends (the done record replaces it)."""
        request_fields = {
            f.name: getattr(job.request, f.name)
            for f in fields(job.request)
            if f.name not in UNRECORDED_FIELDS
        }
        self.library.write_json(self.library.job_dir(job.id) / METADATA_NAME, {
            "job_id": job.id,
            "owner": job.owner,
            "state": JobStatus.RUNNING.value,
            "request": request_fields,
            "engine_version": STEMLOOM_VERSION,
            "protocol": PROTOCOL_VERSION,
            **_batch_record(job),
        })

    def _write_metadata(self, job: Job, done: Done, seconds: float) -> None:
        done_fields = {
            f.name: getattr(done, f.name) for f in fields(done) if f.name != "request_id"
        }
        request_fields = {
            f.name: getattr(job.request, f.name)
            for f in fields(job.request)
            if f.name not in UNRECORDED_FIELDS
        }
        self.library.write_json(
            Path(done.metadata),
            {
                "job_id": job.id,
                "owner": job.owner,
                "request": request_fields,
                "done": done_fields,
                "generation_seconds": round(seconds, 3),
                "engine_version": STEMLOOM_VERSION,
                "protocol": PROTOCOL_VERSION,
                **_batch_record(job),
            },
        )

    def _fail(self, job: Job, code: ErrorCode, message: str) -> None:
        self._end(job, JobStatus.FAILED, Fail(request_id=job.id, code=code, message=message))

    def _end(self, job: Job, status: JobStatus, outcome: Done | Fail) -> None:
        if not self.book.finish(job, status, outcome):
            return  # ended already (failed by a shutdown): its clients have their answer
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

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        """Write the mix so far as the job's preview file and announce it."""
        path = self._service.library.write_audio(
            self._job_dir / PREVIEW_NAME, mix, sample_rate, "wav16"
        )
        self._job.notify(
            Preview(request_id=self._job.id, path=str(path), seconds=mix.shape[1] / sample_rate)
        )


def _batch_record(job: Job) -> dict[str, str]:
    """The record's note of the batch a job ran in (none when it ran alone)."""
    return {"batch": job.batch} if job.batch else {}


def _cancelled(job: Job) -> Fail:
    return Fail(request_id=job.id, code=ErrorCode.CANCELLED, message="cancelled by request")


def _discard(job_dir: Path) -> None:
    """Remove what a job that did not finish wrote: no clip of a failed job is left behind."""
    shutil.rmtree(job_dir, ignore_errors=True)

