"""The ``stemloom`` command line. Each command lives in ``stemloom.commands``; heavy imports
(torch, the engine) happen inside the command that needs them, so ``stemloom --help`` and the
host commands start fast."""

from __future__ import annotations

import argparse
import logging
import sys

from stemloom import __version__
from stemloom.commands import (
    bench,
    codec,
    doctor,
    engine,
    evaluate,
    generate,
    host,
    presets,
    studio,
    train,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="stemloom",
        description="Generated, tempo-locked stems for your DAW: prompt in, clips on tracks.",
        epilog="Run 'stemloom COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"stemloom {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (engine, generate, presets, host, doctor, bench, evaluate, train, codec, studio):
        module.add_commands(commands)
    _add_corpus(commands)
    return parser


def _add_corpus(commands: argparse._SubParsersAction) -> None:
    try:
        from engine.corpus.cli import add_commands
    except ImportError:  # the engine extra is not installed: the host-only CLI
        return
    add_commands(commands)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
