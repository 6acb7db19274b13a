"""The client side: talk to an engine over UDP or TCP (SLIP) and follow jobs to the end.

Replies are routed by request id into per-id queues by a receive thread. ``wait`` follows a
job through progress and preview replies to its done or fail reply, and asks for the job's
status whenever nothing was heard for a while, so a lost datagram never loses a job.
"""

from __future__ import annotations

import dataclasses
import queue
import socket
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import TypeVar

from bridge import limits
from bridge.errors import ErrorCode, ProtocolError
from bridge.listener import DEFAULT_PORT
from bridge.messages import (
    FILES_VERSION,
    Ack,
    Cancel,
    Done,
    Fail,
    Generate,
    Hello,
    HelloFiles,
    HelloReply,
    JobList,
    JobState,
    ListJobs,
    Preview,
    Progress,
    Request,
    Status,
)
from bridge.schema import Message, decode, encode
from bridge.slip import SlipDecoder, encode_frame

ReplyT = TypeVar("ReplyT", bound=Message)
MAX_DISCARDED_IDS = 1024  # discarded ids remembered; the oldest is let go first

# Fail codes that answer a status or cancel request itself; any other fail under a job's id
# is the job's own outcome.
_REQUEST_FAILURES = frozenset(
    {
        ErrorCode.UNKNOWN_JOB,
        ErrorCode.UNAUTHORIZED,
        ErrorCode.TOO_LARGE,
        ErrorCode.BAD_MESSAGE,
        ErrorCode.UNKNOWN_ADDRESS,
        ErrorCode.MISSING_ARGUMENT,
    }
)


class EngineUnreachable(ConnectionError):
    """No reply came from the engine in time."""


class EngineClient:
    """A connection to one engine. Thread-safe; close it (or use ``with``) when done."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        transport: str = "udp",
        token: str = "",
        client_id: str = "",
        timeout: float = 5.0,
    ) -> None:
        """Connect to the engine at ``host``:``port``. ``token`` is the engine's shared secret
        (if it has one); ``client_id`` names this client's jobs across connections (see
        :func:`bridge.identity.user_client_id`); without it, only this client's socket owns
        the jobs it makes."""
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be udp or tcp, not {transport!r}")
        self.address = (host, port)
        self.transport = transport
        self.token = token
        self.client_id = client_id
        self.timeout = timeout
        self._inboxes: defaultdict[str, queue.Queue[Message]] = defaultdict(queue.Queue)
        self._held: defaultdict[str, list[Message]] = defaultdict(list)
        # Ids whose late replies are dropped as they arrive (see ``discard``), oldest first.
        self._discarded: OrderedDict[str, None] = OrderedDict()
        self._inbox_lock = threading.Lock()
        self._closed = threading.Event()
        self._gone = threading.Event()  # the TCP connection ended: no reply can come
        if transport == "udp":
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "", 0))
        else:
            try:
                self._sock = socket.create_connection(self.address, timeout=timeout)
            except OSError as exc:
                raise EngineUnreachable(f"cannot connect to {host}:{port}: {exc}") from exc
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small frames
        self._sock.settimeout(0.2)
        self._send_lock = threading.Lock()
        self._receiver = threading.Thread(target=self._receive, name="osc-client", daemon=True)
        self._receiver.start()

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the receive thread and close the socket."""
        self._closed.set()
        self._receiver.join(timeout=2)
        self._sock.close()

    # ------------------------------------------------------------------ sending

    def send(self, request: Request) -> None:
        """Send one request (the client's token and client id are filled in where the request
        has none)."""
        if self.token and not request.token:
            request = dataclasses.replace(request, token=self.token)
        if self.client_id and not request.client_id:
            request = dataclasses.replace(request, client_id=self.client_id)
        data = encode(request)
        with self._send_lock:
            if self.transport == "udp":
                if len(data) > limits.MAX_UDP_DATAGRAM:
                    raise ProtocolError(ErrorCode.TOO_LARGE, f"request of {len(data)} bytes")
                self._sock.sendto(data, self.address)
            else:
                self._sock.sendall(encode_frame(data))

    @property
    def connected(self) -> bool:
        """False once a TCP connection has ended (a new client must connect again)."""
        return not self._gone.is_set()

    def next_reply(self, request_id: str, timeout: float | None = None) -> Message:
        """The next reply echoing ``request_id``; EngineUnreachable if none comes in time,
        or at once when the TCP connection has ended."""
        with self._inbox_lock:
            held = self._held.get(request_id)
            if held:
                return held.pop(0)
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        inbox = self._inbox(request_id)
        while True:
            try:
                # In short slices: a connection that ends is noticed within one.
                return inbox.get(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
            except queue.Empty:
                if self._gone.is_set():
                    raise EngineUnreachable(
                        f"the connection to {self.address[0]}:{self.address[1]} ended"
                    ) from None
                if time.monotonic() >= deadline:
                    raise EngineUnreachable(
                        f"no reply for {request_id!r} from {self.address[0]}:"
                        f"{self.address[1]} within {wait:.1f} s"
                    ) from None

    def forget(self, request_id: str) -> None:
        """Drop replies still queued for ``request_id``."""
        with self._inbox_lock:
            self._inboxes.pop(request_id, None)
            self._held.pop(request_id, None)

    def discard(self, request_id: str) -> None:
        """Drop replies queued for ``request_id`` and every one that arrives later: for an
        id never used again (a fetch's), whose replies may still be on their way, so they
        do not pile up in an inbox nobody reads."""
        with self._inbox_lock:
            self._inboxes.pop(request_id, None)
            self._held.pop(request_id, None)
            self._discarded[request_id] = None
            while len(self._discarded) > MAX_DISCARDED_IDS:
                self._discarded.popitem(last=False)

    # -------------------------------------------------------------- the verbs

    def hello(self, request_id: str = "hello", client: str = "stemloom") -> HelloReply:
        """Ask the engine who it is."""
        return self._call(Hello(request_id=request_id, client=client), HelloReply)

    def hello_files(self, request_id: str = "hello-files") -> HelloFiles | None:
        """How files travel to and from this engine (protocol v2), or None when it speaks
        only v1 (it refuses the hello's ``protocol`` key, or answers with protocol 1)."""
        try:
            reply = self._call(Hello(request_id=request_id, protocol=FILES_VERSION), HelloReply)
        except ProtocolError as exc:
            if exc.code == ErrorCode.BAD_ARGUMENT:  # a v1 engine: "unknown key 'protocol'"
                return None
            raise
        if reply.protocol < FILES_VERSION:
            return None
        files = self.next_reply(request_id)
        if not isinstance(files, HelloFiles):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f"expected the files reply, got "
                                f"{files.ADDRESS}", request_id)
        return files

    def submit(self, request: Generate) -> Ack:
        """Submit a generation job; raise ProtocolError if the engine refuses it."""
        return self._call(request, Ack)

    def status(self, job_id: str) -> tuple[JobState, Done | Fail | None]:
        """A job's state and, when it has finished, its done or fail reply."""
        state = self._call(Status(request_id=job_id), JobState)
        outcome: Done | Fail | None = None
        if state.state.finished:
            outcome = self._expect_outcome(job_id)
        return state, outcome

    def cancel(self, job_id: str) -> JobState:
        """Ask the engine to cancel a job; returns its state right after the request."""
        return self._call(Cancel(request_id=job_id), JobState)

    def jobs(self, request_id: str = "jobs") -> JobList:
        """Known jobs, newest first."""
        return self._call(ListJobs(request_id=request_id), JobList)

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
        on_progress: Callable[[Progress], None] | None = None,
        on_preview: Callable[[Preview], None] | None = None,
    ) -> Done:
        """Follow a job to its end and return its done reply; raise ProtocolError on fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                remaining = max(0.0, min(poll_interval, deadline - time.monotonic()))
                reply = self.next_reply(job_id, timeout=remaining)
            except EngineUnreachable:
                # Heard nothing for a while: a reply may have been lost. Ask.
                _, outcome = self.status(job_id)
                if outcome is not None:
                    return _done_or_raise(outcome)
                continue
            if isinstance(reply, Progress) and on_progress:
                on_progress(reply)
            elif isinstance(reply, Preview) and on_preview:
                on_preview(reply)
            elif isinstance(reply, Done | Fail):
                self.forget(job_id)
                return _done_or_raise(reply)
        raise EngineUnreachable(f"job {job_id!r} did not finish within {timeout:.0f} s")

    # ---------------------------------------------------------------- internals

    def _call(self, request: Request, expected: type[ReplyT]) -> ReplyT:
        """Send and return the first reply of the expected type.

        Status and cancel share their id with the job, so the job's own progress, preview,
        done and fail replies may arrive first: those are held back for ``wait``.
        """
        self.send(request)
        deadline = time.monotonic() + self.timeout
        held: list[Message] = []
        try:
            while True:
                remaining = max(0.0, deadline - time.monotonic())
                reply = self.next_reply(request.request_id, timeout=remaining)
                if isinstance(reply, expected):
                    return reply
                if isinstance(reply, Fail) and not (
                    isinstance(request, Status | Cancel) and reply.code not in _REQUEST_FAILURES
                ):
                    raise ProtocolError(ErrorCode(reply.code), reply.message, reply.request_id)
                held.append(reply)
        finally:
            if held:
                with self._inbox_lock:
                    self._held[request.request_id][:0] = held

    def _expect_outcome(self, job_id: str) -> Done | Fail:
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self.next_reply(job_id, timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(reply, Done | Fail):
                return reply

    def _inbox(self, request_id: str) -> queue.Queue[Message]:
        with self._inbox_lock:
            return self._inboxes[request_id]

    def _receive(self) -> None:
        decoder = SlipDecoder(limits.MAX_TCP_FRAME)
        while not self._closed.is_set():
            try:
                if self.transport == "udp":
                    packets = [self._sock.recv(65536)]
                else:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        self._gone.set()
                        return
                    packets = decoder.feed(chunk)
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                if self.transport == "tcp":  # reset or aborted: the connection is over
                    self._gone.set()
                    return
                continue
            for packet in packets:
                try:
                    message = decode(packet)
                except ProtocolError:
                    continue  # not ours to answer; a client never replies to replies
                with self._inbox_lock:
                    if message.request_id in self._discarded:
                        continue
                    inbox = self._inboxes[message.request_id]
                inbox.put(message)


def _done_or_raise(outcome: Done | Fail) -> Done:
    if isinstance(outcome, Fail):
        raise ProtocolError(ErrorCode(outcome.code), outcome.message, outcome.request_id)
    return outcome
