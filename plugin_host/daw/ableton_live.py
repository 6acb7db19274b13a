"""Ableton Live 12 through Stemloom's remote script (``plugin_host/daw/live/Stemloom``).

The remote script runs inside Live and listens for OSC on UDP ``127.0.0.1:7771``. This adapter
asks it for the session (tempo, time signature, playback position) when opened, keeps new
tracks and clips in memory, and on commit sends them all in one ``/stemloom/live/place``
request: Live adds the tracks and arrangement clips as one undo step, all or none. Clips are
referenced where they are, so they must stay on disk (place_job's staged clips do not: copy
them somewhere lasting first). Live reports no sample rate; it resamples on import.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from plugin_host.clips import read_clip_info
from plugin_host.daw.base import ClipRef, SessionInfo, TrackRef, check_bar
from plugin_host.daw.staged import StagedAdapter

# What the remote script's requests carry.
_OscValue = str | int | float

DEFAULT_PORT = 7771
_MAX_DATAGRAM = 65507


class LiveUnreachable(ConnectionError):
    """Live (or its Stemloom remote script) did not answer in time."""


@dataclass(frozen=True)
class _Clip:
    path: str
    beat: float


class LiveAdapter(StagedAdapter[_Clip]):
    """Drives Live through the Stemloom remote script; see the module docstring."""

    name = "live"
    places_midi = False

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 timeout: float = 5.0, sample_rate: int = 48000) -> None:
        """Connect to the remote script and read the session; raises LiveUnreachable."""
        self.address = (host, port)
        self.timeout = timeout
        reply = self._request("/stemloom/live/session", "/stemloom/live/session/reply")
        facts = dict(zip(reply[::2], reply[1::2], strict=False))
        numerator, denominator = int(facts["numerator"]), int(facts["denominator"])
        beats_per_bar = numerator * 4 / denominator
        cursor_bar = 1 + max(0.0, float(facts["position"])) / beats_per_bar
        super().__init__(SessionInfo(float(facts["tempo"]), (numerator, denominator),
                                     cursor_bar, sample_rate))

    def place_audio_clip(self, track: TrackRef, clip: str | os.PathLike[str],
                         bar: float) -> ClipRef:
        """Queue the audio file ``clip`` (checked to be a WAV) on ``track`` at ``bar``."""
        read_clip_info(clip)
        owner = self._staged_track(track, "audio")
        if owner.committed:
            raise ValueError(f"track {owner.name!r} is in Live already; use a new track")
        beat = self._info.bar_to_beats(check_bar(bar))
        owner.clips.append(_Clip(str(Path(clip).resolve()), beat))
        return ClipRef(track, f"{track.id}:{len(owner.clips)}", float(bar))

    def place_midi_clip(self, track: TrackRef, midi: str | os.PathLike[str],
                        bar: float) -> ClipRef:
        """Not supported yet: the remote script places audio only. Raises ValueError."""
        raise ValueError("the Live adapter places audio clips only (no MIDI yet)")

    def commit(self) -> None:
        """Send every new track and its clips to Live in one request; all or none."""
        new = [t for t in self._tracks.values() if not t.committed]
        if new:
            args: list[_OscValue] = []
            for track in new:
                args += [track.name, len(track.clips)]
                for clip in track.clips:
                    args += [clip.path, clip.beat]
            self._request("/stemloom/live/place", "/stemloom/live/done", *args)
        self._mark_committed()

    def _request(self, address: str, expected: str, *args: _OscValue) -> list[Any]:
        """Send one request and return the arguments (after the id) of its reply (OSC values
        as the remote script sent them)."""
        request_id = f"live-{uuid.uuid4().hex[:12]}"
        builder = OscMessageBuilder(address=address)
        for arg in (request_id, *args):
            builder.add_arg(arg)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout)
            sock.sendto(builder.build().dgram, self.address)
            while True:
                try:
                    data = sock.recv(_MAX_DATAGRAM)
                except (TimeoutError, ConnectionRefusedError):
                    raise LiveUnreachable(
                        f"no answer from Live's Stemloom remote script at "
                        f"{self.address[0]}:{self.address[1]} within {self.timeout:g} s"
                    ) from None
                reply = OscMessage(data)
                params = list(reply.params)
                if not params or params[0] != request_id:
                    continue  # a late answer to an earlier request
                if reply.address == expected:
                    return params[1:]
                details = dict(zip(params[1::2], params[2::2], strict=False))
                raise RuntimeError(f"Live refused {address}: {details.get('message', params)}")
