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


def _bridge(args: argparse.Namespace) -> int:
    from stemloom.bench_bridge import run_bridge_bench

    results = run_bridge_bench(args.requests)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, value in results.items():
        print(f"{name:<40} {value}")
    return 0
