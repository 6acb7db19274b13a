"""Two machines for one test: network namespaces joined by a veth pair, or (where namespaces
cannot be made) two processes on loopback joined through a relay the test controls. Each
machine has its own HOME, and neither reads the other's folders: the engine's only input
folder is its own clip library."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.engine.server.relay import Relay

ENGINE_ADDRESS = "10.213.0.1"
HOST_ADDRESS = "10.213.0.2"


@dataclass(frozen=True)
class Machine:
    """One side: its network namespace (None: this one), the address the other side reaches
    it at, and its own home folder."""

    netns: str | None
    address: str
    home: Path

    def command(self, *args: str) -> list[str]:
        """``args`` run on this machine, with its own HOME and user folders."""
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        env = [f"HOME={self.home}", f"XDG_CONFIG_HOME={self.home / '.config'}",
               f"XDG_DATA_HOME={self.home / '.local/share'}", "PYTHONUNBUFFERED=1",
               "OMP_NUM_THREADS=1", f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}"]
        return [*prefix, "env", "-i", *env, *args]

    def python(self, *args: str) -> list[str]:
        """This repository's Python on this machine."""
        return self.command(sys.executable, *args)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Network:
    """An engine machine and a host machine; namespaces when ``ip netns`` works here."""

    def __init__(self, root: Path, *, namespaces: bool = True) -> None:
        tag = f"sl{os.getpid() % 10**7}"
        self._names = (f"{tag}e", f"{tag}h")
        self._engine_link = f"{tag}ve"
        self._relay: Relay | None = None
        self.namespaces = namespaces and _make_namespaces(*self._names, self._engine_link,
                                                          f"{tag}vh")
        engine_ns, host_ns = self._names if self.namespaces else (None, None)
        self.engine = Machine(engine_ns, ENGINE_ADDRESS if self.namespaces else "127.0.0.1",
                              root / "engine-home")
        self.host = Machine(host_ns, HOST_ADDRESS if self.namespaces else "127.0.0.1",
                            root / "host-home")
        for machine in (self.engine, self.host):
            machine.home.mkdir(parents=True)

    def engine_endpoint(self, tcp_port: int) -> tuple[str, int]:
        """Where the host dials the engine's TCP port: across the link, or the relay."""
        if self.namespaces:
            return self.engine.address, tcp_port
        self._relay = Relay(tcp_port)
        return "127.0.0.1", self._relay.port

    def throttle_engine(self, bits_per_s: int) -> None:
        """Slow what the engine sends (a token bucket on its side of the link)."""
        if self._relay is not None:
            self._relay.throttle(bits_per_s)
            return
        subprocess.run(["ip", "netns", "exec", self._names[0], "tc", "qdisc", "add", "dev",
                        self._engine_link, "root", "tbf", "rate", f"{bits_per_s}bit", "burst",
                        "32kbit", "latency", "400ms"], check=True, timeout=10)

    def cut(self, port: int) -> str:
        """Kill the host's TCP connections to the engine's ``port``, as a dropped link
        would; returns what was killed ("" for nothing)."""
        if self._relay is not None:
            cut = self._relay.cut()
            return f"{cut} relayed connection(s)" if cut else ""
        result = subprocess.run(self.host.command("ss", "-K", "dst", self.engine.address,
                                                  "dport", "=", f":{port}"),
                                capture_output=True, text=True, timeout=10)
        return result.stdout if "ESTAB" in result.stdout else ""

    def close(self) -> None:
        """Remove the namespaces (and with them the veth pair), or stop the relay."""
        if self._relay is not None:
            self._relay.close()
        if self.namespaces:
            for name in self._names:
                subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _make_namespaces(engine: str, host: str, engine_link: str, host_link: str) -> bool:
    """Make two namespaces joined by a veth pair; False where that is not allowed here."""
    try:
        _ip("netns", "add", engine)
        _ip("netns", "add", host)
        _ip("link", "add", engine_link, "type", "veth", "peer", "name", host_link)
        for name, link, address in ((engine, engine_link, ENGINE_ADDRESS),
                                    (host, host_link, HOST_ADDRESS)):
            _ip("link", "set", link, "netns", name)
            _ip("-n", name, "addr", "add", f"{address}/30", "dev", link)
            _ip("-n", name, "link", "set", link, "up")
            _ip("-n", name, "link", "set", "lo", "up")
    except (OSError, subprocess.SubprocessError):
        for name in (engine, host):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        return False
    return True


def wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    """Wait until ``text`` appears in ``log``; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"exited {process.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"no {text!r} in {log} within {timeout:.0f} s")
