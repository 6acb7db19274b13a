"""The bridge benchmark: request->reply round trips on loopback, engine cold start, and what
the host costs to import."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tqdm import tqdm

from bridge.client import EngineClient
from bridge.messages import Generate
from stemloom.local_engine import LocalEngine

_IMPORT_PROBE = """
import resource, time
start = time.perf_counter()
import bridge.client, plugin_host
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run_bridge_bench(requests: int, import_runs: int = 7) -> dict[str, float | int | str]:
    """Run every bridge measurement and return them as a flat dict (milliseconds, MiB)."""
    results: dict[str, float | int | str] = {"requests": requests}
    with tempfile.TemporaryDirectory(prefix="stemloom-bench-") as tmp:
        engine = LocalEngine(Path(tmp), model="random-tiny", tcp=True, queue_size=requests + 8)
        started = time.perf_counter()
        engine.start()
        results["engine_cold_start_to_hello_ms"] = round((time.perf_counter() - started) * 1e3, 1)
        try:
            assert engine.tcp_port is not None  # started with tcp=True
            for transport, port in (("udp", engine.udp_port), ("tcp", engine.tcp_port)):
                with EngineClient(port=port, transport=transport, timeout=5.0) as client:
                    hello = _round_trips(requests, partial(_hello, client), transport)
                    ack = _round_trips(
                        requests, partial(_submit_then_cancel, client, transport), transport
                    )
                results.update(_summary(f"{transport}_hello", hello))
                results.update(_summary(f"{transport}_generate_ack", ack))
        finally:
            engine.stop()
    times, memory = [], []
    for _ in range(import_runs):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, check=True
        ).stdout.split()
        times.append(float(out[0]) * 1e3)
        memory.append(int(out[1]) / 1024)
    results["host_import_ms_median"] = round(statistics.median(times), 1)
    results["host_import_max_rss_mib_median"] = round(statistics.median(memory), 1)
    return results


def _timed(call: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    call(*args)
    return (time.perf_counter() - start) * 1e3


def _hello(client: EngineClient, index: int) -> float:
    """Milliseconds from hello to its reply."""
    return _timed(client.hello, f"h{index}")


def _submit_then_cancel(client: EngineClient, transport: str, index: int) -> float:
    """Milliseconds from generate to ack; the job is then cancelled so the queue stays short."""
    job_id = f"bench-{transport}-{index}"
    elapsed = _timed(
        client.submit, Generate(request_id=job_id, prompt="bench", bars=1, stems=("mix",))
    )
    client.cancel(job_id)
    client.forget(job_id)
    return elapsed


def _round_trips(count: int, call: Callable[[int], float], label: str) -> list[float]:
    """The milliseconds each of ``count`` sequential calls reports."""
    return [call(index) for index in tqdm(range(count), desc=label, leave=False)]


def _summary(name: str, samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        f"{name}_ms_median": round(statistics.median(ordered), 3),
        f"{name}_ms_p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
    }
