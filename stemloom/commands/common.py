"""Options and helpers shared by commands that talk to an engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from platformdirs import user_data_path

from bridge.client import EngineClient
from bridge.identity import user_client_id
from bridge.listener import DEFAULT_PORT


def default_library() -> Path:
    """Where the engine keeps finished clips unless told otherwise."""
    return user_data_path("stemloom", appauthor=False) / "library"


def add_engine_address(parser: argparse.ArgumentParser) -> None:
    """--engine HOST:PORT, --transport and --token."""
    parser.add_argument(
        "--engine",
        default=f"127.0.0.1:{DEFAULT_PORT}",
        metavar="HOST:PORT",
        help="engine to talk to (default: %(default)s)",
    )
    parser.add_argument(
        "--transport",
        choices=("udp", "tcp"),
        default="udp",
        help="udp on this machine; tcp (SLIP) for an engine elsewhere",
    )
    parser.add_argument("--token", default="", help="shared token of a remote engine")
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds to wait for each reply (default: %(default)s)",
    )


def parse_address(text: str) -> tuple[str, int]:
    """'host:port' -> (host, port), with a clear error."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"stemloom: --engine must look like HOST:PORT, not {text!r}")
    return host, int(port)


def connect(args: argparse.Namespace) -> EngineClient:
    """A client for the engine named by the common options."""
    host, port = parse_address(args.engine)
    return EngineClient(host, port, transport=args.transport, token=args.token,
                        client_id=user_client_id(), timeout=args.timeout)


def fail(message: str, code: int = 2) -> int:
    """Print an error for the user and return ``code``."""
    print(f"stemloom: {message}", file=sys.stderr)
    return code
