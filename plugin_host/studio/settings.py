"""Everything the studio window needs to know from outside, in one value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bridge.client import EngineClient
from bridge.identity import user_client_id


class RunningEngine(Protocol):
    """An engine the window started; stopped when the window closes."""

    def stop(self) -> None:
        """Terminate the engine."""


@dataclass(frozen=True)
class StudioSettings:
    """Where the engine is, where the window keeps its files, and the DAW target to preselect.

    ``start_engine`` starts an engine at ``host:port`` and returns once it answers (None when
    this install cannot run one: the window then shows ``engine_command`` instead).
    ``input_device`` and ``output_device`` name audio devices (None: the system default).
    ``play_previews``: play a running job's preview as the engine streams it (the producer
    can turn it off in the window). ``clip_loudness``: the LUFS finished takes' clips are
    written at (None: as generated; the producer can change it in the window).
    """

    host: str
    port: int
    journal: Path
    clips_root: Path
    hum_folder: Path
    transport: str = "udp"
    token: str = ""
    timeout: float = 5.0
    daw: str | None = None
    dest: str | None = None  # a session file or folder; none for a running DAW
    start_engine: Callable[[], RunningEngine] | None = None
    engine_command: str = "stemloom engine serve"
    input_device: int | str | None = None
    output_device: int | str | None = None
    play_previews: bool = True
    clip_loudness: float | None = None
    # Names this user's jobs to the engine, so the window finds them again after a restart.
    client_id: str = field(default_factory=user_client_id)

    def connect(self) -> EngineClient:
        """A new client for the engine."""
        return EngineClient(self.host, self.port, transport=self.transport, token=self.token,
                            client_id=self.client_id, timeout=self.timeout)
