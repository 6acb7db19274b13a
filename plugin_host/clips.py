"""Clip WAV files that DAWs understand: stereo, 24-bit PCM or 32-bit float, ACID and smpl chunks.

The ACID chunk carries tempo, beats, meter, root note and the loop/one-shot flag (hosts that
honour it, such as ACID, FL Studio and REAPER, tempo-lock the loop with it); the ``smpl`` chunk
carries the root note and loop points over the whole clip (samplers read it). Both sit before
the audio data, so a reader that stops at ``data`` still finds them.

The RIFF is written here rather than by soundfile because soundfile writes neither chunk, and
appending chunks after the fact would mean patching the RIFF size in place; no kept library
writes ACID chunks, and the writer is a few struct.pack calls checked by the tests.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from bridge.atomic import atomic_write
from bridge.keys import parse_key

Subtype = Literal["PCM_16", "PCM_24", "FLOAT"]

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
_RIFF_MAX = 0xFFFFFFFF

# ACID flag bits, as written by ACID and read by the hosts that honour the chunk.
_ACID_ONE_SHOT = 0x01
_ACID_ROOT_SET = 0x02
_ACID_STRETCH = 0x04
# Two ACID fields nobody documents; these are the values ACID itself writes.
_ACID_RESERVED_U16 = 0x8000
_ACID_RESERVED_F32 = 0.0

_PCM24_SCALE = 2**23 - 1
_NAMES = {(_FORMAT_PCM, 16): "PCM_16", (_FORMAT_PCM, 24): "PCM_24", (_FORMAT_PCM, 32): "PCM_32",
          (_FORMAT_FLOAT, 32): "FLOAT", (_FORMAT_FLOAT, 64): "DOUBLE"}


@dataclass(frozen=True)
class AcidInfo:
    """The ACID chunk: how a host should tempo-lock the clip.

    ``beats`` counts the meter's note values over the whole clip (bars x numerator: 4 bars of
    6/8 are 24 beats, as ACID hosts read it); ``root_note`` is a MIDI note number (60 =
    middle C), or None for unpitched material.
    """

    tempo: float
    beats: int
    meter: tuple[int, int] = (4, 4)
    root_note: int | None = None
    one_shot: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tempo) and self.tempo > 0):
            raise ValueError(f"tempo must be a positive number, got {self.tempo!r}")
        if not 0 <= self.beats <= 0xFFFFFFFF:
            raise ValueError(f"beats out of range: {self.beats!r}")
        numerator, denominator = self.meter
        if not (1 <= numerator <= 0xFFFF and 1 <= denominator <= 0xFFFF):
            raise ValueError(f"meter out of range: {self.meter!r}")
        if self.root_note is not None and not 0 <= self.root_note <= 127:
            raise ValueError(f"root note must be a MIDI note 0..127, got {self.root_note!r}")

    @property
    def quarter_notes(self) -> float:
        """The clip's length in quarter notes (``beats`` counts the meter's note values)."""
        return self.beats * 4 / self.meter[1]


@dataclass(frozen=True)
class SampleLoop:
    """One ``smpl`` loop, in sample frames; ``end`` is the last frame played (inclusive)."""

    start: int
    end: int


@dataclass(frozen=True)
class SamplerInfo:
    """The ``smpl`` chunk fields a sampler uses."""

    root_note: int
    sample_period_ns: int
    loops: tuple[SampleLoop, ...]


@dataclass(frozen=True)
class ClipInfo:
    """What :func:`read_clip_info` finds in a WAV file."""

    sample_rate: int
    channels: int
    frames: int
    subtype: str
    acid: AcidInfo | None
    sampler: SamplerInfo | None

    @property
    def seconds(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate


def root_note_from_key(key: str | None) -> int | None:
    """MIDI root note, C4..B4 (60..71), of a key such as ``"F# minor"``, ``"Bb"`` or ``"Am"``.

    Returns None when there is no key or it names none.
    """
    try:
        return 60 + parse_key(key).tonic if key else None
    except ValueError:
        return None


def write_clip(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    acid: AcidInfo,
    subtype: Subtype = "PCM_24",
) -> Path:
    """Write a stereo clip WAV with ACID and ``smpl`` chunks, atomically; return its path.

    ``audio`` is float, shaped (frames, 2); mono (frames,) or (frames, 1) is copied to both
    channels. PCM_16 and PCM_24 clip values to [-1, 1]; FLOAT keeps overs. Loops
    (``acid.one_shot`` false) get one forward ``smpl`` loop over the whole clip. Raises
    ValueError for empty or non-finite audio, a bad sample rate or a file over the 4 GiB RIFF
    limit.
    """
    stereo = _as_stereo(audio)
    if not (float(sample_rate).is_integer() and 0 < sample_rate <= 0xFFFFFFFF // 8):
        raise ValueError(f"sample rate must be a positive integer, got {sample_rate!r}")
    sample_rate = int(sample_rate)  # numpy integers pack like ints from here on
    if subtype == "PCM_16":
        data = _pcm16_bytes(stereo)
        fmt = struct.pack("<HHIIHH", _FORMAT_PCM, 2, sample_rate, sample_rate * 4, 4, 16)
        extra = b""
    elif subtype == "PCM_24":
        data = _pcm24_bytes(stereo)
        fmt = struct.pack("<HHIIHH", _FORMAT_PCM, 2, sample_rate, sample_rate * 6, 6, 24)
        extra = b""
    elif subtype == "FLOAT":
        data = bytes(stereo.astype("<f4").tobytes())
        # Non-PCM formats carry cbSize and a fact chunk (frame count), per the RIFF spec.
        fmt = struct.pack("<HHIIHHH", _FORMAT_FLOAT, 2, sample_rate, sample_rate * 8, 8, 32, 0)
        extra = _chunk(b"fact", struct.pack("<I", len(stereo)))
    else:
        raise ValueError(f"subtype must be 'PCM_16', 'PCM_24' or 'FLOAT', got {subtype!r}")
    header = (_chunk(b"fmt ", fmt) + extra + _chunk(b"acid", _acid_payload(acid))
              + _chunk(b"smpl", _smpl_payload(acid, len(stereo), sample_rate)))
    riff_size = 4 + len(header) + 8 + len(data) + len(data) % 2
    if riff_size > _RIFF_MAX:
        raise ValueError("clip too long for a RIFF WAV (over 4 GiB)")

    def write(handle: BinaryIO) -> None:
        handle.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + header)
        handle.write(b"data" + struct.pack("<I", len(data)))
        handle.write(data)
        handle.write(b"\0" * (len(data) % 2))

    return atomic_write(path, write)


def read_clip_info(path: str | os.PathLike[str]) -> ClipInfo:
    """Parse a WAV's format, frame count and ACID / ``smpl`` chunks (any WAV, not only ours).

    Reads PCM, IEEE float and WAVE_FORMAT_EXTENSIBLE headers; skips unknown chunks. Raises
    ValueError if the file is not a RIFF WAVE with ``fmt `` and ``data`` chunks.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            raise ValueError(f"{os.fspath(path)!r} is not a RIFF WAVE file")
        fmt = acid = sampler = None
        data_size = None
        while (chunk_head := handle.read(8)) and len(chunk_head) == 8:
            ckid, size = chunk_head[:4], struct.unpack("<I", chunk_head[4:])[0]
            if ckid == b"data":
                # Streaming writers may leave the size unset: trust the file, not the header.
                here = handle.tell()
                data_size = min(size, os.fstat(handle.fileno()).st_size - here)
                handle.seek(here + size + size % 2)
                continue
            payload = handle.read(size)
            if len(payload) < size:
                break
            handle.read(size % 2)  # RIFF chunks are word aligned: skip the pad byte
            if ckid == b"fmt ":
                fmt = _parse_fmt(payload)
            elif ckid == b"acid":
                acid = _parse_acid(payload)
            elif ckid == b"smpl":
                sampler = _parse_smpl(payload)
    if fmt is None or data_size is None:
        raise ValueError(f"{os.fspath(path)!r} lacks a fmt or data chunk")
    tag, channels, sample_rate, block_align, bits = fmt
    return ClipInfo(
        sample_rate=sample_rate,
        channels=channels,
        frames=data_size // block_align if block_align else 0,
        subtype=_NAMES.get((tag, bits), f"format 0x{tag:04x}/{bits}-bit"),
        acid=acid,
        sampler=sampler,
    )


def _as_stereo(audio: np.ndarray) -> np.ndarray:
    """Return audio as a float64 (frames, 2) array, or raise ValueError."""
    array = np.asarray(audio, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] not in (1, 2):
        raise ValueError(f"audio must be shaped (frames, 2) or mono, got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError("audio is empty")
    if not np.isfinite(array).all():
        raise ValueError("audio contains NaN or infinity")
    # Contiguous rows: the 24-bit packer views the samples' bytes.
    return np.ascontiguousarray(np.repeat(array, 2, axis=1) if array.shape[1] == 1 else array)


def _pcm16_bytes(stereo: np.ndarray) -> bytes:
    """Little-endian 16-bit PCM."""
    ints = np.round(np.clip(stereo, -1.0, 1.0) * (2**15 - 1)).astype("<i2")
    return bytes(ints.tobytes())


def _pcm24_bytes(stereo: np.ndarray) -> bytes:
    """Little-endian 24-bit PCM: the low three bytes of each little-endian int32."""
    ints = np.round(np.clip(stereo, -1.0, 1.0) * _PCM24_SCALE).astype("<i4")
    return bytes(ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes())


def _chunk(ckid: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: id, little-endian size, payload and a pad byte if the size is odd."""
    return ckid + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


def _acid_payload(acid: AcidInfo) -> bytes:
    flags = _ACID_ONE_SHOT if acid.one_shot else _ACID_STRETCH
    if acid.root_note is not None:
        flags |= _ACID_ROOT_SET
    numerator, denominator = acid.meter
    root = 60 if acid.root_note is None else acid.root_note
    return struct.pack("<IHHfIHHf", flags, root, _ACID_RESERVED_U16, _ACID_RESERVED_F32,
                       acid.beats, denominator, numerator, acid.tempo)


def _smpl_payload(acid: AcidInfo, frames: int, sample_rate: int) -> bytes:
    period_ns = round(1e9 / sample_rate)
    loops = [] if acid.one_shot else [SampleLoop(0, frames - 1)]
    root = 60 if acid.root_note is None else acid.root_note
    # manufacturer, product, period, unity note, pitch fraction, SMPTE format and offset,
    # loop count, sampler-data size; then per loop: cue id, type (0 = forward), start, end,
    # fraction, play count (0 = forever).
    head = struct.pack("<9I", 0, 0, period_ns, root, 0, 0, 0, len(loops), 0)
    return head + b"".join(struct.pack("<6I", i, 0, loop.start, loop.end, 0, 0)
                           for i, loop in enumerate(loops))


def _parse_fmt(payload: bytes) -> tuple[int, int, int, int, int]:
    if len(payload) < 16:
        raise ValueError("fmt chunk too short")
    tag, channels, sample_rate, _, block_align, bits = struct.unpack("<HHIIHH", payload[:16])
    if tag == _FORMAT_EXTENSIBLE and len(payload) >= 40:
        # The real format is the first two bytes of the sub-format GUID.
        tag = struct.unpack("<H", payload[24:26])[0]
    return tag, channels, sample_rate, block_align, bits


def _parse_acid(payload: bytes) -> AcidInfo | None:
    if len(payload) < 24:
        return None
    flags, root, _, _, beats, denominator, numerator, tempo = struct.unpack(
        "<IHHfIHHf", payload[:24])
    try:
        return AcidInfo(tempo=tempo, beats=beats, meter=(numerator, denominator),
                        root_note=root if flags & _ACID_ROOT_SET else None,
                        one_shot=bool(flags & _ACID_ONE_SHOT))
    except ValueError:
        return None  # a chunk some tool filled with nonsense tells us nothing


def _parse_smpl(payload: bytes) -> SamplerInfo | None:
    if len(payload) < 36:
        return None
    fields = struct.unpack("<9I", payload[:36])
    period_ns, root, count = fields[2], fields[3], fields[7]
    loops = []
    for i in range(count):
        record = payload[36 + 24 * i: 60 + 24 * i]
        if len(record) < 24:
            break
        _, _, start, end, _, _ = struct.unpack("<6I", record)
        loops.append(SampleLoop(start, end))
    return SamplerInfo(root_note=root, sample_period_ns=period_ns, loops=tuple(loops))
