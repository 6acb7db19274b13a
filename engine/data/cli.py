"""`stemloom data fetch | list`: real music from Debian packages, on the command line.

Importing this module stays light (argparse only); the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
