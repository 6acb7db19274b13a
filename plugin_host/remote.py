"""Use an engine on another machine: inputs go up and clips come down in the protocol (v2).

``RemoteEngine`` runs one job over TCP with files: it uploads the request's input files,
submits, follows the job (fetching each preview as it is announced), then fetches every stem,
the melody's MIDI clip and the job's record into a folder of the host's own. Each step runs
again on a new connection when the connection drops, and resumes where it stopped (an upload
or fetch by offset, the job by its id). Every connection first says hello with protocol 2, so
the engine names the job's files by their names in the job (never its own paths) on each. The
done it returns names the local files, all complete, so placing it works exactly as with an
engine on this machine.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path, PureWindowsPath
from typing import Any, TypeVar

from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ProtocolError
from bridge.messages import Ack, Chunk, Done, Generate, HelloFiles, Preview, Progress
from bridge.transfer import TransferError, discard_parts, fetch_file, upload_file

log = logging.getLogger(__name__)

T = TypeVar("T")

INPUT_FIELDS = ("melody", "reference", "continue_from")
PREVIEW_NAME = "preview.wav"


class RemoteEngine:
    """One engine reached over TCP, with files in the protocol; reconnects as needed."""

    def __init__(self, connect: Callable[[], EngineClient], *, client: EngineClient | None = None,
                 attempts: int = 6, retry_wait_s: float = 0.5) -> None:
        """``connect`` opens a new TCP client (with the user's client id: a job and its
        uploads belong to it across connections); ``client``, one already open, is used
        first."""
        self._connect = connect
        self._attempts = attempts
        self._retry_wait_s = retry_wait_s
        self._client = client
        # The connection that said hello (each new one must: see _live), and what it learnt.
        self._greeted: EngineClient | None = None
        self._files: HelloFiles | None = None
        self.reconnects = 0

    def close(self) -> None:
        """Close the current connection, if any."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        request: Generate,
        folder: Path,
        *,
        timeout: float = 1800.0,
        on_ack: Callable[[Ack], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_preview: Callable[[Preview], None] | None = None,
        on_chunk: Callable[[Chunk], None] | None = None,
    ) -> Done:
        """Upload the inputs, run the job and fetch its files into ``folder``; return the done
        reply with local paths. ``on_ack`` gets the engine's ack (the job queued or running);
        ``on_preview`` each preview reply once its file is on this machine (its path the
        local one); ``on_chunk`` every chunk that arrives.
        Raises TransferError, ProtocolError (the engine's refusal or the job's fail) or
        EngineUnreachable."""
        files = self.call(lambda _connected: self._files)  # connecting says hello
        if files is None:
            raise TransferError("the engine speaks protocol v1 only: it cannot take files over "
                                "the connection; update it, or run it on this machine")
        sent = self._with_uploads(request, files)
        ack = self.call(lambda client: client.submit(sent))
        if on_ack is not None:
            on_ack(ack)

        def follow(client: EngineClient) -> Done:
            def preview(message: Preview) -> None:
                if on_preview is None:  # nobody listens: not worth the bytes
                    return
                target = folder / PREVIEW_NAME
                try:  # on the connection the job is followed on, not a new one
                    fetch_file(client, request.request_id, _name(message.path), target,
                               on_chunk)
                except (TransferError, ProtocolError) as exc:  # superseded or gone
                    log.info("preview not fetched: %s", exc)
                    return
                on_preview(dataclasses.replace(message, path=str(target)))

            return client.wait(request.request_id, timeout=timeout, on_progress=on_progress,
                               on_preview=preview)

        done = self.call(follow)
        (folder / PREVIEW_NAME).unlink(missing_ok=True)  # the stems replace it
        discard_parts(folder / PREVIEW_NAME)  # a preview cut short when the job ended
        return self._fetch_outputs(done, folder, on_chunk)

    def call(self, step: Callable[[EngineClient], T]) -> T:
        """Run ``step`` on the connection, again on a new one each time it drops."""
        last: Exception | None = None
        for attempt in range(self._attempts):
            try:
                return step(self._live())
            # A dropped connection is retried; a local disk error (also an OSError) is not.
            except (EngineUnreachable, ConnectionError, TimeoutError) as exc:
                last = exc
                self.close()
                if attempt + 1 < self._attempts:
                    log.warning("connection lost (%s); reconnecting", exc)
                    self.reconnects += 1
                    time.sleep(self._retry_wait_s * (attempt + 1))
        raise EngineUnreachable(f"gave up after {self._attempts} connections: {last}")

    def _live(self) -> EngineClient:
        """The open connection, or a new one; either has said hello with protocol 2 (the
        engine answers a connection as the protocol its hello said, v1 until then)."""
        if self._client is None or not self._client.connected:
            self.close()
            self._client = self._connect()
        if self._greeted is not self._client:
            self._files = self._client.hello_files()
            self._greeted = self._client
        return self._client

    def _with_uploads(self, request: Generate, files: HelloFiles) -> Generate:
        """``request`` with each input file uploaded and named by the engine's handle for it."""
        uploaded: dict[str, Any] = {}
        for name in INPUT_FIELDS:
            local = getattr(request, name)
            if local:
                uploaded[name] = self.call(partial(upload_file, path=Path(local), files=files))
        return dataclasses.replace(request, **uploaded)

    def _fetch_outputs(self, done: Done, folder: Path,
                       on_chunk: Callable[[Chunk], None] | None) -> Done:
        """Fetch every file ``done`` names into ``folder``; ``done`` with the local paths."""

        def fetch(name: str) -> str:
            target = folder / _name(name)
            fetched = self.call(lambda client: fetch_file(
                client, done.request_id, target.name, target, on_chunk))
            if fetched.resumed_from:
                log.warning("resumed %s at byte %d of %d", target.name, fetched.resumed_from,
                            fetched.size)
            return str(fetched.path)

        stems = {stem: fetch(path) for stem, path in done.stems.items()}
        melody = fetch(done.melody_midi) if done.melody_midi else ""
        return dataclasses.replace(done, stems=stems, melody_midi=melody,
                                   metadata=fetch(done.metadata))


def _name(sent: str) -> str:
    """The file name the engine sent (an engine before this version sent its own path, a
    Windows engine's too: its last part is the name)."""
    name = PureWindowsPath(sent).name
    if not name or name.startswith("."):  # never a folder, nor a hidden file (a part file)
        raise TransferError(f"the engine named a file {sent!r}: not a plain file name")
    return name
