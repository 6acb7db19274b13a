"""``stemloom engine serve``: run the generation engine's OSC server."""

from __future__ import annotations

import argparse
from pathlib import Path

from bridge.listener import DEFAULT_PORT
from stemloom.commands.common import default_library


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``engine`` and its subcommands."""
    engine = commands.add_parser("engine", help="run the generation engine")
    sub = engine.add_subparsers(dest="engine_command", metavar="SUBCOMMAND", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve generation requests over OSC",
        description="Serve protocol v1 (docs/protocol.md) over UDP, and TCP with SLIP "
        "framing when --tcp-port is given. Off loopback a --token is required.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="UDP port")
    serve.add_argument("--tcp-port", type=int, default=None, help="also listen on TCP (SLIP)")
    serve.add_argument("--token", default="", help="shared secret clients must send")
    serve.add_argument(
        "--library",
        type=Path,
        default=None,
        help="folder for finished clips (default: the user data folder)",
    )
    serve.add_argument(
        "--model",
        default="default",
        help="'default' (the shipped trained model), a generator folder, or 'random-tiny' "
        "(untrained, tests only)",
    )
    serve.add_argument("--queue-size", type=int, default=8, help="jobs that may wait at once")
    serve.add_argument("--workers", type=int, default=1, help="jobs generated at once")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from engine.server.main import serve  # imports the engine only when serving

    return serve(
        host=args.host,
        udp_port=args.port,
        tcp_port=args.tcp_port,
        token=args.token,
        library=args.library or default_library(),
        model=args.model,
        queue_size=args.queue_size,
        workers=args.workers,
    )
