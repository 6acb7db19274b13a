"""``stemloom engine serve``: run the generation engine's OSC server."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bridge.listener import DEFAULT_PORT, is_loopback
from stemloom.commands.common import TOKEN_ENV, default_library, fail


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``engine`` and its subcommands."""
    engine = commands.add_parser("engine", help="run the generation engine")
    sub = engine.add_subparsers(dest="engine_command", metavar="SUBCOMMAND", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve generation requests over OSC",
        description="Serve the protocol (docs/protocol.md; version 3, v1 and v2 clients served "
        "unchanged) over UDP, and TCP with SLIP framing when --tcp-port is given; over TCP, "
        "files travel in the protocol, so hosts on other machines need no shared disk. Off "
        f"loopback a token is required: --token-file, the {TOKEN_ENV} environment variable, "
        "or --token.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="UDP port")
    serve.add_argument("--tcp-port", type=int, default=None, help="also listen on TCP (SLIP)")
    serve.add_argument(
        "--token", default="",
        help="shared secret clients must send (visible to other users in the process list: "
        f"prefer --token-file or the {TOKEN_ENV} environment variable)",
    )
    serve.add_argument(
        "--token-file", type=Path, default=None, metavar="FILE",
        help="read the shared secret from FILE (its first line)",
    )
    serve.add_argument(
        "--library",
        type=Path,
        default=None,
        help="folder for finished clips (default: the user data folder)",
    )
    serve.add_argument(
        "--model",
        default="default",
        help="'default' (the shipped trained model), a generator folder, or 'random-tiny' "
        "(untrained, tests only)",
    )
    serve.add_argument(
        "--input-folder", dest="input_folders", type=Path, action="append", default=None,
        metavar="DIR",
        help="a folder whose files requests may name as melody, reference or continue_from "
        "(repeatable; links out of it are not followed). Besides the clip library, the "
        "default is your home folder and the temp folder on loopback and none off loopback; "
        "giving any replaces that default",
    )
    serve.add_argument("--queue-size", type=int, default=8, help="jobs that may wait at once")
    serve.add_argument(
        "--client-queue-size", type=int, default=None, metavar="N",
        help="jobs one client may have waiting at once (default: the whole queue); waiting "
        "jobs start in turns by client either way")
    serve.add_argument("--workers", type=int, default=1, help="jobs generated at once")
    serve.add_argument(
        "--max-batch", type=int, default=1, metavar="N",
        help="jobs of the same length and sampling settings one worker generates together as "
        "one batch, each with its own seed, previews and cancel (default: %(default)s, off; "
        "measured 19-31 %% less wall time for 2-4 jobs on a 2-core CPU, not yet on a GPU: "
        "see docs/remote.md)")
    serve.add_argument(
        "--device", default="auto", metavar="auto|cpu|cuda[:N]",
        help="where to generate: auto (a GPU when present and the model supports one, else "
        "the CPU), cpu, or cuda / cuda:N (default: %(default)s)")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        token = _token(args)
    except ValueError as exc:
        return fail(str(exc))
    from engine.server.device import DeviceError, check_device

    try:
        check_device(args.device)
    except DeviceError as exc:
        return fail(str(exc))
    if args.client_queue_size is not None and args.client_queue_size < 1:
        return fail("--client-queue-size must be 1 or more")
    if args.max_batch < 1:
        return fail("--max-batch must be 1 or more")
    if not token and not is_loopback(args.host):
        return fail(f"listening on {args.host} (not loopback) needs a shared token: "
                    f"--token-file FILE or the {TOKEN_ENV} environment variable")
    from engine.server.main import serve  # imports the engine only when serving

    try:
        return serve(
            host=args.host,
            udp_port=args.port,
            tcp_port=args.tcp_port,
            token=token,
            library=args.library or default_library(),
            model=args.model,
            queue_size=args.queue_size,
            client_queue_size=args.client_queue_size,
            workers=args.workers,
            input_folders=_input_folders(args),
            device=args.device,
            max_batch=args.max_batch,
        )
    except OSError as exc:  # the port is taken, the address is not this machine's, ...
        return fail(f"cannot serve on {args.host}: {exc.strerror or exc}")


def _input_folders(args: argparse.Namespace) -> list[Path]:
    """The folders inputs may be read from besides the library: those given, else the home
    and temp folders for a loopback engine (a producer's takes and MIDI clips live anywhere
    in home; DAWs and tools export clips to temp) and none for one other machines reach
    (they send files that are already in the library)."""
    if args.input_folders is not None:
        return [folder.expanduser().absolute() for folder in args.input_folders]
    return [Path.home(), Path(tempfile.gettempdir())] if is_loopback(args.host) else []


def _token(args: argparse.Namespace) -> str:
    """The shared token: --token, else --token-file's first line, else $STEMLOOM_TOKEN."""
    if args.token and args.token_file:
        raise ValueError("give --token or --token-file, not both")
    if args.token_file is not None:
        try:
            text = args.token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ValueError(f"cannot read the token file {args.token_file}: {reason}") from None
        token = text.splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise ValueError(f"the token file {args.token_file} is empty")
        return token
    return args.token or os.environ.get(TOKEN_ENV, "").strip()
