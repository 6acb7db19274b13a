"""``stemloom eval``: evaluation suites register here as the models that need them land."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``eval`` (its suites arrive with the codec, MuLan and generator)."""
    parser = commands.add_parser(
        "eval",
        help="evaluate models (codec, mulan, generate, melody)",
        description="Evaluation suites arrive with their models. None is installed yet: "
        "there is no trained model to evaluate.",
    )
    parser.add_subparsers(dest="eval_command", metavar="SUITE")
    parser.set_defaults(func=lambda args: _nothing_yet(parser))


def _nothing_yet(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
