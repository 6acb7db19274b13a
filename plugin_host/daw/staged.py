"""Track bookkeeping for adapters that edit a file: changes wait in memory until commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from plugin_host.daw.base import DawAdapter, SessionInfo, TrackKind, TrackRef

ClipT = TypeVar("ClipT")


@dataclass
class StagedTrack(Generic[ClipT]):
    """A track and its clips (whatever the adapter records about a clip)."""

    id: str
    name: str
    kind: TrackKind
    clips: list[ClipT] = field(default_factory=list)
    committed: bool = False


class StagedAdapter(DawAdapter, Generic[ClipT]):
    """Holds tracks in memory; subclasses place clips and write everything in ``commit``."""

    def __init__(self, info: SessionInfo) -> None:
        """Start with the session facts ``info`` and no tracks."""
        self._info = info
        self._tracks: dict[str, StagedTrack[ClipT]] = {}

    def session_info(self) -> SessionInfo:
        """The session facts this adapter was opened with."""
        return self._info

    def tracks(self) -> list[TrackRef]:
        """Every track, committed or not, in creation order."""
        return [TrackRef(t.id, t.name, t.kind) for t in self._tracks.values()]

    def create_track(self, name: str, kind: TrackKind = "audio") -> TrackRef:
        """Add an empty track (written by the next commit)."""
        if kind not in ("audio", "midi"):
            raise ValueError(f"track kind must be 'audio' or 'midi', got {kind!r}")
        track: StagedTrack[ClipT] = StagedTrack(uuid.uuid4().hex[:12], str(name), kind)
        self._tracks[track.id] = track
        return TrackRef(track.id, track.name, track.kind)

    def delete_track(self, track: TrackRef) -> None:
        """Forget a track created since the last commit, and its clips."""
        if self._staged_track(track).committed:
            raise ValueError(f"track {track.name!r} is committed; only new tracks can be deleted")
        del self._tracks[track.id]

    def _staged_track(self, track: TrackRef, kind: TrackKind | None = None) -> StagedTrack[ClipT]:
        """The track behind ``track``, checked to hold clips of ``kind`` when given."""
        found = self._tracks.get(track.id)
        if found is None:
            raise KeyError(f"no track {track.id!r}")
        if kind is not None and found.kind != kind:
            raise ValueError(f"cannot place a {kind} clip on {found.kind} track {found.name!r}")
        return found

    def _mark_committed(self) -> None:
        for track in self._tracks.values():
            track.committed = True
