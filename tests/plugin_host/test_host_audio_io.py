"""Hum capture and preview through a real PulseAudio null sink: what is played into the sink
is recorded back from its monitor, through PortAudio's ``pulse`` ALSA device."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from plugin_host.audio_devices import AudioDeviceError, find_device, list_devices, sounddevice
from plugin_host.clips import AcidInfo, write_clip
from plugin_host.hum_capture import HumRecorder, save_take
from plugin_host.levels import ClippedTakeError, SilentTakeError, dbfs
from plugin_host.preview import ClipPlayer
from tests.plugin_host.sound_servers import pulseaudio_null_sink

pytestmark = pytest.mark.skipif(
    shutil.which("pulseaudio") is None,
    reason="pulseaudio is not installed (apt-get install pulseaudio libasound2-plugins "
           "libportaudio2); these tests play into and record from a PulseAudio null sink")

RATE = 48000
DEVICE = "pulse"


@pytest.fixture(scope="module", autouse=True)
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private PulseAudio with a null sink for the whole module."""
    with pulseaudio_null_sink(tmp_path_factory.mktemp("pulse"), RATE):
        yield


def tone_clip(path: Path, hz: float, amplitude: float, seconds: float,
              clip_at: float | None = None) -> Path:
    """A stereo sine clip; ``clip_at`` hard-clips it there (what a too-hot input looks like)."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = amplitude * np.sin(2 * np.pi * hz * t)
    if clip_at is not None:
        tone = np.clip(tone, -clip_at, clip_at)
    return write_clip(path, tone, RATE, AcidInfo(tempo=120, beats=4), subtype="FLOAT")


def frequency(audio: np.ndarray) -> float:
    """Frequency of the strongest partial (Hann window, parabolic peak interpolation)."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * RATE / len(audio)


def onsets(audio: np.ndarray, threshold: float = 0.05, gap_s: float = 0.1) -> np.ndarray:
    """Frames where the signal first exceeds ``threshold`` after ``gap_s`` below it."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if not len(loud):
        return loud
    return loud[np.concatenate([[True], np.diff(loud) > gap_s * RATE])]


class RawCapture:
    """The monitor recorded straight through sounddevice, as a reference for timing checks."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self._stream = sounddevice().InputStream(
            samplerate=RATE, device=DEVICE, channels=1, dtype="float32",
            callback=lambda indata, *_: self.blocks.append(indata[:, 0].copy()))

    def __enter__(self) -> RawCapture:
        """Start, and return once audio flows (a fresh stream may take a while to start)."""
        self._stream.start()
        deadline = time.monotonic() + 5
        while sum(map(len, self.blocks)) < RATE // 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stream.abort()
        self._stream.close()

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self.blocks)


def test_pulse_device_is_listed_and_found() -> None:
    assert any(device.name == DEVICE for device in list_devices("input"))
    assert find_device(DEVICE, "output").channels >= 1
    with pytest.raises(AudioDeviceError, match="no input device matches 'no-such-mic'"):
        find_device("no-such-mic")


def test_a_tone_played_is_recorded_at_its_pitch_and_level(tmp_path: Path) -> None:
    clip = tone_clip(tmp_path / "a440.wav", 440.0, 10 ** (-12 / 20), seconds=6.0)
    with ClipPlayer(DEVICE) as player:
        player.play(clip)
        time.sleep(0.3)  # the take starts mid-tone: no fade-in inside it
        recorder = HumRecorder(120, input_device=DEVICE, sample_rate=RATE, count_in_beats=0)
        take = recorder.record(bars=1)
        level = recorder.meter.read()
        assert player.playing and player.position > 2.0
        player.stop()
        assert not player.playing
    assert take.seconds == pytest.approx(2.0, abs=1e-3)  # one bar of 4/4 at 120 bpm
    middle = take.audio[RATE // 4: RATE // 4 + 65536]
    assert frequency(middle) == pytest.approx(440.0, abs=1.0)
    # A sine's RMS is 3.01 dB under its peak.
    assert dbfs(float(np.sqrt(np.mean(middle.astype(np.float64) ** 2)))) == pytest.approx(
        -15.01, abs=0.3)
    assert level.peak_dbfs == pytest.approx(-12.0, abs=0.3) and not level.clipped
    path = save_take(take, tmp_path / "hum.wav")
    saved, rate = sf.read(path)
    assert rate == RATE and saved.ndim == 1 and len(saved) == len(take.audio)


def test_count_in_clicks_on_the_beat_and_the_take_starts_on_the_downbeat() -> None:
    bpm, beat = 150.0, 0.4
    recorder = HumRecorder(bpm, (4, 4), input_device=DEVICE, output_device=DEVICE,
                           sample_rate=RATE, count_in_beats=4, metronome=True)
    with RawCapture() as raw:
        take = recorder.record(bars=1)
    heard = onsets(raw.audio)
    # 4 count-in clicks, 4 in the take, perhaps one more before the streams closed.
    assert len(heard) >= 8, heard / RATE
    error = np.abs(np.diff(heard[:8]) / RATE - beat)
    # Exact in the median; a busy machine may make the sound server drop a few ms once.
    assert np.median(error) < 0.001 and error.max() < 0.1
    peaks = [float(np.abs(raw.audio[at:at + RATE // 50]).max()) for at in heard[:8]]
    accented = [peak > 0.4 for peak in peaks]  # the first beat of each bar is louder
    assert accented == [True, False, False, False, True, False, False, False]
    # The metronome's beats land on the take's beats: latency is compensated. (The click on
    # the downbeat is skipped: a take starting a few ms late holds only its tail.)
    in_take = onsets(take.audio[RATE // 5:]) / RATE + 0.2
    assert len(in_take) >= 3
    assert abs(np.median(in_take[:3] - np.arange(1, 4) * beat)) < 0.01
    assert 0 < take.latency_s < 0.5


def test_a_silent_take_is_refused_and_not_written(tmp_path: Path) -> None:
    recorder = HumRecorder(240, input_device=DEVICE, output_device=DEVICE, sample_rate=RATE,
                           count_in_beats=2)
    take = recorder.record(bars=1)
    assert take.seconds == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(SilentTakeError, match=r"silent .* check the input device"):
        save_take(take, tmp_path / "hum.wav")
    assert list(tmp_path.iterdir()) == []


def test_a_clipped_take_is_refused(tmp_path: Path) -> None:
    clip = tone_clip(tmp_path / "hot.wav", 220.0, 2.0, seconds=4.0, clip_at=1.0)
    with ClipPlayer(DEVICE) as player:
        player.play(clip)
        time.sleep(0.3)
        take = HumRecorder(240, input_device=DEVICE, sample_rate=RATE,
                           count_in_beats=0).record(bars=1)
    with pytest.raises(ClippedTakeError, match=r"clipped .* lower the input gain"):
        save_take(take, tmp_path / "hum.wav")
    assert not (tmp_path / "hum.wav").exists()


def test_a_take_runs_until_stopped(tmp_path: Path) -> None:
    clip = tone_clip(tmp_path / "a.wav", 330.0, 0.3, seconds=1.0)
    with ClipPlayer(DEVICE) as player:
        player.play(clip, loop=True)
        recorder = HumRecorder(240, input_device=DEVICE, output_device=DEVICE,
                               sample_rate=RATE, count_in_beats=1)
        recorder.start()  # no length: runs until stop()
        deadline = time.monotonic() + 10
        while recorder.take_seconds < 1.2 and time.monotonic() < deadline:
            time.sleep(0.02)
        recorder.stop()
        take = recorder.wait(timeout=10)
        assert player.playing  # looping: still going past the clip's 1 s
    assert 1.2 <= take.seconds < 1.5
    assert dbfs(float(np.abs(take.audio).max())) == pytest.approx(dbfs(0.3), abs=0.5)


def test_preview_plays_to_the_end_and_reports_unreadable_files(tmp_path: Path) -> None:
    clip = tone_clip(tmp_path / "short.wav", 440.0, 0.1, seconds=0.3)
    with ClipPlayer(DEVICE) as player:
        player.play(clip)
        assert player.wait(timeout=5)
        assert not player.playing and player.position == pytest.approx(0.3)
        (tmp_path / "junk.wav").write_bytes(b"not audio")
        with pytest.raises(ValueError, match="cannot read clip"):
            player.play(tmp_path / "junk.wav")
