"""The ``stemloom`` command line. Each command lives in ``stemloom.commands``; heavy imports
(torch, the engine) happen inside the command that needs them, so ``stemloom --help`` and the
host commands start fast."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

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
    parser.add_argument("--args-from", metavar="FILE", help=ARGS_FROM_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (engine, generate, presets, host, doctor, bench, evaluate, train, codec, studio):
        module.add_commands(commands)
    _add_corpus(commands)
    _add_data(commands)
    return parser


def _add_corpus(commands: argparse._SubParsersAction) -> None:
    try:
        from engine.corpus.cli import add_commands
    except ImportError:  # the engine extra is not installed: the host-only CLI
        return
    add_commands(commands)


def _add_data(commands: argparse._SubParsersAction) -> None:
    try:
        from engine.data.cli import add_commands
    except ImportError:  # the engine package is not installed: the host-only CLI
        return
    add_commands(commands)


ARGS_FROM_HELP = ("read the rest of the command line from FILE, a JSON list of strings: "
                  "for DAW scripts whose process call runs no shell, so a prompt with quotes "
                  "never has to survive a command line")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--args-from"] and len(argv) == 2:
        try:
            argv = _read_argument_file(Path(argv[1]))
        except (OSError, ValueError) as error:
            print(f"stemloom: cannot read the arguments in {argv[1]}: {error}",
                  file=sys.stderr)
            return 2
    args = build_parser().parse_args(argv)
    if args.args_from is not None:
        print("stemloom: --args-from comes first and alone: stemloom --args-from FILE",
              file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _read_argument_file(path: Path) -> list[str]:
    """The arguments a JSON file holds (a list of strings); ValueError for anything else."""
    arguments = json.loads(path.read_text(encoding="utf-8"))
    if not (isinstance(arguments, list) and all(isinstance(a, str) for a in arguments)):
        raise ValueError("not a JSON list of strings")
    if arguments[:1] == ["--args-from"]:
        raise ValueError("an argument file cannot name another")
    return arguments
