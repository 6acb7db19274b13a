"""SLIP framing (RFC 1055) of OSC packets over a byte stream, as OSC 1.1 specifies for TCP.

The decoder keeps at most ``max_frame`` bytes of an unfinished frame: a peer that never ends
its frame cannot make it grow without bound. Written here rather than taken from
``pythonosc.slip`` because that one decodes only whole packets: it neither buffers a frame
split across reads nor caps one that never ends, which are the two things a TCP server needs.
"""

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


class FrameTooLarge(Exception):
    """A frame grew past the decoder's cap."""


class BadFrame(Exception):
    """A frame holds an escape byte followed by something other than ESC_END or ESC_ESC.

    ``frames`` holds the good frames that came before it in the same chunk: a caller serves
    them before it drops the connection.
    """

    def __init__(self, reason: str, frames: list[bytes] | None = None) -> None:
        super().__init__(reason)
        self.frames: list[bytes] = frames or []


def encode_frame(payload: bytes) -> bytes:
    """Escape ``payload`` and wrap it in END bytes."""
    escaped = payload.replace(bytes([ESC]), bytes([ESC, ESC_ESC])).replace(
        bytes([END]), bytes([ESC, ESC_END])
    )
    return bytes([END]) + escaped + bytes([END])


_ESCAPED_END = bytes([ESC, ESC_END])
_ESCAPED_ESC = bytes([ESC, ESC_ESC])


def _unescape(frame: bytes) -> bytes:
    # Whole-buffer operations, never a byte loop in Python: a file chunk is ~50 kB, and a
    # loop would cap a connection at a few MB/s. The frame is valid when every ESC starts one
    # of the two escapes (they cannot overlap); then no literal ESC is left to confuse the
    # replacements.
    escapes = frame.count(ESC)
    if not escapes:
        return frame
    if frame.count(_ESCAPED_END) + frame.count(_ESCAPED_ESC) == escapes:
        return frame.replace(_ESCAPED_END, bytes([END])).replace(_ESCAPED_ESC, bytes([ESC]))
    _raise_bad_escape(frame)
    raise AssertionError("unreachable: the frame has a bad escape")


def _raise_bad_escape(frame: bytes) -> None:
    """Raise BadFrame naming the first bad escape of ``frame``."""
    parts = frame.split(bytes([ESC]))
    for index, part in enumerate(parts[1:], start=1):
        if not part:
            if index == len(parts) - 1:
                raise BadFrame("frame ends inside an escape")
            raise BadFrame(f"escape followed by 0x{ESC:02x}")
        if part[0] not in (ESC_END, ESC_ESC):
            raise BadFrame(f"escape followed by 0x{part[0]:02x}")


class SlipDecoder:
    """Turns a stream of received chunks into complete, unescaped frames."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._pending = bytearray()

    @property
    def in_frame(self) -> bool:
        """True while an unfinished frame is held: bytes have come since the last END."""
        return bool(self._pending)

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add received bytes; return the frames they completed (empty frames are skipped).

        Raises FrameTooLarge when an unfinished frame exceeds the cap, and BadFrame for a
        frame with an invalid escape; the frames before it in ``chunk`` travel in its
        ``frames`` (the caller serves them, then should close the connection).
        """
        frames: list[bytes] = []
        start = 0
        for index in _end_positions(chunk):
            self._pending += chunk[start:index]
            start = index + 1
            if self._pending:
                try:
                    frame = _unescape(bytes(self._pending))
                except BadFrame as exc:
                    self._pending.clear()
                    raise BadFrame(str(exc), frames) from None
                self._pending.clear()
                if len(frame) > self.max_frame:
                    raise FrameTooLarge(f"frame of {len(frame)} bytes over {self.max_frame}")
                frames.append(frame)
        self._pending += chunk[start:]
        if len(self._pending) > 2 * self.max_frame:  # escaping at most doubles a frame
            raise FrameTooLarge(f"unfinished frame over {self.max_frame} bytes")
        return frames


def _end_positions(chunk: bytes) -> list[int]:
    positions = []
    index = chunk.find(END)
    while index != -1:
        positions.append(index)
        index = chunk.find(END, index + 1)
    return positions
