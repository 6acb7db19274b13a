"""A TCP relay the test controls, for two processes on one machine (where network namespaces
cannot be made): the host connects to it, it connects on to the engine, and the test can slow
what the engine sends and cut every connection, as a dropped link would; no privilege needed.
It keeps every byte the engine sent, for tests that check what a client was told."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

_BLOCK = 16 * 1024


class Relay:
    """Forwards 127.0.0.1:``port`` to the engine's TCP port."""

    def __init__(self, engine_port: int) -> None:
        self._engine_port = engine_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._bytes_per_s = 0.0
        self._open: list[socket.socket] = []
        self.from_engine = bytearray()  # all the engine sent, on every connection
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def throttle(self, bits_per_s: float) -> None:
        """Pass what the engine sends at most this fast."""
        self._bytes_per_s = bits_per_s / 8

    def cut(self) -> int:
        """Close every relayed connection now; returns how many there were."""
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(sockets) // 2

    def close(self) -> None:
        """Stop relaying."""
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                host_side, _ = self._listener.accept()
            except OSError:
                return
            engine_side = socket.create_connection(("127.0.0.1", self._engine_port))
            with self._lock:
                self._open += [host_side, engine_side]
            for source, sink, slow in ((host_side, engine_side, False),
                                       (engine_side, host_side, True)):
                threading.Thread(target=self._pump, args=(source, sink, slow),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, slow: bool) -> None:
        with contextlib.suppress(OSError):
            while block := source.recv(_BLOCK):
                if slow:
                    with self._lock:
                        self.from_engine += block
                sink.sendall(block)
                if slow and self._bytes_per_s:
                    time.sleep(len(block) / self._bytes_per_s)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
