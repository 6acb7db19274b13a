"""Real sound servers for tests, without a sound card: PulseAudio with a null sink, and a JACK
server with the dummy driver. Each runs in a temp folder, is waited for with a bounded wait,
and is always terminated."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SINK = "stemloom_test"
_START_TIMEOUT_S = 10.0


@contextmanager
def pulseaudio_null_sink(root: Path, sample_rate: int = 48000) -> Iterator[None]:
    """Run a private PulseAudio whose only sink is a null sink; its monitor is the default
    source, so what is played is recorded back.

    While it runs, ``PULSE_SERVER`` points this process (and PortAudio's ``pulse`` device,
    through libasound2-plugins) at it, and PortAudio has re-read its device list.
    """
    from plugin_host.audio_devices import rescan_devices

    home, runtime = root / "home", root / "runtime"
    home.mkdir(parents=True)
    runtime.mkdir(mode=0o700)
    socket = runtime / "native"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PULSE_")}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    log = root / "pulseaudio.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--system=false", "--exit-idle-time=-1",
             "--realtime=false", "--high-priority=false", "--use-pid-file=false", "-n",
             "--log-target=stderr",
             # The sink first: modules load in order, so the socket appears only once the
             # sink exists. Anonymous auth: the test process has no cookie.
             "-L", f"module-null-sink sink_name={SINK} rate={sample_rate} channels=2",
             "-L", f"module-native-protocol-unix auth-anonymous=1 socket={socket}"],
            env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
    saved = os.environ.get("PULSE_SERVER")
    try:
        _wait_for(lambda: socket.exists(), process, log, "PulseAudio socket")
        os.environ["PULSE_SERVER"] = f"unix:{socket}"
        rescan_devices()
        with _silence_playing(sample_rate):
            yield
    finally:
        _stop(process)
        if saved is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = saved
        rescan_devices()


@contextmanager
def _silence_playing(sample_rate: int) -> Iterator[None]:
    """Keep a low-latency stream of silence playing into the null sink.

    A null sink with nothing playing renders in blocks of up to seconds, so a new stream waited
    ~1.4 s for its first block; a sound card's clock never stops like that.
    """
    from plugin_host.audio_devices import sounddevice

    stream = sounddevice().OutputStream(
        samplerate=sample_rate, device="pulse", channels=2, dtype="float32", latency="low",
        callback=lambda outdata, *_: outdata.fill(0))
    stream.start()
    try:
        yield
    finally:
        stream.abort()
        stream.close()


@contextmanager
def jack_dummy_server(root: Path, name: str) -> Iterator[None]:
    """Run ``jackd`` with the dummy driver as server ``name``; while it runs,
    ``JACK_DEFAULT_SERVER`` makes JACK clients of this process (rtmidi's) connect to it, and
    ``JACK_NO_START_SERVER`` keeps them from starting a server of their own."""
    log = root / "jackd.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
    saved = {key: os.environ.get(key) for key in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    try:
        _wait_for(_jack_answers, process, log, "JACK server")
        yield
    finally:
        _stop(process)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _jack_answers() -> bool:
    """Whether a JACK client can reach the server (opening one fails until it is up)."""
    import mido

    try:
        with mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output(
                "stemloom-probe", virtual=True):
            return True
    except OSError:  # rtmidi's SystemError: "JACK server not running?"
        return False


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path,
              what: str) -> None:
    """Poll ``ready`` until it is true; fail the test if the server died or took too long."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
