"""`stemloom corpus build | stats | ingest`: the corpus factory on the command line.

Importing this module stays light (argparse only); the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Spelled out rather than imported from fluid.py, which would pull numpy into every CLI start.
DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
V2_PACKAGES = ("musescore-general-soundfont csound-soundfont timgm6mb-soundfont opl3-soundfont "
               "hydrogen-drumkits hydrogen-data avldrums.lv2-soundfont guitarix-common")
MMA_PACKAGES = "mma planetblupi-music-midi freedink-data abcmidi"


def _fractions(text: str) -> tuple[float, float, float]:
    parts = [float(x) for x in text.split(",")]
    if len(parts) != 3 or abs(sum(parts) - 1.0) > 1e-6 or min(parts) < 0:
        raise argparse.ArgumentTypeError("give three fractions that sum to 1, e.g. 0.9,0.05,0.05")
    return parts[0], parts[1], parts[2]


def cmd_build(args: argparse.Namespace) -> int:
    """Build (or resume) a synthetic corpus."""
    from engine.corpus.build import build
    from engine.corpus.fluid import FluidSynthMissing

    if args.recipe != "v1" and args.instruments is None:
        print(f"error: --recipe {args.recipe} needs --instruments DIR, the folder filled by\n"
              f"  stemloom data fetch {V2_PACKAGES} --dest DIR", file=sys.stderr)
        return 2
    if args.recipe == "mma" and args.midi is None:
        print(f"error: --recipe mma needs --midi DIR, the folder filled by\n"
              f"  stemloom data fetch {MMA_PACKAGES} --dest DIR\n"
              f"  stemloom data prepare-abc DIR", file=sys.stderr)
        return 2
    try:
        report = build(Path(args.out), examples=args.examples, hours=args.hours, seed=args.seed,
                       soundfont=args.soundfont, workers=args.workers,
                       shard_size=args.shard_size, fractions=args.splits, bits=args.bits,
                       progress=not args.quiet, recipe=args.recipe,
                       instruments=args.instruments, allow_missing=args.allow_missing,
                       store_mix=args.store_mix, midi=args.midi)
    except (FileNotFoundError, FluidSynthMissing, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {report.examples} examples ({report.seconds / 3600:.3f} h of audio) in "
          f"{report.wall:.1f} s: {report.realtime:.1f}x real time; "
          f"{report.skipped_shards} shard(s) were already done")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the balance of a corpus."""
    from engine.corpus.stats import corpus_stats, format_stats, stats_json

    if not (Path(args.dir) / "manifest.json").is_file():
        print(f"error: {args.dir} has no manifest.json (not a corpus)", file=sys.stderr)
        return 2
    print(stats_json(Path(args.dir)) if args.json else format_stats(corpus_stats(Path(args.dir))))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print how corpora (and recordings) measure, side by side, and their balance."""
    from engine.corpus.compare import (
        balance_row,
        corpus_mixes,
        format_balance,
        format_table,
        measure,
        recording_windows,
        summarise,
    )

    for folder in args.corpora:
        if not (Path(folder) / "manifest.json").is_file():
            print(f"error: {folder} has no manifest.json (not a corpus)", file=sys.stderr)
            return 2
    if args.recordings is not None and not Path(args.recordings).is_dir():
        print(f"error: {args.recordings} is not a folder", file=sys.stderr)
        return 2
    columns = {Path(f).name: summarise([measure(m) for m in corpus_mixes(Path(f), args.n,
                                                                         args.seed)])
               for f in args.corpora}
    if args.recordings is not None:
        columns["recordings"] = summarise([measure(w) for w in recording_windows(
            Path(args.recordings), args.n, args.seed)])
    print(format_table(columns))
    print()
    print(format_balance({Path(f).name: balance_row(Path(f)) for f in args.corpora}))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest a folder of the user's audio and captions; 1 when some files were skipped."""
    from engine.corpus.ingest import ingest

    if not Path(args.folder).is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return 2
    report = ingest(Path(args.folder), Path(args.out), table=args.captions, seed=args.seed,
                    shard_size=args.shard_size, fractions=args.splits)
    print(report.summary())
    return 1 if report.problems else 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the `corpus` command and its subcommands to a CLI's subparsers."""
    corpus = subparsers.add_parser("corpus", help="make, inspect and import training data")
    commands = corpus.add_subparsers(dest="corpus_command", required=True)

    build = commands.add_parser("build", help="compose and render a synthetic corpus")
    build.add_argument("out", help="output folder (a rerun resumes it)")
    size = build.add_mutually_exclusive_group(required=True)
    size.add_argument("-n", "--examples", type=int, help="number of examples")
    size.add_argument("--hours", type=float, help="target hours of audio")
    build.add_argument("--seed", type=int, default=0, help="the corpus's seed (default 0)")
    build.add_argument("--soundfont", default=DEFAULT_SOUNDFONT, help="a GM .sf2 soundfont")
    build.add_argument("-j", "--workers", type=int, default=2, help="render processes")
    build.add_argument("--shard-size", type=int, default=16, help="examples per shard")
    build.add_argument("--splits", type=_fractions, default=(0.9, 0.05, 0.05),
                       help="train,validation,test fractions")
    build.add_argument("--bits", type=int, choices=(16, 24), default=16, help="PCM bit depth")
    build.add_argument("--recipe", choices=("v1", "v2", "mma"), default="v1",
                       help="v1: one soundfont, dry; v2: rotated GM banks, real drum kits, a "
                            "production chain and mastering, more slow/swung/6/8/drumless; "
                            "mma: v2 with MMA grooves as accompaniment and real melodies")
    build.add_argument("--midi", type=Path,
                       help=f"mma: the folder 'stemloom data fetch {MMA_PACKAGES} --dest DIR' "
                            "and 'stemloom data prepare-abc DIR' filled (MMA and the melodies' "
                            "MIDI)")
    build.add_argument("--instruments", type=Path,
                       help="v2: the folder 'stemloom data fetch ... --dest DIR' filled with the "
                            "banks and kits")
    build.add_argument("--allow-missing", action="store_true",
                       help="v2: build with the banks and kits present instead of stopping")
    build.add_argument("--store-mix", action=argparse.BooleanOptionalAction, default=None,
                       help="store each example's mix.flac (default: v1 yes, v2 no; readers "
                            "derive a missing mix as the exact sum of the stems)")
    build.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=cmd_build)

    stats = commands.add_parser("stats", help="show a corpus's balance")
    stats.add_argument("dir")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)

    compare = commands.add_parser(
        "compare", help="loudness, crest, stereo width and spectrum of corpora side by side")
    compare.add_argument("corpora", nargs="+", help="corpus folders (e.g. a v1 and a v2 build)")
    compare.add_argument("--recordings", type=Path, help="a folder of real recordings to add")
    compare.add_argument("-n", type=int, default=40, help="mixes (or windows) per source")
    compare.add_argument("--seed", type=int, default=0, help="which mixes are drawn")
    compare.set_defaults(func=cmd_compare)

    ingest = commands.add_parser("ingest", help="import your own audio with captions")
    ingest.add_argument("folder", help="folder of audio with captions.csv or captions.jsonl")
    ingest.add_argument("out", help="corpus folder to write (or add) shards to")
    ingest.add_argument("--captions", type=Path, help="captions table (.csv or .jsonl)")
    ingest.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    ingest.add_argument("--shard-size", type=int, default=16)
    ingest.add_argument("--splits", type=_fractions, default=(0.9, 0.05, 0.05))
    ingest.set_defaults(func=cmd_ingest)
