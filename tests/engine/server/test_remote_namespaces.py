"""The engine on another machine: host and engine in two network namespaces the test makes
(a veth pair, private addresses), each with its own HOME; files travel only in the protocol.

Where ``ip netns`` is not allowed (not root, no kernel support), or with
STEMLOOM_TEST_NETNS=0, the same tests run with two processes on loopback that share no folder,
joined through a relay the test throttles and cuts, and say so in the test output.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemloom.local_engine import free_port
from tests.engine.server.machines import Network, wait_for_line

REPO = Path(__file__).resolve().parents[3]
TOKEN = "namespace-test-token-0123456789"
STEMS = ("drums", "bass", "keys", "lead")


@dataclass(frozen=True)
class Setup:
    """The two machines, the running engine and its ports."""

    network: Network
    udp_port: int
    tcp_port: int
    engine_log: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """An engine with the tiny random model serving TCP on the engine machine."""
    network = Network(tmp_path_factory.mktemp("machines"),
                      namespaces=os.environ.get("STEMLOOM_TEST_NETNS", "1") != "0")
    kind = ("two network namespaces joined by a veth pair" if network.namespaces else
            "NO namespaces: two loopback processes that share no folder, and a relay")
    print(f"\nmachines: {kind}")
    engine = network.engine
    (engine.home / "token").write_text(TOKEN)
    (engine.home / "takes").mkdir()
    udp_port, tcp_port = free_port(), free_port(socket.SOCK_STREAM)
    log = engine.home / "engine.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(engine.python(
            "-m", "stemloom", "engine", "serve",
            "--host", "0.0.0.0" if network.namespaces else "127.0.0.1",
            "--port", str(udp_port), "--tcp-port", str(tcp_port),
            "--token-file", str(engine.home / "token"), "--model", "random-tiny",
            "--library", str(engine.home / "library"),
            "--input-folder", str(engine.home / "takes")), stdout=out, stderr=out, cwd=REPO)
    try:
        wait_for_line(log, "listening on", process, timeout=60)
        yield Setup(network, udp_port, tcp_port, log)
        assert process.poll() is None, log.read_text()[-3000:]
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        network.close()


def _hum(path: Path) -> None:
    """Four sung-like notes (sines with a little vibrato), 4 s at 16 kHz."""
    rate = 16000
    freqs = np.repeat([220.0, 246.9, 261.6, 293.7], rate)
    vibrato = 1 + 0.004 * np.sin(2 * np.pi * 5 * np.arange(freqs.size) / rate)
    sf.write(path, 0.3 * np.sin(2 * np.pi * np.cumsum(freqs * vibrato) / rate), rate)


def _parts(clips: Path, stem: str) -> list[Path]:
    return list(clips.glob(f"*/engine/.{stem}.wav.*.part"))


def test_a_hummed_four_stem_job_lands_in_the_hosts_dawproject_across_a_cut(setup) -> None:
    network = setup.network
    host, engine = network.host, network.engine
    _hum(host.home / "hum.wav")
    project = host.home / "song.dawproject"
    address, port = network.engine_endpoint(setup.tcp_port)
    network.throttle_engine(8_000_000)  # the stems take ~2 s to come down: time to cut
    log = host.home / "generate.log"
    with open(log, "wb") as out:
        generate = subprocess.Popen(host.python(
            "-m", "stemloom", "generate", "dreamy synthwave", "--bpm", "120", "--bars", "2",
            "--stems", ",".join(STEMS), "--melody", str(host.home / "hum.wav"), "--seed", "7",
            "--engine", f"{address}:{port}", "--transport", "tcp",
            "--token", TOKEN, "--timeout", "10", "--daw", "dawproject", "--dest", str(project)),
            stdout=out, stderr=out, cwd=REPO)
    clips = host.home / ".local/share/stemloom/clips"
    cut = ""
    deadline = time.monotonic() + 120
    while not cut and generate.poll() is None and time.monotonic() < deadline:
        if any(part.stat().st_size >= 64 * 1024 for part in _parts(clips, "drums")):
            cut = network.cut(setup.tcp_port)
        time.sleep(0.02)
    generate.wait(timeout=180)
    output = log.read_text()
    print(output[-2000:])
    assert generate.returncode == 0, output
    assert cut, "the connection was never cut mid-transfer"
    assert "resumed drums.wav at byte" in output
    assert f"Placed {len(STEMS)} stems" in output
    with zipfile.ZipFile(project) as archive:
        audio = sorted(n.rsplit("_", 1)[-1] for n in archive.namelist()
                       if n.startswith("audio/"))
    assert audio == sorted(f"{stem}.wav" for stem in STEMS)
    (job_folder,) = [p.parent for p in clips.glob("*/engine")]
    for stem in STEMS:
        assert sf.info(job_folder / "engine" / f"{stem}.wav").frames == 4 * 48000
    assert (job_folder / "engine" / "melody.mid").is_file()  # the hum, as the engine heard it
    assert not list(job_folder.rglob("*.part"))
    record = json.loads((job_folder / "engine" / "job.json").read_text())
    melody = record["request"]["melody"]  # the upload's handle: no path of the engine's
    assert melody.startswith("upload:")
    (stored,) = (engine.home / "library" / ".uploads").glob(
        f"*/{melody.removeprefix('upload:')}/hum.wav")
    assert stored.read_bytes() == (host.home / "hum.wav").read_bytes()
    assert not (host.home / ".local/share/stemloom/library").exists()
    assert not (engine.home / ".local/share/stemloom/clips").exists()


def _check(setup: Setup, machine_name: str, check: str, port: int) -> dict:
    machine = getattr(setup.network, machine_name)
    address = setup.network.engine.address if machine_name == "host" else "127.0.0.1"
    folder = machine.home / "takes"
    folder.mkdir(exist_ok=True)
    result = subprocess.run(machine.python("-m", "tests.engine.server.host_checks", check,
                                           address, str(port), TOKEN, str(folder)),
                            capture_output=True, text=True, timeout=180, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    findings: dict = json.loads(result.stdout.strip().splitlines()[-1])
    return findings


def test_an_upload_over_the_limit_is_refused_and_uploads_stay_private(setup) -> None:
    findings = _check(setup, "host", "uploads", setup.tcp_port)
    assert findings["over_limit"] == "too_large"
    assert findings["other"] == "bad_argument"  # another client cannot name it
    assert findings["own"] == "accepted"


def test_a_v1_udp_client_on_the_engines_machine_is_served_unchanged(setup) -> None:
    findings = _check(setup, "engine", "v1", setup.udp_port)
    assert findings == {"protocol": 1, "extra": [], "outcome": "/stemloom/done",
                        "stems_here": [True]}
