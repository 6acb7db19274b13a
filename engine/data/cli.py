"""`stemloom data fetch | list | prepare-recordings | label-eval`: real music from Debian
packages, on the command line.

Importing this module stays light (argparse only); the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.data.lmms import ProjectResult
    from engine.data.modules import ModuleResult
    from engine.data.sources import Source


def _default_dest() -> Path:
    from platformdirs import user_data_path

    return user_data_path("stemloom", appauthor=False) / "debian-data"


def _load(args: argparse.Namespace) -> dict[str, Source] | None:
    from engine.data.sources import SourceTableError, load_sources

    try:
        return load_sources(args.sources)
    except SourceTableError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def cmd_list(args: argparse.Namespace) -> int:
    """Print the source table and the reserved sources."""
    from engine.data.reserved import RESERVED_MESSAGE, reserved_listing

    sources = _load(args)
    if sources is None:
        return 2
    if getattr(args, "json", False):
        rows = [{"name": s.name, "kind": s.kind, "hours": s.hours, "licence": s.licence,
                 "keep": list(s.keep), "pk3": s.pk3, "notes": s.notes, "reserved": False}
                for s in sources.values()]
        rows += [{"name": n, "reserved": True} for n in reserved_listing()]
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'package':30} {'kind':11} {'hours':>6}  licence")
    total = 0.0
    for source in sources.values():
        hours = "?" if source.hours is None else f"{source.hours:.2f}"
        total += source.hours or 0.0
        note = f"  [{source.notes}]" if source.notes else ""
        print(f"{source.name:30} {source.kind:11} {hours:>6}  {source.licence}{note}")
    print(f"{len(sources)} sources, {total:.1f} h measured")
    print()
    for name in reserved_listing():
        print(f"{name:30} {RESERVED_MESSAGE}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch packages: 0 when all are complete, 1 when some failed, 2 for a refused request."""
    if args.list:
        return cmd_list(args)
    from engine.data.fetch import (
        FetchError,
        PackageReport,
        ToolMissing,
        check_request,
        fetch,
        local_downloader,
    )
    from engine.data.reserved import ReservedSourceError, refuse_reserved

    if bool(args.packages) == bool(args.all):
        print("error: name packages or give --all (see 'stemloom data list')", file=sys.stderr)
        return 2
    # Reserved names are refused first: before the table is read, before any download.
    for name in args.packages:
        try:
            refuse_reserved(name)
        except ReservedSourceError as error:
            print(f"error: refused: {error}", file=sys.stderr)
            return 2
    sources = _load(args)
    if sources is None:
        return 2
    try:
        chosen = check_request(args.packages if args.packages else list(sources), sources)
    except KeyError as error:
        print(f"error: not in the source table: {error.args[0]} (see 'stemloom data list'; "
              "--sources FILE names another table)", file=sys.stderr)
        return 2
    if args.from_debs is not None:
        if not args.from_debs.is_dir():
            print(f"error: {args.from_debs} is not a folder", file=sys.stderr)
            return 2
        download = local_downloader(args.from_debs)
    else:
        download = None
    dest: Path = args.dest if args.dest is not None else _default_dest()
    cache: Path = args.cache if args.cache is not None else dest / ".cache"

    def progress(report: PackageReport) -> None:
        if report.status == "failed":
            print(f"{report.package}: failed: {report.error}", file=sys.stderr)
        elif report.status == "fetched":
            print(f"{report.package}: {report.files} files, {report.bytes / 1e6:.1f} MB "
                  f"in {report.seconds:.1f} s"
                  + (f" ({len(report.rejected)} archive entries rejected)"
                     if report.rejected else ""))
        else:
            print(f"{report.package}: {report.status}")

    try:
        reports = fetch(chosen, dest, cache, download, force=args.force, progress=progress)
    except ToolMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except FetchError as error:  # pragma: no cover - fetch() reports these per package
        print(f"error: {error}", file=sys.stderr)
        return 1
    failed = [r for r in reports if r.status == "failed"]
    print(f"manifest: {dest / 'manifest.jsonl'}")
    return 1 if failed else 0


def cmd_prepare_modules(args: argparse.Namespace) -> int:
    """Render fetched tracker modules into multi-stem corpus shards, or score the mapping."""
    from engine.data.module_labels import LabelError, load_labels, score
    from engine.data.modules import CHANNELS_FILE, MIN_SECONDS, WINDOW_SECONDS, prepare_modules

    out: Path = args.out
    if args.score is not None:
        try:
            scores = score(load_labels(args.score), out / CHANNELS_FILE)
        except (LabelError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print("\n\n".join(s.table() for s in scores))
        return 0
    data: Path = args.data if args.data is not None else _default_dest()
    if not (data / "manifest.jsonl").is_file():
        print(f"error: {data} holds no fetched data (run 'stemloom data fetch "
              "tecnoballz-data ... --dest DIR' first)", file=sys.stderr)
        return 2
    window = WINDOW_SECONDS if args.window is None else args.window
    if not window >= MIN_SECONDS:
        print(f"error: --window must be at least {MIN_SECONDS:g} seconds", file=sys.stderr)
        return 2

    def progress(r: ModuleResult) -> None:
        families = ", ".join(f"{f} {len(c)}" for f, c in r.families.items())
        detail = (f"{r.channels} ch, {r.seconds:.0f} s, residual {r.residual_db:.0f} dB, "
                  f"{families}; {r.examples} examples ({r.why})" if r.status == "written"
                  else r.why)
        print(f"{r.package} {Path(r.path).name}: {r.status}" + (f": {detail}" if detail
                                                                   else ""))

    from engine.data.libxmp import LibxmpMissing

    try:
        results = prepare_modules(data, out, args.packages or None, seed=args.seed,
                                  window_seconds=window, force=args.force,
                                  progress=progress)
    except LibxmpMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    written = [r for r in results if r.status == "written"]
    print(f"{len(written)} modules written, "
          f"{sum(r.status == 'already done' for r in results)} already done, "
          f"{sum(r.status == 'skipped' for r in results)} skipped; corpus: {out}")
    return 0


def cmd_prepare_abc(args: argparse.Namespace) -> int:
    """Turn the tunes of a fetched folder's .abc files into MIDI files the corpus reads."""
    from engine.data.abc_tunes import AbcError, convert

    if not (args.dest / "manifest.jsonl").is_file():
        print(f"error: {args.dest} has no manifest.jsonl: run 'stemloom data fetch abcmidi "
              f"--dest {args.dest}' first", file=sys.stderr)
        return 2
    try:
        report = convert(args.dest)
    except AbcError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not report.sources:
        print(f"error: the manifest of {args.dest} lists no .abc file: run 'stemloom data "
              f"fetch abcmidi --dest {args.dest}' first", file=sys.stderr)
        return 2
    for line in report.skipped:
        print(f"skipped {line}")
    print(json.dumps({"midi_files": sum(report.by_meter.values()), "by_meter": report.by_meter,
                      "skipped": len(report.skipped)}))
    return 0


def cmd_prepare_lmms(args: argparse.Namespace) -> int:
    """Render LMMS's demo projects track by track into multi-stem shards, or score the
    track mapping."""
    from engine.data.lmms import TRACKS_FILE, LmmsMissing, prepare_lmms, score_tracks
    from engine.data.module_labels import LabelError, load_labels
    from engine.data.modules import MIN_SECONDS, WINDOW_SECONDS

    out: Path = args.out
    if args.score is not None:
        if not (out / TRACKS_FILE).is_file():
            print(f"error: {out} holds no {TRACKS_FILE}: run 'stemloom data prepare-lmms "
                  f"--out {out}' first", file=sys.stderr)
            return 2
        try:
            scores = score_tracks(load_labels(args.score), out / TRACKS_FILE)
        except (LabelError, OSError, KeyError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print("\n\n".join(s.table() for s in scores))
        return 0
    window = WINDOW_SECONDS if args.window is None else args.window
    if not window >= MIN_SECONDS:
        print(f"error: --window must be at least {MIN_SECONDS:g} seconds", file=sys.stderr)
        return 2
    if not args.projects.is_dir():
        print(f"error: {args.projects} is not a folder (LMMS's demo projects come with "
              "Debian's lmms-common: run scripts/install-system-deps)", file=sys.stderr)
        return 2

    def progress(r: ProjectResult) -> None:
        families = ", ".join(f"{f} {len(t)}" for f, t in r.families.items())
        detail = (f"{r.tracks} tracks, {r.seconds:.0f} s, residual {r.residual_db:.1f} dB, "
                  f"{families}; {r.examples} examples, {r.split}, rendered in "
                  f"{r.render_seconds:.0f} s" if r.status == "written" else r.why)
        print(f"{r.path}: {r.status}" + (f": {detail}" if detail else ""), flush=True)

    try:
        results = prepare_lmms(args.projects, out, args.only or None, seed=args.seed,
                               window_seconds=window, force=args.force, progress=progress)
    except LmmsMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{sum(r.status == 'written' for r in results)} projects written, "
          f"{sum(r.status == 'already done' for r in results)} already done, "
          f"{sum(r.status == 'skipped' for r in results)} skipped; corpus: {out}")
    return 0


def cmd_prepare_recordings(args: argparse.Namespace) -> int:
    """Decode, window, normalise and label fetched recordings into corpus shards."""
    from engine.data.recordings import PackageSummary, prepare
    from engine.data.reserved import ReservedSourceError, refuse_reserved

    try:
        for name in args.packages:
            refuse_reserved(name)
    except ReservedSourceError as error:
        print(f"error: refused: {error}", file=sys.stderr)
        return 2
    if not (args.data / "manifest.jsonl").is_file():
        print(f"error: {args.data} has no manifest.jsonl: fetch first ('stemloom data "
              "fetch ... --dest DATA')", file=sys.stderr)
        return 2

    def progress(s: PackageSummary) -> None:
        if s.status == "no music":
            print(f"{s.package}: no music files in the manifest", file=sys.stderr)
            return
        print(f"{s.package}: {s.status}: {s.split}, {s.files} files ({s.file_hours:.2f} h), "
              f"{s.windows} windows, {s.silent_windows} near-silent skipped, "
              f"{s.shard_bytes / 1e6:.1f} MB, {s.wall_seconds:.0f} s"
              + "".join(f"\n  problem: {p}" for p in s.problems))

    try:
        summaries = prepare(args.data, args.out, args.packages or None, seed=args.seed,
                            progress=progress)
    except ReservedSourceError as error:
        print(f"error: refused: {error}", file=sys.stderr)
        return 2
    missing = [s.package for s in summaries if s.status == "no music"]
    print(f"corpus: {args.out / 'manifest.json'}")
    return 1 if missing and args.packages else 0


def cmd_label_eval(args: argparse.Namespace) -> int:
    """Check the labeller against a corpus with known tempo, meter and key."""
    from engine.data.label_eval import evaluate_corpus

    try:
        rows, summary = evaluate_corpus(args.corpus, args.split, args.limit)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.rows is not None:
        args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(json.dumps(summary, indent=1))
    return 0


def cmd_prepare_fof(args: argparse.Namespace) -> int:
    """Fetch the Frets on Fire songs if absent, write them as multi-stem shards and score the
    labeller against their charts: 0 when every song was written or already done, 1 when a
    song was skipped or a fetch failed, 2 for a refused request."""
    from engine.data.fetch import FetchError, local_downloader
    from engine.data.fof import FofError, SongResult, calibration, ensure_fetched, prepare_fof

    data: Path = args.data if args.data is not None else _default_dest()
    if args.from_debs is not None and not args.from_debs.is_dir():
        print(f"error: {args.from_debs} is not a folder", file=sys.stderr)
        return 2
    download = local_downloader(args.from_debs) if args.from_debs is not None else None
    try:
        fetched = ensure_fetched(data, download=download)
    except FetchError as error:  # apt-get or dpkg-deb missing
        print(f"error: {error}", file=sys.stderr)
        return 2
    for report in fetched:
        print(f"{report.package}: {report.status}"
              + (f": {report.error}" if report.error else f", {report.files} files"))

    def progress(r: SongResult) -> None:
        detail = (f"{r.seconds:.0f} s, bpm {r.bpm}, {r.meter}, delay {r.delay_ms:g} ms, "
                  f"{r.examples} examples ({r.why})" if r.status == "written" else r.why)
        print(f"{r.package} {Path(r.folder).name}: {r.status}"
              + (f": {detail}" if detail else ""))

    try:
        results = prepare_fof(data, args.out, seed=args.seed, force=args.force,
                              progress=progress)
    except FofError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not results:
        print(f"error: {data} holds no Frets on Fire song", file=sys.stderr)
        return 1
    try:
        _rows, summary = calibration(args.out)
    except FofError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "per_song"}, indent=1))
    skipped = [r for r in results if r.status == "skipped"]
    print(f"{sum(r.status == 'written' for r in results)} songs written, "
          f"{sum(r.status == 'already done' for r in results)} already done, "
          f"{len(skipped)} skipped; corpus: {args.out}")
    return 1 if skipped or any(r.status == "failed" for r in fetched) else 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command and its subcommands to a CLI's subparsers."""
    data = subparsers.add_parser(
        "data", help="fetch real music from Debian packages (no game is installed)")
    commands = data.add_subparsers(dest="data_command", required=True)

    fetch = commands.add_parser(
        "fetch", help="download and unpack packages' music into a data folder",
        description="apt-get download + dpkg-deb -x each package (nothing is installed), "
                    "keep its music files (.pk3 zips unpacked) under DEST/PACKAGE/ and "
                    "record every file's package, licence line and sha256 in "
                    "DEST/manifest.jsonl. Idempotent and resumable: a rerun skips complete "
                    "packages and redoes half-done ones. The packages reserved for "
                    "evaluation are refused (exit 2) before anything is downloaded.")
    fetch.add_argument("packages", nargs="*", metavar="PACKAGE",
                       help="packages of the source table")
    fetch.add_argument("--all", action="store_true", help="every package of the source table")
    fetch.add_argument("--dest", type=Path,
                       help="data folder (default: the user data folder's debian-data/)")
    fetch.add_argument("--cache", type=Path, help="where .debs are kept (default DEST/.cache)")
    fetch.add_argument("--from-debs", type=Path, metavar="DIR",
                       help="take PACKAGE_*.deb from DIR instead of apt-get download")
    fetch.add_argument("--sources", type=Path, metavar="TOML",
                       help="another source table (default: the one shipped)")
    fetch.add_argument("--force", action="store_true", help="redo complete packages too")
    fetch.add_argument("--list", action="store_true",
                       help="show the sources, hours and licences, then stop")
    fetch.set_defaults(func=cmd_fetch)

    listing = commands.add_parser("list", help="show the sources, hours, licences and the "
                                               "reserved packages")
    listing.add_argument("--sources", type=Path, metavar="TOML", help="another source table")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    prepare = commands.add_parser(
        "prepare-recordings", help="decode, window, normalise and label fetched recordings "
                                   "into corpus shards",
        description="Each package's music files are decoded once to 32 kHz stereo, cut "
                    "into 15 s windows (near-silent ones skipped), normalised to -16 LUFS "
                    "(peak-safe), labelled with tempo, beats, meter and key (each with a "
                    "confidence) and written as mix.flac examples of the corpus format. "
                    "pushover-data and openclonk-data, whole, are the test split. A package "
                    "already prepared with the same files and settings is skipped.")
    prepare.add_argument("packages", nargs="*", metavar="PACKAGE",
                         help="only these packages (default: every fetched one)")
    prepare.add_argument("--data", type=Path, required=True,
                         help="the folder 'stemloom data fetch --dest' filled")
    prepare.add_argument("--out", type=Path, required=True, help="the corpus folder")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the validation draw")
    prepare.set_defaults(func=cmd_prepare_recordings)

    evaluate = commands.add_parser(
        "label-eval", help="check the tempo/meter/key labeller on a corpus with known labels")
    evaluate.add_argument("corpus", type=Path, help="a corpus whose examples carry bpm, "
                                                    "meter and key_name (rendered ones)")
    evaluate.add_argument("--split", default=None, help="one split (default: all)")
    evaluate.add_argument("--limit", type=int, default=None, help="at most this many")
    evaluate.add_argument("--rows", type=Path, default=None,
                          help="also write one JSON row per example here")
    evaluate.set_defaults(func=cmd_label_eval)

    modules = commands.add_parser(
        "prepare-modules", help="render fetched tracker modules into multi-stem corpus shards",
        description="Render each fetched module (kind 'modules') whole and one channel at a "
                    "time with libxmp at 32 kHz stereo, map channels to stem families "
                    "(drums, bass, keys, guitar, strings, pad, lead), sum each family into "
                    "a stem and write windows as corpus examples (one shard per module; "
                    "done shards are skipped). See docs/data.md.")
    modules.add_argument("--data", type=Path,
                         help="the fetched data folder (default: as for 'data fetch')")
    modules.add_argument("--out", type=Path, required=True, help="the corpus folder")
    modules.add_argument("--package", dest="packages", action="append", metavar="PACKAGE",
                         help="only this package (repeatable)")
    modules.add_argument("--window", type=float, metavar="SECONDS",
                         help="example length (default 15, as for recordings)")
    modules.add_argument("--seed", type=int, default=0, help="split draw seed")
    modules.add_argument("--force", action="store_true", help="redo modules already done")
    modules.add_argument("--score", type=Path, metavar="LABELS",
                         help="only score the channel mapping of OUT against hand labels")
    modules.set_defaults(func=cmd_prepare_modules)

    fof = commands.add_parser(
        "prepare-fof", help="Frets on Fire songs into multi-stem shards with chart labels",
        description="Fetch fretsonfire-songs-muldjord and -sectoid into DATA when absent, "
                    "then write each song as 15 s multi-stem windows (guitar.ogg -> guitar, "
                    "rhythm.ogg -> guitar or bass, song.ogg -> a 'backing' stem; mix.flac "
                    "is exactly their sum) labelled with tempo, beats, downbeats and meter "
                    "from notes.mid (shifted by song.ini's delay) and the key from the "
                    "labeller; then score the labeller against the charts "
                    "(OUT/fof-calibration.json). Done songs are skipped.")
    fof.add_argument("--data", type=Path,
                     help="the fetched data folder (default: as for 'data fetch')")
    fof.add_argument("--out", type=Path, required=True, help="the corpus folder")
    fof.add_argument("--from-debs", type=Path, metavar="DIR",
                     help="take PACKAGE_*.deb from DIR instead of apt-get download")
    fof.add_argument("--seed", type=int, default=0, help="split draw seed")
    fof.add_argument("--force", action="store_true", help="redo songs already done")
    fof.set_defaults(func=cmd_prepare_fof)

    lmms = commands.add_parser(
        "prepare-lmms", help="render LMMS's demo projects track by track into multi-stem "
                             "corpus shards",
        description="Render each LMMS project whole and track by track, headless (lmms "
                    "render / rendertracks), map tracks to stem families (by track name, "
                    "sample file, beat+bassline names, instrument plugin, then sound), sum "
                    "each family into a stem and write 15 s windows as corpus examples with "
                    "the project's tempo and meter (one shard per project; done shards are "
                    "skipped). Needs lmms: scripts/install-system-deps.")
    lmms.add_argument("--projects", type=Path, default=Path("/usr/share/lmms/projects"),
                      help="folder of .mmp/.mmpz projects (default: lmms-common's)")
    lmms.add_argument("--out", type=Path, required=True, help="the corpus folder")
    lmms.add_argument("--only", action="append", metavar="TEXT",
                      help="only projects whose path contains TEXT (repeatable)")
    lmms.add_argument("--window", type=float, metavar="SECONDS",
                      help="example length (default 15, as for recordings)")
    lmms.add_argument("--seed", type=int, default=0, help="split draw seed")
    lmms.add_argument("--force", action="store_true", help="redo projects already done")
    lmms.add_argument("--score", type=Path, metavar="LABELS",
                      help="only score the track mapping of OUT against hand labels")
    lmms.set_defaults(func=cmd_prepare_lmms)

    abc = commands.add_parser(
        "prepare-abc", help="turn fetched ABC tunes into MIDI files for the melody bank",
        description="Convert every tune (one per X: field) of the .abc files in a 'data "
                    "fetch' folder's manifest, in 4/4, 3/4 or 6/8, into its own MIDI file "
                    "with abc2midi (scripts/install-system-deps installs it), listed in the "
                    "manifest with where it came from. Rerun after re-fetching.")
    abc.add_argument("dest", type=Path, help="a 'stemloom data fetch' folder")
    abc.set_defaults(func=cmd_prepare_abc)
