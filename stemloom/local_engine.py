"""Start an engine as a child process on free loopback ports and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bridge.client import EngineClient, EngineUnreachable
from bridge.messages import HelloReply


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port the OS reports free on 127.0.0.1 for the given socket kind."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalEngine:
    """An engine subprocess for one-shot commands, benchmarks and tests.

    Use as a context manager: on exit the engine is terminated (and killed if it hangs).
    """

    def __init__(
        self,
        library: Path,
        *,
        model: str = "default",
        tcp: bool = False,
        queue_size: int = 8,
        udp_port: int | None = None,
        extra_args: tuple[str, ...] = (),
        log_path: Path | None = None,
    ) -> None:
        self.library = library
        self.udp_port = udp_port or free_port()
        self.tcp_port = free_port(socket.SOCK_STREAM) if tcp else None
        self.command = [
            sys.executable,
            "-m",
            "stemloom",
            "engine",
            "serve",
            "--port",
            str(self.udp_port),
            "--library",
            str(library),
            "--model",
            model,
            "--queue-size",
            str(queue_size),
            *(["--tcp-port", str(self.tcp_port)] if tcp else []),
            *extra_args,
        ]
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> HelloReply:
        """Spawn the engine and wait for its first hello reply."""
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(self.command, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout
        with EngineClient(port=self.udp_port, timeout=0.25) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"the engine exited with code {self.process.returncode} while starting"
                    )
                try:
                    return client.hello(client="local-engine")
                except EngineUnreachable:
                    continue
        self.stop()
        raise EngineUnreachable(f"the engine did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Terminate the engine, killing it if it does not exit within 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LocalEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
