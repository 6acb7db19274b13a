"""The control surface: a small OSC server inside Live that the Stemloom host drives.

Live calls ``update_display`` about ten times a second on its main thread; each call reads
the waiting datagrams from a non-blocking UDP socket and answers them, so every Live API
call happens on the thread Live expects. Replies go back to the sender's address and port.

Requests (``request id`` first, as in the engine protocol, docs/daws/ableton-live.md):

- ``/stemloom/live/session rid`` -> ``/stemloom/live/session/reply rid tempo f
  numerator i denominator i position f`` (position: the playback position in beats).
- ``/stemloom/live/place rid name n path beat ... name n path beat ...``: per track its
  name and clip count, then each clip's absolute path and start in beats ->
  ``/stemloom/live/done rid tracks i`` or ``/stemloom/live/fail rid code s message s``.
"""

from __future__ import annotations

import socket

from _Framework.ControlSurface import ControlSurface

from . import arrangement, osc

HOST = "127.0.0.1"
PORT = 7771
MAX_DATAGRAM = 65507
_MAX_PER_TICK = 32


class Stemloom(ControlSurface):
    """Stemloom's remote script: places generated stems on new audio tracks."""

    def __init__(self, c_instance, port: int = PORT) -> None:
        ControlSurface.__init__(self, c_instance)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._socket.bind((HOST, port))
        self.port = self._socket.getsockname()[1]
        self.log_message(f"Stemloom: listening on {HOST}:{self.port}")

    def update_display(self) -> None:
        """Answer the requests that arrived since the last call (Live calls this often)."""
        ControlSurface.update_display(self)
        for _ in range(_MAX_PER_TICK):
            try:
                data, sender = self._socket.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. ICMP port unreachable from an earlier reply
                self.log_message(f"Stemloom: receive failed: {error}")
                return
            reply = self.handle(data)
            if reply is not None:
                try:
                    self._socket.sendto(reply, sender)
                except OSError as error:
                    self.log_message(f"Stemloom: could not reply to {sender}: {error}")

    def handle(self, data: bytes) -> bytes | None:
        """The reply to one datagram (None for a packet that is not an OSC message)."""
        try:
            address, args = osc.decode(data)
        except osc.OscError as error:
            self.log_message(f"Stemloom: ignored a bad packet: {error}")
            return None
        request_id = args[0] if args and isinstance(args[0], str) else ""
        try:
            if not request_id:
                raise ValueError("the request id (a string) must come first")
            if address == "/stemloom/live/session":
                facts = arrangement.session_facts(self.song())
                return osc.encode("/stemloom/live/session/reply", request_id,
                                  *(item for pair in facts.items() for item in pair))
            if address == "/stemloom/live/place":
                count = arrangement.place_tracks(self.song(), _tracks(args[1:]))
                self.show_message(f"Stemloom: added {count} tracks")
                return osc.encode("/stemloom/live/done", request_id, "tracks", count)
            return _fail(request_id, "unknown_address", f"no request {address!r}")
        except (ValueError, TypeError, IndexError) as error:
            return _fail(request_id, "bad_argument", str(error))
        except Exception as error:  # a Live API error: report it, keep serving
            self.log_message(f"Stemloom: {address} failed: {error!r}")
            return _fail(request_id, "live_error", str(error) or type(error).__name__)

    def disconnect(self) -> None:
        """Close the socket when Live unloads the script."""
        self._socket.close()
        ControlSurface.disconnect(self)


def _tracks(args: list) -> list:
    """``[(name, [(path, beat), ...]), ...]`` from the flat argument list of a place request."""
    tracks, position = [], 0
    while position < len(args):
        name, count = args[position], args[position + 1]
        if not isinstance(name, str) or isinstance(count, bool) or not isinstance(count, int):
            raise ValueError("each track is a name (string) and a clip count (int)")
        clips = []
        for index in range(count):
            path, beat = args[position + 2 + 2 * index], args[position + 3 + 2 * index]
            if not isinstance(path, str) or not isinstance(beat, float | int):
                raise ValueError("each clip is a path (string) and a start in beats")
            clips.append((path, float(beat)))
        tracks.append((name, clips))
        position += 2 + 2 * count
    if not tracks:
        raise ValueError("no tracks to place")
    return tracks


def _fail(request_id: str, code: str, message: str) -> bytes:
    return osc.encode("/stemloom/live/fail", request_id, "code", code, "message", message)
