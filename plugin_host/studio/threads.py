"""Run blocking work off the GUI thread and hand its result back on the GUI thread.

Engine calls, DAW placement and file reads can each take seconds; the window must keep
painting meanwhile. A worker thread emits Qt signals on a relay object that lives in the GUI
thread, so Qt queues the callbacks there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class _Relay(QObject):
    """Carries a finished call's outcome from a worker thread to the GUI thread."""

    succeeded = Signal(object)
    failed = Signal(object)


def run_in_thread(
    work: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    *,
    name: str = "studio-worker",
) -> threading.Thread:
    """Call ``work()`` in a daemon thread; then ``on_done(result)`` or ``on_error(exc)`` on the
    GUI thread. Must be called from the GUI thread (the relay is created there)."""
    relay = _Relay()
    if on_done is not None:
        relay.succeeded.connect(on_done)
    if on_error is not None:
        relay.failed.connect(on_error)

    def target() -> None:
        try:
            result = work()
        except Exception as exc:  # handed to on_error: the GUI decides what to show
            relay.failed.emit(exc)
        else:
            relay.succeeded.emit(result)
        finally:
            relay.deleteLater()

    # Daemon: closing the window must not wait for a job that follows a slow engine.
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
