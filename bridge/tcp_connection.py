"""One TCP client of the listener: its socket, the clocks the listener's rules read, and a
bounded outbox drained by the connection's own writer thread, so sending never blocks."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import deque

from bridge import limits
from bridge.slip import encode_frame

log = logging.getLogger("bridge.listener")

# How long a closing connection may take to flush its last replies (e.g. a too_large fail).
_LINGER_S = 1.0


class TcpConnection:
    """One TCP client: its socket, the clocks the listener's rules read, and a bounded outbox.

    ``enqueue`` never blocks; the connection's writer thread (``write_loop``) drains the outbox.
    The connection is closed when its outbox overflows, when its socket takes no byte for
    ``send_stall`` seconds, when a frame is not whole ``TCP_FRAME_DEADLINE_S`` after its first
    byte, or when it has been idle (no accepted request, no reply written) too long.
    """

    def __init__(self, sock: socket.socket, peer: tuple[str, int], *, send_stall: float) -> None:
        self.sock = sock
        self.peer = peer
        self.opened = time.monotonic()
        self.last_active = self.opened
        self.proven = False  # has sent an accepted request
        self.frame_started: float | None = None
        self._send_stall = send_stall
        self._cond = threading.Condition()
        self._outbox: deque[bytes] = deque()
        self._queued_bytes = 0
        self._draining = False
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the connection is being dropped."""
        return self._closed

    def mark_request(self) -> None:
        """An accepted request arrived: the connection is a client, and not idle."""
        self.proven = True
        self.last_active = time.monotonic()

    def note_frames(self, completed: bool, in_frame: bool) -> None:
        """Start or stop the frame clock after a chunk: it runs from a frame's first byte."""
        if not in_frame:
            self.frame_started = None
        elif completed or self.frame_started is None:
            self.frame_started = time.monotonic()

    def expired(self, frame_deadline: float, idle_timeout: float) -> str:
        """Why the connection must be closed now, or "" while it may stay."""
        now = time.monotonic()
        if self.frame_started is not None and now - self.frame_started > frame_deadline:
            return f"a frame still unfinished after {frame_deadline:g} s"
        if now - self.last_active > idle_timeout:
            return f"idle for {idle_timeout:g} s"
        return ""

    def enqueue(self, payload: bytes) -> None:
        """Queue one reply; never blocks. An outbox over its bounds closes the connection."""
        frame = encode_frame(payload)
        with self._cond:
            if self._closed or self._draining:
                return
            overflow = (
                len(self._outbox) >= limits.MAX_TCP_OUTBOX_MESSAGES
                or self._queued_bytes + len(frame) > limits.MAX_TCP_OUTBOX_BYTES
            )
            if not overflow:
                self._outbox.append(frame)
                self._queued_bytes += len(frame)
                self._cond.notify()
                return
            waiting = (len(self._outbox), self._queued_bytes)
        log.warning("closing %s: %d replies (%d bytes) wait unread", self.peer, *waiting)
        self.close()

    def write_loop(self) -> None:
        """Send queued frames in order (the writer thread) until closed, or drained."""
        while (frame := self._next_frame()) is not None:
            if not self._write(frame):
                return
            with self._cond:
                self._outbox.popleft()
                self._queued_bytes -= len(frame)
            if self.proven:
                self.last_active = time.monotonic()

    def _next_frame(self) -> bytes | None:
        with self._cond:
            while not (self._outbox or self._closed or self._draining):
                self._cond.wait()
            return None if self._closed or not self._outbox else self._outbox[0]

    def _write(self, frame: bytes) -> bool:
        view = memoryview(frame)
        progress = time.monotonic()
        while view and not self._closed:
            try:
                sent = self.sock.send(view)
            except TimeoutError:  # the socket timeout is the listener's poll interval
                if time.monotonic() - progress > self._send_stall:
                    log.warning("closing %s: it read nothing for %g s", self.peer,
                                self._send_stall)
                    self.close()
                    return False
                continue
            except OSError:
                self.close()
                return False
            view = view[sent:]
            progress = time.monotonic()
        return not view

    def close(self) -> None:
        """Drop the connection now: wakes its reader and writer threads. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        with contextlib.suppress(OSError):  # already closed by the peer
            self.sock.shutdown(socket.SHUT_RDWR)

    def finish(self, writer: threading.Thread) -> None:
        """End the connection (its reader thread): flush the outbox briefly, then close."""
        with self._cond:
            self._draining = True
            self._cond.notify_all()
        writer.join(timeout=_LINGER_S)
        self.close()
        writer.join(timeout=_LINGER_S)
        self.sock.close()
