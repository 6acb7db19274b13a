"""Run the engine's OSC server until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from bridge.listener import OscListener
from engine.server.library import ClipLibrary
from engine.server.service import EngineService

log = logging.getLogger("stemloom.engine")


def serve(
    *,
    host: str,
    udp_port: int,
    tcp_port: int | None,
    token: str,
    library: Path,
    model: str,
    queue_size: int,
    workers: int,
) -> int:
    """Serve requests until SIGINT or SIGTERM; returns the exit code."""
    service = EngineService(model, ClipLibrary(library), queue_size=queue_size, workers=workers)
    listener = OscListener(
        service.handle, host=host, udp_port=udp_port, tcp_port=tcp_port, token=token
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    service.start()
    listener.start()
    udp_host, udp_bound = listener.udp_address
    where = f"udp://{udp_host}:{udp_bound}"
    if listener.tcp_address:
        where += f" and tcp://{listener.tcp_address[0]}:{listener.tcp_address[1]} (SLIP)"
    print(f"Stemloom engine listening on {where}; model {model!r}; clips in {library}", flush=True)
    stop.wait()
    log.info("stopping")
    listener.stop()
    service.stop()
    return 0
