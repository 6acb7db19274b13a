"""``stemloom studio``: the studio window (prompt, hum, jobs, preview, drag into a DAW)."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable

from platformdirs import user_data_path

from stemloom.commands.common import (
    add_engine_address,
    default_library,
    engine_token,
    fail,
    parse_address,
)
from stemloom.local_engine import LocalEngine


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``studio``."""
    parser = commands.add_parser(
        "studio",
        help="open the studio window",
        description="A window to write prompts, hum a melody, follow jobs, preview stems, "
        "drag them into any DAW or send them to a DAW session. Needs PySide6.",
    )
    parser.add_argument("--daw", default=None, help="DAW adapter to preselect, e.g. dawproject")
    parser.add_argument("--dest", default=None,
                        help="its session folder or project file (none for a running DAW)")
    parser.add_argument("--model", default="default",
                        help="model for an engine started from the window (default: %(default)s)")
    parser.add_argument("--input-device", default=None,
                        help="audio input for hums: index or (part of) its name")
    parser.add_argument("--output-device", default=None,
                        help="audio output for previews and the count-in")
    add_engine_address(parser)
    parser.set_defaults(func=_studio)


def _studio(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("PySide6") is None:
        return fail("the studio needs PySide6: pip install PySide6-Essentials")
    from plugin_host.daw import LIVE_DAWS, adapter_names
    from plugin_host.placement import default_clips_root
    from plugin_host.studio.app import run
    from plugin_host.studio.settings import StudioSettings

    if args.dest and not args.daw:
        return fail("--dest needs --daw (the adapter that opens it)")
    if args.daw and args.daw not in adapter_names():
        return fail(f"unknown --daw {args.daw!r}; known: {', '.join(adapter_names())}")
    if args.daw and not args.dest and args.daw not in LIVE_DAWS:
        return fail(f"--daw {args.daw} needs --dest (its session folder or project file)")
    host, port = parse_address(args.engine)
    data = user_data_path("stemloom", appauthor=False)
    settings = StudioSettings(
        host=host, port=port, transport=args.transport, token=engine_token(args),
        timeout=args.timeout, daw=args.daw, dest=args.dest,
        journal=data / "studio-jobs.json",
        clips_root=default_clips_root(),
        hum_folder=data / "hums",
        start_engine=_engine_starter(host, port, args),
        engine_command=f"stemloom engine serve --port {port}",
        input_device=_device(args.input_device), output_device=_device(args.output_device),
    )
    try:
        return run(settings)
    except ValueError as error:  # an unreadable job journal, said before any window shows
        return fail(str(error))


def _engine_starter(host: str, port: int,
                    args: argparse.Namespace) -> Callable[[], LocalEngine] | None:
    """A callable that starts a local engine at ``port``, or None when this install cannot
    (no engine extra, or the engine is on another machine)."""
    local = host in ("127.0.0.1", "localhost") and args.transport == "udp"
    if not local or importlib.util.find_spec("torch") is None:
        return None

    def start() -> LocalEngine:
        engine = LocalEngine(default_library(), model=args.model, udp_port=port)
        engine.start()
        return engine

    return start


def _device(choice: str | None) -> int | str | None:
    """A device index when ``choice`` is a number, else (part of) a device name, or None."""
    return int(choice) if choice is not None and choice.isdigit() else choice
