"""The standalone host bundle, built for real with PyInstaller (about 30-60 s on 2 cores) and
run: it stays small, carries no torch, finds its presets, talks to a real engine and places
the clips, and its studio window starts."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.client import EngineClient, EngineUnreachable
from stemloom.local_engine import LocalEngine

pytest.importorskip("PyInstaller", reason="the dev extra installs PyInstaller")

REPO = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 150_000_000
# What the bundle's libraries may take from the system rather than carry: glibc, the GPU and
# windowing stack, fontconfig/FreeType, ALSA and JACK (see build/host.spec).
FROM_SYSTEM = re.compile(r"^(ld-linux-x86-64\.so|lib(c|m|dl|pthread|rt|mvec|util|resolv|GL|EGL"
                         r"|xcb|X11|X11-xcb|wayland-[a-z]+|fontconfig|freetype|asound|jack)"
                         r"\.so)")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host bundle folder, built by ./build/bundle into a temporary folder."""
    root = tmp_path_factory.mktemp("bundle")
    started = time.monotonic()
    result = subprocess.run(["./build/bundle", "host"], cwd=REPO, capture_output=True,
                            text=True, timeout=600,
                            env={**os.environ, "DIST": str(root / "dist"),
                                 "WORK": str(root / "work")})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    print(f"host bundle built in {time.monotonic() - started:.0f} s: {result.stdout.strip()}")
    return root / "dist" / "stemloom-host"


def run(bundle: Path, *args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the frozen command with a fresh home."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CONFIG_HOME": str(home / "config")}
    return subprocess.run([str(bundle / "stemloom-host"), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_the_bundle_is_small_and_has_no_engine(bundle) -> None:
    files = [path for path in bundle.rglob("*") if path.is_file() and not path.is_symlink()]
    size = sum(path.stat().st_size for path in files)
    print(f"host bundle: {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB) in {len(files)} files")
    assert size <= LIMIT_BYTES
    names = {part for path in files for part in path.relative_to(bundle).parts}
    assert not names & {"torch", "engine", "transformers", "torchcrepe"}
    assert len(list((bundle / "_internal" / "presets" / "genres").glob("*.toml"))) >= 24


def test_every_library_the_bundle_needs_is_in_it_or_the_systems(bundle) -> None:
    present = {path.name for path in bundle.rglob("*")}
    needed: dict[str, str] = {}
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.read_bytes()[:4] == b"\x7fELF":
            dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True,
                                     text=True, check=True).stdout
            for library in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", dynamic):
                needed.setdefault(library, str(path.relative_to(bundle)))
    missing = {library: user for library, user in needed.items()
               if library not in present and not FROM_SYSTEM.match(library)}
    assert not missing


def test_the_frozen_host_places_a_clip_from_a_real_engine(bundle, engine, tmp_path) -> None:
    address = f"127.0.0.1:{engine.udp_port}"
    status = run(bundle, "host", "status", "--engine", address, home=tmp_path)
    assert status.returncode == 0 and "random-tiny" in status.stdout, status.stderr
    listing = run(bundle, "presets", "list", home=tmp_path)
    assert listing.returncode == 0 and "lofi-hiphop" in listing.stdout
    session = tmp_path / "session"
    made = run(bundle, "generate", "--preset", "lofi-hiphop", "--bars", "1", "--stems",
               "drums,bass", "--engine", address, "--daw", "folder", "--dest", str(session),
               home=tmp_path)
    assert made.returncode == 0, made.stderr[-3000:]
    assert "Placed 2 stems on new tracks at bar 1" in made.stdout
    # The effect chains ran inside the bundle too (pedalboard frozen with it).
    assert "drums through effect preset 'lofi tape'" in made.stdout
    placed = sorted(path.name for path in session.glob("*.wav"))
    assert len(placed) == 2 and all("_84bpm_" in name for name in placed)


def test_without_an_engine_the_frozen_host_says_where_to_get_one(bundle, tmp_path) -> None:
    result = run(bundle, "doctor", home=tmp_path)
    assert result.returncode == 1
    assert "--  engine" in result.stdout and "stemloom-engine engine serve" in result.stdout
    if engine_on_default_port():
        return  # generate would use that engine
    alone = run(bundle, "generate", "x", "--bars", "1", home=tmp_path)
    assert alone.returncode == 2 and "standalone host" in alone.stderr
    assert "stemloom-engine engine serve" in alone.stderr


def engine_on_default_port() -> bool:
    """Whether an engine (someone's) answers on the default port of this machine."""
    try:
        with EngineClient(timeout=0.5) as probe:
            probe.hello(client="test-host-bundle")
    except EngineUnreachable:
        return False
    return True


@pytest.fixture
def studio(bundle: Path, engine: LocalEngine, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """The frozen studio window on Qt's offscreen platform, stopped at the end."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    process = subprocess.Popen([str(bundle / "stemloom-host"), "studio", "--engine",
                                f"127.0.0.1:{engine.udp_port}"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield process
    process.kill()
    process.wait()


def test_the_frozen_studio_window_starts_and_stays_up(studio) -> None:
    time.sleep(8)
    if studio.poll() is not None:
        pytest.fail(f"the studio exited with {studio.returncode}: {studio.stdout.read()[-3000:]}")
    studio.terminate()
    output, _ = studio.communicate(timeout=30)
    assert "Traceback" not in output, output[-3000:]
