"""``stemloom bench``: benchmarks that print numbers (medians of many runs)."""

from __future__ import annotations

import argparse
import json


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``bench`` and its suites."""
    bench = commands.add_parser("bench", help="measure speed (prints numbers)")
    sub = bench.add_subparsers(dest="bench_command", metavar="SUITE", required=True)
    bridge = sub.add_parser(
        "bridge", help="OSC round trips, engine cold start, host import time and memory"
    )
    bridge.add_argument(
        "--requests", type=int, default=1000, help="requests per measurement (default: %(default)s)"
    )
    bridge.add_argument("--json", action="store_true", help="print JSON only")
    bridge.set_defaults(func=_bridge)
    codec = sub.add_parser("codec", help="codec encode/decode speed (x real time) and memory")
    codec.add_argument("--weights", help="codec weights (default: the shipped codec)")
    codec.add_argument("--seconds", type=float, default=10.0, help="audio per item (default: "
                       "%(default)s)")
    codec.add_argument("--runs", type=int, default=5, help="timed runs; medians are reported "
                       "(default: %(default)s)")
    codec.add_argument("--json", action="store_true", help="print JSON only")
    codec.set_defaults(func=_codec)
    mulan = sub.add_parser("mulan", help="MuLan text embedding latency, audio embedding speed")
    mulan.add_argument("--weights", help="MuLan weights folder (default: the shipped one)")
    mulan.add_argument("--runs", type=int, default=20, help="timed runs (medians reported)")
    mulan.add_argument("--json", action="store_true", help="print JSON only")
    mulan.set_defaults(func=_mulan)
    generate = sub.add_parser(
        "generate", help="generator wall time (mix alone, 4 stems), first preview, memory")
    generate.add_argument("--model", help="generator folder (default: the shipped one)")
    generate.add_argument("--runs", type=int, default=3, help="timed runs (medians reported)")
    generate.add_argument("--json", action="store_true", help="print JSON only")
    generate.set_defaults(func=_generate)
    host = sub.add_parser(
        "host", help="studio start-up and memory, and done-to-placed time for each DAW adapter")
    host.add_argument("--runs", type=int, default=5, help="timed runs (medians reported; "
                      "Ardour at most 2)")
    host.add_argument("--json", action="store_true", help="print JSON only")
    host.set_defaults(func=_host)
    fuzz = sub.add_parser(
        "fuzz", help="hostile clients on loopback: fuzzed UDP and TCP traffic, then many-client "
        "load; prints crashes, hangs, unanswered ids, ack latency and memory growth")
    fuzz.add_argument("--messages", type=int, default=100_000,
                      help="fuzzed messages per transport (default: %(default)s)")
    fuzz.add_argument("--clients", type=int, default=64,
                      help="concurrent clients in the load phase (default: %(default)s)")
    fuzz.add_argument("--seed", type=int, default=0, help="fuzz seed (default: %(default)s)")
    fuzz.add_argument("--json", action="store_true", help="print JSON only")
    fuzz.set_defaults(func=_fuzz)
    remote = sub.add_parser(
        "remote", help="an engine over TCP with files in the protocol (loopback): upload and "
        "fetch throughput, request to first preview chunk, request to stems placed")
    remote.add_argument("--runs", type=int, default=5, help="runs per figure (median, min and "
                        "max reported; default: %(default)s)")
    remote.add_argument("--model", default="random-tiny", help="the engine's model (default: "
                        "%(default)s, which measures the transport rather than the model)")
    remote.add_argument("--bars", type=int, default=8, help="bars per job (default: "
                        "%(default)s)")
    remote.add_argument("--json", action="store_true", help="print JSON only")
    remote.set_defaults(func=_remote)


def _bridge(args: argparse.Namespace) -> int:
    from stemloom.bench_bridge import run_bridge_bench

    return _print(run_bridge_bench(args.requests), args.json)


def _codec(args: argparse.Namespace) -> int:
    from engine.codec.bench import bench

    return _print(bench(args.weights, args.seconds, args.runs), args.json)


def _mulan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.mulan.bench import bench

    return _print(bench(args.weights and Path(args.weights), args.runs), args.json)


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.generator.bench import bench
    from engine.generator.pipeline import load_default

    generator = load_default(args.model and Path(args.model))
    return _print(bench(generator, args.runs), args.json)


def _host(args: argparse.Namespace) -> int:
    from stemloom.bench_host import run_host_bench

    return _print(run_host_bench(args.runs), args.json)


def _fuzz(args: argparse.Namespace) -> int:
    from stemloom.bench_fuzz import run_fuzz, summary_ok

    results = run_fuzz(args.messages, args.clients, args.seed)
    _print(results, args.json)
    return 0 if summary_ok(results) else 1


def _remote(args: argparse.Namespace) -> int:
    from stemloom.bench_remote import run_remote_bench

    return _print(run_remote_bench(args.runs, args.model, args.bars), args.json)


def _print(results: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(results, indent=2))
        return 0
    for name, value in results.items():
        print(f"{name:<40} {value}")
    return 0
