"""The remote-engine benchmark: files over the protocol on loopback TCP.

Upload and fetch throughput (MB/s), and for whole jobs run the way a remote host runs them
(``plugin_host.remote``): request -> first preview chunk on the host, and request -> stems
fetched, checked and placed in a DAWproject; beside it the same job over UDP with paths (an
engine on the host's machine) as the baseline. Each figure is the median of ``runs`` with its
minimum and maximum. Loopback measures the protocol's own cost (framing, checksums, part
files, round trips), not a network's.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.client import EngineClient
from bridge.identity import user_client_id
from bridge.messages import Chunk, Generate
from bridge.transfer import fetch_file, upload_file
from plugin_host.placement import open_adapter, place_job
from plugin_host.remote import PREVIEW_NAME, RemoteEngine
from stemloom.local_engine import LocalEngine

UPLOAD_BYTES = 20 * 1024 * 1024
STEMS = ("drums", "bass", "keys", "lead")


def run_remote_bench(runs: int, model: str = "random-tiny", bars: int = 8) -> dict:
    """Run every measurement against a fresh engine on loopback TCP; a flat dict of results."""
    results: dict = {"runs": runs, "model": model, "bars": bars, "stems": len(STEMS),
                     "transport": "tcp loopback"}
    with tempfile.TemporaryDirectory(prefix="stemloom-bench-remote-") as tmp:
        root = Path(tmp)
        (root / "takes").mkdir()
        engine = LocalEngine(root / "library", model=model, tcp=True,
                             extra_args=("--input-folder", str(root / "takes")))
        engine.start(timeout=300)
        assert engine.tcp_port is not None
        port = engine.tcp_port
        client_id = user_client_id()

        def connect() -> EngineClient:
            return EngineClient(port=port, transport="tcp", client_id=client_id, timeout=30)

        def connect_udp() -> EngineClient:
            return EngineClient(port=engine.udp_port, client_id=client_id, timeout=30)

        try:
            results.update(_upload(connect, root, runs))
            results.update(_jobs(connect, root, runs, bars))
            results.update(_local_jobs(connect_udp, root, runs, bars))
        finally:
            engine.stop()
    return results


def _upload(connect: Callable[[], EngineClient], root: Path, runs: int) -> dict:
    rates = []
    with connect() as client:
        files = client.hello_files()
        assert files is not None
        for run in range(runs):
            path = root / f"take-{run}.wav"
            path.write_bytes(os.urandom(UPLOAD_BYTES))  # new content: no upload resumes
            started = time.perf_counter()
            upload_file(client, path, files)
            rates.append(UPLOAD_BYTES / 1e6 / (time.perf_counter() - started))
    return _spread("upload_mb_per_s", rates, 1)


def _jobs(connect: Callable[[], EngineClient], root: Path, runs: int, bars: int) -> dict:
    first_preview, placed, fetch_rates = [], [], []
    job_bytes = 0
    hum = _hum(root / "takes" / "hum.wav")
    for run in range(runs):
        request = Generate(request_id=f"bench-remote-{run}-{time.time_ns()}",
                           prompt="synthwave with a hummed lead", bars=bars, stems=STEMS,
                           seed=run, format="wav24", melody=str(hum))
        folder = root / "clips" / request.request_id
        seen: list[float] = []
        started = time.perf_counter()

        def note(chunk: Chunk, seen: list[float] = seen) -> None:
            if chunk.file == PREVIEW_NAME and not seen:
                seen.append(time.perf_counter())

        with RemoteEngine(connect) as remote:
            # As a host that plays previews: they are fetched only when someone listens.
            done = remote.run(request, folder / "engine", on_chunk=note,
                              on_preview=lambda _preview: None)
            adapter = open_adapter("dawproject", root / f"song-{run}.dawproject")
            place_job(done, request.prompt, adapter, clips_root=root / "clips")
            placed.append(time.perf_counter() - started)
            if seen:
                first_preview.append(seen[0] - started)
            # Download throughput: the job's stems fetched again into a new folder.
            again = folder / "again"
            fetch_started = time.perf_counter()
            sizes = [remote.call(partial(fetch_file, job_id=request.request_id,
                                         name=f"{stem}.wav", target=again / f"{stem}.wav")).size
                     for stem in STEMS]
            fetch_rates.append(sum(sizes) / 1e6 / (time.perf_counter() - fetch_started))
            job_bytes = sum(sizes)
    return {**_spread("fetch_mb_per_s", fetch_rates, 1),
            **_spread("request_to_first_preview_chunk_ms", [s * 1e3 for s in first_preview]),
            **_spread("request_to_stems_placed_ms", [s * 1e3 for s in placed]),
            "stem_bytes_per_job": job_bytes, "jobs_with_a_preview": len(first_preview)}


def _local_jobs(connect: Callable[[], EngineClient], root: Path, runs: int,
                bars: int) -> dict:
    """The baseline: the same jobs over UDP with paths, placed from the engine's files."""
    placed = []
    for run in range(runs):
        request = Generate(request_id=f"bench-local-{run}-{time.time_ns()}",
                           prompt="synthwave with a hummed lead", bars=bars, stems=STEMS,
                           seed=run, format="wav24", melody=str(root / "takes" / "hum.wav"))
        started = time.perf_counter()
        with connect() as client:
            client.submit(request)
            done = client.wait(request.request_id, timeout=600)
        adapter = open_adapter("dawproject", root / f"local-{run}.dawproject")
        place_job(done, request.prompt, adapter, clips_root=root / "local-clips")
        placed.append((time.perf_counter() - started) * 1e3)
    return _spread("udp_paths_request_to_stems_placed_ms", placed)


def _hum(path: Path) -> Path:
    """Four sung-like notes, 4 s at 16 kHz: the input a remote host uploads with a job."""
    rate = 16000
    freqs = np.repeat([220.0, 246.9, 261.6, 293.7], rate)
    sf.write(path, 0.3 * np.sin(2 * np.pi * np.cumsum(freqs) / rate), rate)
    return path


def _spread(name: str, values: list[float], digits: int = 0) -> dict:
    if not values:
        return {f"{name}_median": None}
    return {f"{name}_median": round(statistics.median(values), digits),
            f"{name}_min": round(min(values), digits), f"{name}_max": round(max(values), digits)}
