"""A small ctypes binding to libxmp (Debian's libxmp4): load a tracker module (MOD, XM, IT,
S3M and ~90 more), read its names and tempo, and render it, whole or one channel alone.

Rendering is libxmp's own 16-bit stereo mixer at the asked rate. A channel is rendered alone
by muting every other channel, so the solos of one module sum back to its full render (up to
rounding and clipping); `tests/engine/data/test_modules.py` measures that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

MAX_CHANNELS = 64
NAME_SIZE = 64
MAX_KEYS = 121
KEY_OFF = 0x81  # note numbers above 120 are key off / cut / fade
_ERRORS = {2: "internal error", 3: "unsupported module format", 4: "error loading file",
           5: "error depacking file", 6: "system error", 7: "invalid parameter",
           8: "invalid player state"}
_PLAYER_AMP = 0  # xmp_set_player parameters
_PLAYER_MIX = 1
SEPARATION = 70  # stereo separation, percent (libxmp's default)
AMPLIFICATION = 0  # 0 to 3; libxmp's default 1 clips busy modules


class LibxmpMissing(RuntimeError):
    """libxmp is not installed (apt-get install libxmp4)."""


class ModuleError(ValueError):
    """A file libxmp cannot load as a module."""


class _Event(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ubyte) for n in ("note", "ins", "vol", "fxt", "fxp", "f2t", "f2p",
                                              "flag")]


class _Channel(ctypes.Structure):
    _fields_ = [("pan", ctypes.c_int), ("vol", ctypes.c_int), ("flg", ctypes.c_int)]


class _Envelope(ctypes.Structure):
    _fields_ = [*((n, ctypes.c_int) for n in ("flg", "npt", "scl", "sus", "sue", "lps", "lpe")),
                ("data", ctypes.c_short * 64)]


class _KeyMap(ctypes.Structure):
    _fields_ = [("ins", ctypes.c_ubyte), ("xpo", ctypes.c_byte)]


class _SubInstrument(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in ("vol", "gvl", "pan", "xpo", "fin", "vwf", "vde",
                                            "vra", "vsw", "rvv", "sid", "nna", "dct", "dca",
                                            "ifc", "ifr")]


class _Instrument(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 32), ("vol", ctypes.c_int), ("nsm", ctypes.c_int),
                ("rls", ctypes.c_int), ("aei", _Envelope), ("pei", _Envelope),
                ("fei", _Envelope), ("map", _KeyMap * MAX_KEYS),
                ("sub", ctypes.POINTER(_SubInstrument)), ("extra", ctypes.c_void_p)]


class _Sample(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 32), ("len", ctypes.c_int), ("lps", ctypes.c_int),
                ("lpe", ctypes.c_int), ("flg", ctypes.c_int), ("data", ctypes.c_void_p)]


class _Module(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * NAME_SIZE), ("type", ctypes.c_char * NAME_SIZE),
                *((n, ctypes.c_int) for n in ("pat", "trk", "chn", "ins", "smp", "spd", "bpm",
                                              "len", "rst", "gvl")),
                ("xxp", ctypes.c_void_p), ("xxt", ctypes.c_void_p),
                ("xxi", ctypes.POINTER(_Instrument)), ("xxs", ctypes.POINTER(_Sample)),
                ("xxc", _Channel * MAX_CHANNELS), ("xxo", ctypes.c_ubyte * 256)]


class _ModuleInfo(ctypes.Structure):
    _fields_ = [("md5", ctypes.c_ubyte * 16), ("vol_base", ctypes.c_int),
                ("mod", ctypes.POINTER(_Module)), ("comment", ctypes.c_char_p),
                ("num_sequences", ctypes.c_int), ("seq_data", ctypes.c_void_p)]


class _ChannelInfo(ctypes.Structure):
    _fields_ = [("period", ctypes.c_uint), ("position", ctypes.c_uint),
                ("pitchbend", ctypes.c_short),
                *((n, ctypes.c_ubyte) for n in ("note", "instrument", "sample", "volume",
                                                "pan", "reserved")),
                ("event", _Event)]


class _FrameInfo(ctypes.Structure):
    _fields_ = [*((n, ctypes.c_int) for n in ("pos", "pattern", "row", "num_rows", "frame",
                                              "speed", "bpm", "time", "total_time",
                                              "frame_time")),
                ("buffer", ctypes.c_void_p),
                *((n, ctypes.c_int) for n in ("buffer_size", "total_size", "volume",
                                              "loop_count", "virt_channels", "virt_used",
                                              "sequence")),
                ("channel_info", _ChannelInfo * MAX_CHANNELS)]


@cache
def _libc() -> ctypes.CDLL:
    """The C library: libxmp draws its random variations (IT's random volume and pan,
    random vibrato waveforms) from libc's rand(), so srand() makes a render repeatable."""
    return ctypes.CDLL(ctypes.util.find_library("c"))


@cache
def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("xmp") or "libxmp.so.4"
    try:
        lib = ctypes.CDLL(name)
    except OSError as error:
        raise LibxmpMissing("libxmp is not installed (apt-get install libxmp4; "
                            "./scripts/install-system-deps does it)") from error
    lib.xmp_create_context.restype = ctypes.c_void_p
    for function in ("xmp_free_context", "xmp_release_module", "xmp_end_player"):
        getattr(lib, function).argtypes = [ctypes.c_void_p]
    lib.xmp_load_module.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.xmp_start_player.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.xmp_play_frame.argtypes = [ctypes.c_void_p]
    lib.xmp_get_frame_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(_FrameInfo)]
    lib.xmp_get_module_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(_ModuleInfo)]
    lib.xmp_channel_mute.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.xmp_set_player.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    return lib


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


@dataclass(frozen=True)
class ModuleInfo:
    """What a module states about itself."""

    title: str
    format: str
    channels: int
    speed: int  # ticks per row at the start
    bpm: int  # the tracker's tempo at the start: a tick lasts 2.5 / bpm seconds
    instruments: tuple[str, ...]
    samples: tuple[str, ...]
    instrument_samples: tuple[tuple[int, ...], ...]  # sample indexes each instrument uses


@dataclass
class Render:
    """One rendering: stereo float audio and, per channel, the notes struck."""

    audio: np.ndarray  # float32 (2, frames), full scale 1.0
    notes: list[list[tuple[float, int, int]]] = field(default_factory=list)
    # notes[channel] = [(seconds, note 1..120, instrument index), ...]
    speeds: list[tuple[float, int, int]] = field(default_factory=list)  # (s, speed, bpm)


class Module:
    """One loaded module; use as a context manager (`with Module(path) as m:`)."""

    def __init__(self, path: Path) -> None:
        """Load `path`; ModuleError when libxmp cannot read it."""
        self._lib = _lib()
        self._ctx = self._lib.xmp_create_context()
        code = self._lib.xmp_load_module(self._ctx, str(path).encode())
        if code != 0:
            self._lib.xmp_free_context(self._ctx)
            self._ctx = None
            raise ModuleError(f"{path}: libxmp cannot load it "
                              f"({_ERRORS.get(-code, f'error {code}')})")
        self.info = self._read_info()

    def __enter__(self) -> Module:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the module and its context."""
        if self._ctx is not None:
            self._lib.xmp_release_module(self._ctx)
            self._lib.xmp_free_context(self._ctx)
            self._ctx = None

    def _read_info(self) -> ModuleInfo:
        raw = _ModuleInfo()
        self._lib.xmp_get_module_info(self._ctx, ctypes.byref(raw))
        mod = raw.mod.contents
        instruments, uses = [], []
        for i in range(mod.ins):
            inst = mod.xxi[i]
            instruments.append(_text(inst.name))
            uses.append(tuple(sorted({inst.sub[k].sid for k in range(inst.nsm)
                                      if 0 <= inst.sub[k].sid < mod.smp})))
        samples = tuple(_text(mod.xxs[i].name) for i in range(mod.smp))
        return ModuleInfo(_text(mod.name), _text(mod.type), mod.chn, mod.spd, mod.bpm,
                          tuple(instruments), samples, tuple(uses))

    def render(self, rate: int, solo: int | None = None, max_seconds: float = 600.0,
               separation: int = SEPARATION, amplification: int = AMPLIFICATION) -> Render:
        """Play the module once through (no loop) at `rate` Hz; with `solo`, every other
        channel is muted. `separation` is the stereo separation in percent (libxmp's
        default 70 keeps Amiga's hard-panned channels from sitting in one ear); `amplification`
        0 (libxmp's default is 1) leaves 6 dB more headroom, so that a busy module's full
        render does not clip where the sum of its channels would not."""
        lib = self._lib
        # Every render draws the same random numbers, so a solo matches its part of the
        # whole (muting happens in the mixer: muted channels still play and still draw).
        _libc().srand(1)
        if lib.xmp_start_player(self._ctx, rate, 0) != 0:
            raise ModuleError(f"libxmp cannot play at {rate} Hz")
        try:
            lib.xmp_set_player(self._ctx, _PLAYER_MIX, separation)
            lib.xmp_set_player(self._ctx, _PLAYER_AMP, amplification)
            channels = self.info.channels
            if solo is not None:
                for channel in range(channels):
                    lib.xmp_channel_mute(self._ctx, channel, int(channel != solo))
            chunks: list[bytes] = []
            notes: list[list[tuple[float, int, int]]] = [[] for _ in range(channels)]
            speeds: list[tuple[float, int, int]] = []
            frame = _FrameInfo()
            done = 0  # samples per channel so far
            limit = int(max_seconds * rate)
            while done < limit and lib.xmp_play_frame(self._ctx) == 0:
                lib.xmp_get_frame_info(self._ctx, ctypes.byref(frame))
                if frame.loop_count > 0:
                    break
                now = done / rate
                if frame.frame == 0:  # first tick of a row: the row's events
                    if not speeds or speeds[-1][1:] != (frame.speed, frame.bpm):
                        speeds.append((now, frame.speed, frame.bpm))
                    for channel in range(channels):
                        event = frame.channel_info[channel].event
                        if 0 < event.note <= 120:
                            notes[channel].append((now, int(event.note),
                                                   int(frame.channel_info[channel].instrument)))
                chunks.append(ctypes.string_at(frame.buffer, frame.buffer_size))
                done += frame.buffer_size // 4
        finally:
            lib.xmp_end_player(self._ctx)
        pcm = np.frombuffer(b"".join(chunks), dtype="<i2").reshape(-1, 2)
        return Render(np.ascontiguousarray(pcm.T, dtype=np.float32) / 32768.0, notes, speeds)
