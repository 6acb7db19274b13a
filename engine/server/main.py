"""Run the engine's OSC server until interrupted.

Stopping (SIGTERM, SIGINT) is orderly and bounded: new jobs are refused, every queued and
running job's clients are sent a ``shutting_down`` fail while the sockets are still open,
TCP connections flush what was sent to them, and only then are the sockets closed. The
process exits 0 within ``STOP_LIMIT_S``; a second signal, or a stop that overruns, ends it
at once. Whatever a killed engine leaves in the library is swept at the next start.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from bridge.listener import OscListener
from engine.server.device import DeviceError, resolve_device
from engine.server.library import ClipLibrary
from engine.server.service import EngineService

log = logging.getLogger("stemloom.engine")

# The longest an orderly stop may take before the process ends regardless.
STOP_LIMIT_S = 10.0


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
    client_queue_size: int | None = None,
    input_folders: Sequence[Path] = (),
    device: str = "auto",
    max_batch: int = 1,
) -> int:
    """Serve requests until SIGINT or SIGTERM; returns the exit code. Input files are read
    only from the library and ``input_folders``; generation runs on ``device`` (auto, cpu,
    cuda[:N]; see ``engine.server.device``). One client may have at most
    ``client_queue_size`` jobs waiting (None: the whole queue). A worker runs up to
    ``max_batch`` waiting jobs of the same length and sampling settings as one batch."""
    try:
        resolved = resolve_device(device)
    except DeviceError as exc:
        print(f"stemloom: {exc}", file=sys.stderr)
        return 2
    service = EngineService(model, ClipLibrary(library), queue_size=queue_size,
                            client_queue_size=client_queue_size, workers=workers,
                            input_folders=input_folders, device=resolved, asked_device=device,
                            max_batch=max_batch)
    listener = OscListener(
        service.handle, host=host, udp_port=udp_port, tcp_port=tcp_port, token=token
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # asked twice: do not wait for the orderly stop
            _exit_now(1, f"signal {signum} again: exiting at once")
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    service.start()
    listener.start()
    udp_host, udp_bound = listener.udp_address
    where = f"udp://{udp_host}:{udp_bound}"
    if listener.tcp_address:
        where += f" and tcp://{listener.tcp_address[0]}:{listener.tcp_address[1]} (SLIP)"
    # Where the model runs is known only once it has loaded (hello/capacity and the log say).
    print(f"Stemloom engine listening on {where}; model {model!r} (--device {device}, "
          f"{resolved} if the model can use it); clips in {library}", flush=True)
    print("inputs are read from: " + ", ".join(map(str, service.inputs.roots)), flush=True)
    stop.wait()
    log.info("stopping")
    watchdog = threading.Timer(
        STOP_LIMIT_S, _exit_now, (0, f"the stop took over {STOP_LIMIT_S:g} s: exiting")
    )
    watchdog.daemon = True
    watchdog.start()
    service.stop()  # clients hear shutting_down now, while the sockets are open
    listener.stop()  # TCP connections flush those replies, then every socket closes
    watchdog.cancel()
    print("Stemloom engine stopped", flush=True)
    return 0


def _exit_now(code: int, why: str) -> None:
    """End the process without waiting for threads (a job stuck in a long model step)."""
    print(f"Stemloom engine: {why}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)
