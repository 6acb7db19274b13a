"""`python -m engine.corpus build|stats|ingest ...`: the corpus commands without the main CLI."""

import argparse
import sys

from engine.corpus.cli import add_commands


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` and run the chosen corpus command."""
    parser = argparse.ArgumentParser(prog="python -m engine.corpus")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["corpus", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
