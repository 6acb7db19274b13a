"""Options and helpers shared by commands that talk to an engine."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from platformdirs import user_data_path

from bridge.client import EngineClient
from bridge.identity import user_client_id
from bridge.listener import DEFAULT_PORT

# The shared token of an engine, when neither --token nor --token-file gives one.
TOKEN_ENV = "STEMLOOM_TOKEN"


def default_library() -> Path:
    """Where the engine keeps finished clips unless told otherwise."""
    return user_data_path("stemloom", appauthor=False) / "library"


def add_engine_address(parser: argparse.ArgumentParser) -> None:
    """--engine HOST:PORT, --transport, --token and --token-file."""
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
    parser.add_argument("--token", default="", help="shared token of a remote engine (on the "
                        "command line others on this machine can read it: prefer --token-file "
                        f"or the {TOKEN_ENV} environment variable)")
    parser.add_argument("--token-file", dest="token_from_file", type=read_token_file,
                        default=None, metavar="FILE",
                        help="read the shared token from the first line of FILE")
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


def read_token_file(path: str) -> str:
    """The token on the first line of the file at ``path`` (an argparse type: a file that
    cannot be read, or is empty, is refused with a message, before anything runs)."""
    try:
        lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise argparse.ArgumentTypeError(f"cannot read the token file {path}: {reason}"
                                         ) from None
    token = lines[0].strip() if lines else ""
    if not token:
        raise argparse.ArgumentTypeError(f"the token file {path} is empty")
    return token


def engine_token(args: argparse.Namespace) -> str:
    """The engine's shared token: --token, else --token-file, else $STEMLOOM_TOKEN."""
    return (args.token or getattr(args, "token_from_file", None)
            or os.environ.get(TOKEN_ENV, "").strip())


def connect(args: argparse.Namespace) -> EngineClient:
    """A client for the engine named by the common options."""
    host, port = parse_address(args.engine)
    return EngineClient(host, port, transport=args.transport, token=engine_token(args),
                        client_id=user_client_id(), timeout=args.timeout)


def fail(message: str, code: int = 2) -> int:
    """Print an error for the user and return ``code``."""
    print(f"stemloom: {message}", file=sys.stderr)
    return code
