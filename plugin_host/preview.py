"""Preview a clip through an output device: play, loop, stop, and a level meter for the UI."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from plugin_host.audio_devices import AudioDeviceError, find_device, sounddevice
from plugin_host.levels import LevelMeter

# A generous device buffer, against dropouts on a busy machine: a preview may start 0.1 s
# late, and stop() still cuts it at once.
_LATENCY_S = 0.1


class ClipPlayer:
    """Plays one clip at a time; playing another stops the first."""

    def __init__(self, device: int | str | None = None) -> None:
        self.device = find_device(device, "output")
        self.meter = LevelMeter()
        self._stream: Any = None
        self._audio = np.zeros((0, 1), dtype=np.float32)
        self._sample_rate = 0
        self._position = 0
        self._loop = False
        self._finished = threading.Event()
        self._finished.set()
        self._callback_stop: type[Exception] = Exception

    def play(self, path: str | os.PathLike[str], loop: bool = False, start: float = 0.0) -> None:
        """Start playing the audio file ``path`` ``start`` seconds in; returns at once.

        Raises ValueError if the file cannot be read and AudioDeviceError if the device
        cannot play it (a rate or channel count it does not support).
        """
        audio, sample_rate = self._read(path)
        self._start(audio, sample_rate, loop, round(start * sample_rate))

    def follow(self, path: str | os.PathLike[str]) -> None:
        """Play ``path``, a longer take of the clip last played (a preview that grew), on from
        where playback is: without a gap while it plays, from where it ran out if it did.

        Any other clip (another rate or channel count, or nothing played yet) plays from its
        start. Raises as :meth:`play` does.
        """
        audio, sample_rate = self._read(path)
        same = sample_rate == self._sample_rate and audio.shape[1] == self._audio.shape[1]
        if not same or not len(self._audio):
            self._start(audio, sample_rate, False, 0)
        elif self.playing:
            self._audio = audio  # the callback reads on from its position in the longer take
            self._loop = False
        elif len(audio) > self._position:
            self._start(audio, sample_rate, False, self._position)

    def _read(self, path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
        """The file's audio (frames, channels), down-mixed for a mono device, and its rate."""
        import soundfile as sf

        try:
            audio, sample_rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, OSError) as error:
            raise ValueError(f"cannot read clip {os.fspath(path)!r}: {error}") from error
        if audio.shape[1] > min(self.device.channels, 2):  # a mono device gets the mix
            audio = audio.mean(axis=1, keepdims=True)
        return audio, sample_rate

    def _start(self, audio: np.ndarray, sample_rate: int, loop: bool, position: int) -> None:
        """Open a stream on the device and play ``audio`` from frame ``position``."""
        self.stop()
        channels = min(self.device.channels, 2)
        self._audio, self._sample_rate = audio, sample_rate
        self._position, self._loop = min(max(position, 0), len(audio)), loop
        self._finished.clear()
        sd = sounddevice()
        self._callback_stop = sd.CallbackStop
        try:
            self._stream = sd.OutputStream(
                samplerate=sample_rate, device=self.device.index, channels=channels,
                dtype="float32", latency=_LATENCY_S, callback=self._fill,
                finished_callback=self._finished.set)
            self._stream.start()
        except sd.PortAudioError as error:
            self._finished.set()
            self._stream = None
            raise AudioDeviceError(f"{self.device.name!r} cannot play {sample_rate} Hz "
                                   f"{channels}-channel audio: {error}") from error

    def stop(self) -> None:
        """Stop playing now (nothing happens if nothing plays)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()
        self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until playback ends; True if it did within ``timeout`` seconds."""
        return self._finished.wait(timeout)

    @property
    def playing(self) -> bool:
        """Whether a clip is playing."""
        return not self._finished.is_set()

    @property
    def position(self) -> float:
        """Seconds into the clip of the frame being handed to the device."""
        return self._position / self._sample_rate if self._sample_rate else 0.0

    def close(self) -> None:
        """Stop and release the device."""
        self.stop()

    def __enter__(self) -> ClipPlayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fill(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        written = 0
        while written < frames:
            chunk = self._audio[self._position:self._position + frames - written]
            outdata[written:written + len(chunk)] = chunk  # a mono file fills every channel
            written += len(chunk)
            self._position += len(chunk)
            if self._position >= len(self._audio):
                if not self._loop or not len(self._audio):
                    break
                self._position = 0
        outdata[written:] = 0
        self.meter.feed(outdata[:written])
        if written < frames:
            raise self._callback_stop
