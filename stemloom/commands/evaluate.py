"""``stemloom eval``: evaluation suites register here as the models that need them land."""

from __future__ import annotations

import argparse
import json


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``eval`` and its suites (codec now; MuLan and the generator later)."""
    parser = commands.add_parser(
        "eval",
        help="evaluate models (codec, mulan, generate, melody)",
        description="Evaluation suites arrive with their models.",
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="SUITE")
    parser.set_defaults(func=lambda args: _nothing_yet(parser))
    codec = sub.add_parser(
        "codec", help="the codec beside Opus at equal bitrate (log-mel distance, SI-SDR)",
        description="Held-out corpus clips and real recordings, coded by the codec and by "
        "ffmpeg's libopus at the same bitrate.")
    codec.add_argument("--weights", help="codec weights (default: the shipped codec)")
    codec.add_argument("--corpus", default="/tmp/corpus",
                       help="corpus whose validation/test splits to use (default: %(default)s)")
    codec.add_argument("--clips", type=int, default=32, help="held-out clips (default: "
                       "%(default)s)")
    codec.add_argument("--seconds", type=float, default=5.0, help="seconds per clip")
    codec.add_argument("--json", action="store_true", help="print JSON only")
    codec.set_defaults(func=_codec)
    mulan = sub.add_parser(
        "mulan", help="MuLan: text->audio retrieval among 100 held-out clips, attribute probes",
        description="Retrieval with held-out template captions and with hand-written captions "
        "worded unlike the templates, and linear probes (tempo, key, genre, instruments).")
    mulan.add_argument("--config", default="configs/mulan.toml",
                       help="the training config naming the corpus and caches")
    mulan.add_argument("--weights", help="MuLan weights folder (default: the shipped one)")
    mulan.add_argument("--json", action="store_true", help="print JSON only")
    mulan.set_defaults(func=_mulan)


def _codec(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.codec.evaluate import evaluate

    report = evaluate(args.weights and Path(args.weights), Path(args.corpus),
                      count=args.clips, seconds=args.seconds)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, result in report["sets"].items():
        print(f"[{name}]")
        for key, value in result.items():
            print(f"  {key:<28} {value}")
    return 0


def _mulan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.mulan.evaluate import evaluate

    report = evaluate(Path(args.config), args.weights and Path(args.weights))
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def _nothing_yet(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
