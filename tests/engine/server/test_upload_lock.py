"""A chunk that fetched its upload's lock just before expiry removed the upload, and a new
first chunk recreated it under a new lock, waits for that new lock: two chunks never write
one upload's part file at once. Deterministic: the old lock is a gate the test opens."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from bridge.messages import Upload
from engine.server.uploads import UploadArea

OWNER = "f" * 64
DATA = bytes(range(256)) * 8


def _chunk(offset: int, piece: bytes) -> Upload:
    return Upload(request_id="up-1", name="hum.wav", size=len(DATA),
                  sha256=hashlib.sha256(DATA).hexdigest(), offset=offset, data=piece,
                  checksum=hashlib.sha256(piece).hexdigest())


class _Gate:
    """A lock whose ``with`` waits for the test to open the gate first (the moment between
    fetching a lock and taking it); a try without waiting (expiry's) passes straight on."""

    def __init__(self, inner: threading.Lock) -> None:
        self._inner = inner
        self.reached = threading.Event()
        self.open = threading.Event()

    def acquire(self, blocking: bool = True) -> bool:
        return self._inner.acquire(blocking)

    def release(self) -> None:
        self._inner.release()

    def __enter__(self) -> _Gate:
        self.reached.set()
        assert self.open.wait(10)
        self._inner.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.release()


def test_a_chunk_waits_for_the_lock_of_a_recreated_upload(tmp_path: Path) -> None:
    area = UploadArea(tmp_path / "uploads", (".wav",), retention_s=60.0)
    half = len(DATA) // 2
    area.receive(OWNER, _chunk(0, DATA[:half]))
    folder = area.folder(OWNER) / "up-1"
    gate = _Gate(threading.Lock())
    area._upload_locks[folder] = gate  # type: ignore[assignment]  # the seam of this test
    replies: list = []
    late = threading.Thread(target=lambda: replies.append(
        area.receive(OWNER, _chunk(half, DATA[half:]))))
    late.start()
    assert gate.reached.wait(10)  # the late chunk holds the old lock object, not yet taken
    old = os.path.getmtime(folder / ".meta") - 3600
    for entry in folder.iterdir():
        os.utime(entry, (old, old))
    assert area.sweep() == 1 and not folder.exists()  # expired: its lock is forgotten
    area.receive(OWNER, _chunk(0, DATA[:half]))  # begun again, under a new lock
    new_lock = area._upload_locks[folder]
    assert new_lock is not gate
    with new_lock:  # a chunk is being written under the new lock
        gate.open.set()
        late.join(0.5)
        assert late.is_alive(), "the late chunk went on under the old lock"
    late.join(10)
    assert replies and replies[0].complete
    assert area.file_of(OWNER, "upload:up-1").read_bytes() == DATA
