"""Record a hum in time with the DAW: a count-in of clicks, then a take that starts on the
downbeat and lasts a number of bars (or until stopped), checked and written as a WAV.

The clicks go out through one stream and the microphone comes in through another (they may be
different devices). PortAudio stamps every block with the time its first frame left the DAC or
entered the ADC, on one clock per host API; the take starts at the input frame captured at the
moment the downbeat was heard, so output and input latency are both compensated: what the
producer sings on the downbeat is frame 0 of the take.

The frame-to-time mapping comes from the blocks around the downbeat, not the first ones: a
stream's first blocks may be stamped long before the device really starts (PulseAudio was seen
to stall 1.4 s after the prefill), and an underrun later shifts every block after it. Once both
streams are past the downbeat, the take's first frame is fixed.
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from bridge.atomic import atomic_write
from plugin_host.audio_devices import AudioDeviceError, find_device, sounddevice
from plugin_host.click import Metronome, beat_seconds
from plugin_host.levels import LevelMeter, check_take

# How long past the expected end of a bounded take to wait for the device before giving up.
_GRACE_S = 5.0
# Blocks whose time stamps set the frame-to-time mapping (their median, against jitter).
_STAMPED_BLOCKS = 16
# Device buffers: generous, against dropouts on a busy machine. The time stamps compensate
# for latency, so it costs nothing in timing, only in how late the level meter follows.
_LATENCY_S = 0.1
# Silence before the first click: a stream's first milliseconds may be lost as it starts.
_LEAD_IN_S = 0.1


@dataclass(frozen=True)
class Take:
    """A recorded hum: mono float32 samples from the downbeat on, and the tempo it was sung to.

    ``latency_s`` is the round trip the devices report (output plus input latency), which the
    time stamps compensate;
    ``dropouts`` counts blocks the input lost (overflows), which leave gaps in the timing.
    """

    audio: np.ndarray
    sample_rate: int
    bpm: float
    time_signature: tuple[int, int]
    latency_s: float
    dropouts: int

    @property
    def seconds(self) -> float:
        """Length of the take in seconds."""
        return len(self.audio) / self.sample_rate

    @property
    def bars(self) -> float:
        """Length of the take in bars of its meter."""
        return self.seconds / (beat_seconds(self.bpm, self.time_signature)
                               * self.time_signature[0])


class HumRecorder:
    """One take at a time from an input device, with a count-in played to an output device.

    ``count_in_beats`` defaults to one bar; ``metronome`` keeps clicking during the take.
    The :attr:`meter` shows the input level while recording, for the UI to poll.
    Use :meth:`record` for a fixed number of bars, or :meth:`start`, :meth:`stop` and
    :meth:`wait` for a take that ends when the producer says so.
    """

    # Set by _reset (and start, stop); declared here since start assigns them first in the text.
    _take_frames: int | None
    _stop_at: int | None

    def __init__(self, bpm: float, time_signature: tuple[int, int] = (4, 4), *,
                 input_device: int | str | None = None,
                 output_device: int | str | None = None,
                 sample_rate: int | None = None, input_channel: int = 0,
                 count_in_beats: int | None = None, metronome: bool = False) -> None:
        beat_seconds(bpm, time_signature)  # validates bpm early
        self.bpm = bpm
        self.time_signature = time_signature
        self.input = find_device(input_device, "input")
        if not 0 <= input_channel < self.input.channels:
            raise AudioDeviceError(f"{self.input.name!r} has no input channel {input_channel}")
        count_in = time_signature[0] if count_in_beats is None else count_in_beats
        self.output = (find_device(output_device, "output")
                       if count_in > 0 or metronome else None)
        self.sample_rate = int(sample_rate or self.input.default_sample_rate)
        self.input_channel = input_channel
        self.meter = LevelMeter()
        self._metronome = Metronome(bpm, time_signature, self.sample_rate, count_in, metronome)
        self._lead_in = round(_LEAD_IN_S * self.sample_rate)
        self._input_stream: Any = None
        self._output_stream: Any = None
        self._input_latency = self._output_latency = 0.0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._reset()

    def record(self, bars: float, timeout: float | None = None) -> Take:
        """Count in, record ``bars`` bars from the downbeat and return the take."""
        self.start(bars)
        return self.wait(timeout)

    def start(self, bars: float | None = None) -> None:
        """Start the count-in; the take runs ``bars`` bars, or until :meth:`stop` if None."""
        if self._input_stream is not None:
            raise RuntimeError("a take is already running")
        if bars is not None and not (math.isfinite(bars) and bars > 0):
            raise ValueError(f"bars must be a positive number, got {bars!r}")
        self._reset()
        bar_frames = (beat_seconds(self.bpm, self.time_signature) * self.time_signature[0]
                      * self.sample_rate)
        self._take_frames = None if bars is None else round(bars * bar_frames)
        sd = sounddevice()
        try:
            # Input first: it must already be running when the first click is heard.
            self._input_stream = sd.InputStream(
                samplerate=self.sample_rate, device=self.input.index,
                channels=self.input_channel + 1, dtype="float32", latency=_LATENCY_S,
                callback=self._on_input)
            self._input_latency = self._input_stream.latency
            self._input_stream.start()
            if self.output is not None:
                self._output_stream = sd.OutputStream(
                    samplerate=self.sample_rate, device=self.output.index,
                    channels=min(2, self.output.channels), dtype="float32",
                    latency=_LATENCY_S, callback=self._on_output)
                self._output_latency = self._output_stream.latency
                self._output_stream.start()
        except sd.PortAudioError as error:
            self._close_streams()
            raise AudioDeviceError(f"cannot open the audio devices at {self.sample_rate} Hz: "
                                   f"{error}") from error

    @property
    def take_seconds(self) -> float:
        """Seconds recorded since the downbeat so far: 0 during the count-in."""
        with self._lock:
            start = self._take_start()
            frames = 0 if start is None else max(0, self._input_frames - start)
        return frames / self.sample_rate

    def stop(self) -> None:
        """End the take now (the count-in too, which leaves an empty take)."""
        with self._lock:
            self._stop_at = self._input_frames
        self._done.set()

    def wait(self, timeout: float | None = None) -> Take:
        """Block until the take ends, close the streams and return it.

        ``timeout`` defaults to the take's length plus a few seconds for a bounded take, and
        no limit for one that waits for :meth:`stop`. Raises AudioDeviceError if the input
        delivered too little audio in that time.
        """
        if self._input_stream is None:
            raise RuntimeError("no take is running")
        if timeout is None and self._take_frames is not None:
            timeout = ((self._lead_in + self._metronome.downbeat_frame + self._take_frames)
                       / self.sample_rate + _GRACE_S)
        finished = self._done.wait(timeout)
        self._close_streams()
        if not finished:
            raise AudioDeviceError(
                f"{self.input.name!r} delivered {self._input_frames / self.sample_rate:.2f} s "
                f"of audio in {timeout:.1f} s: is the device in use or stalled?")
        return self._cut_take()

    def close(self) -> None:
        """Abandon any take and release the devices."""
        self._done.set()
        self._close_streams()

    def __enter__(self) -> HumRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _reset(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._input_frames = 0
        self._output_frames = 0
        # (frame, time stamp) of recent blocks: when that input frame entered the ADC, when
        # that output frame left the DAC.
        self._adc: deque[tuple[int, float]] = deque(maxlen=_STAMPED_BLOCKS)
        self._dac: deque[tuple[int, float]] = deque(maxlen=_STAMPED_BLOCKS)
        self._take_frames = None
        self._start: int | None = None  # the take's first input frame, once fixed
        self._stop_at = None
        self._dropouts = 0
        self._done.clear()

    def _take_start(self) -> int | None:
        """Input frame captured when the downbeat was heard, as far as is known yet (None
        until both streams have run); fixed once both streams have passed it."""
        if self._start is not None:
            return self._start
        if self.output is None:
            self._start = 0
            return self._start
        if not (self._adc and self._dac):
            return None
        downbeat = self._lead_in + self._metronome.downbeat_frame
        dac0, adc0 = _time_of_frame_0(self._dac, self.sample_rate), _time_of_frame_0(
            self._adc, self.sample_rate)
        start = downbeat + round((dac0 - adc0) * self.sample_rate)
        if self._output_frames > downbeat and self._input_frames > start:
            self._start = start
        return start

    def _on_input(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        block = indata[:, self.input_channel].copy()
        self.meter.feed(block)
        with self._lock:
            if status.input_overflow:
                self._dropouts += 1
            self._adc.append((self._input_frames, _stamp(
                time.inputBufferAdcTime, time.currentTime - self._input_latency)))
            self._blocks.append(block)
            self._input_frames += frames
            start = self._take_start()
            if (start is not None and self._take_frames is not None
                    and self._input_frames >= start + self._take_frames):
                self._done.set()

    def _on_output(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        with self._lock:
            self._dac.append((self._output_frames, _stamp(
                time.outputBufferDacTime, time.currentTime + self._output_latency)))
        outdata[:] = self._metronome.render(self._output_frames - self._lead_in, frames)[:, None]
        self._output_frames += frames

    def _cut_take(self) -> Take:
        with self._lock:
            recorded = (np.concatenate(self._blocks) if self._blocks
                        else np.zeros(0, dtype=np.float32))
            start = self._take_start() or 0
            end = (start + self._take_frames if self._take_frames is not None
                   else len(recorded))
            if self._stop_at is not None:
                end = min(end, self._stop_at)
        end = max(end, start)
        # An input that started after the downbeat (no count-in) is padded, keeping bar 1 put.
        take = np.concatenate([np.zeros(max(0, -start), dtype=np.float32),
                               recorded[max(0, start):max(0, end)]])
        return Take(audio=take, sample_rate=self.sample_rate, bpm=self.bpm,
                    time_signature=self.time_signature,
                    latency_s=self._input_latency + self._output_latency,
                    dropouts=self._dropouts)

    def _close_streams(self) -> None:
        for stream in (self._output_stream, self._input_stream):
            if stream is not None:
                stream.abort()  # abort, not stop: never wait for a stalled device to drain
                stream.close()
        self._output_stream = self._input_stream = None


def save_take(take: Take, path: str | os.PathLike[str],
              subtype: Literal["PCM_24", "FLOAT"] = "PCM_24") -> Path:
    """Check the take (SilentTakeError, ClippedTakeError) and write it as a mono WAV,
    atomically; return the path. A take that fails the check is never written."""
    import soundfile as sf

    check_take(take.audio, take.sample_rate)

    def write(handle: BinaryIO) -> None:
        sf.write(handle, take.audio, take.sample_rate, format="WAV", subtype=subtype)

    return atomic_write(path, write)


def _time_of_frame_0(marks: deque[tuple[int, float]], sample_rate: int) -> float:
    """When frame 0 of a stream passed the converter, by the recent blocks' stamps."""
    return float(np.median([stamp - frame / sample_rate for frame, stamp in marks]))


def _stamp(value: float, fallback: float) -> float:
    """A PortAudio time stamp; some host APIs leave them at 0, so estimate from the clock."""
    return value if value > 0 else fallback
