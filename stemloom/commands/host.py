"""``stemloom host``: the DAW-side host's commands (engine status, jobs, cancel)."""

from __future__ import annotations

import argparse

from bridge.client import EngineUnreachable
from bridge.errors import ProtocolError
from bridge.messages import Done, Fail, ModelState
from stemloom.commands.common import add_engine_address, connect, fail


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``host`` and its subcommands."""
    host = commands.add_parser("host", help="the DAW-side host: talk to the engine")
    sub = host.add_subparsers(dest="host_command", metavar="SUBCOMMAND", required=True)
    status = sub.add_parser("status", help="is the engine there, and what can it do")
    status.set_defaults(func=_status)
    jobs = sub.add_parser("jobs", help="list the engine's jobs")
    jobs.set_defaults(func=_jobs)
    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=_cancel)
    job = sub.add_parser("job", help="a job's state and, once finished, its files")
    job.add_argument("job_id")
    job.set_defaults(func=_job)
    for parser in (status, jobs, cancel, job):
        add_engine_address(parser)


def _status(args: argparse.Namespace) -> int:
    try:
        with connect(args) as client:
            hello = client.hello(client="stemloom-host")
    except EngineUnreachable as exc:
        return fail(f"{exc}. Start one with 'stemloom engine serve'.")
    print(
        f"engine {hello.engine_version}, protocol {hello.protocol}, model {hello.model} "
        f"({hello.model_state}), queue {hello.queue_size}, up to {hello.max_bars} bars"
    )
    return 0 if hello.model_state in (ModelState.READY, ModelState.LOADING) else 1


def _jobs(args: argparse.Namespace) -> int:
    try:
        with connect(args) as client:
            listing = client.jobs()
    except EngineUnreachable as exc:
        return fail(str(exc))
    for job_id, state in listing.jobs.items():
        print(f"{state:<10} {job_id}")
    if listing.more:
        print(f"... and {listing.more} older")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    try:
        with connect(args) as client:
            state = client.cancel(args.job_id)
    except (EngineUnreachable, ProtocolError) as exc:
        return fail(str(exc))
    print(f"{args.job_id}: {state.state}")
    return 0


def _job(args: argparse.Namespace) -> int:
    try:
        with connect(args) as client:
            state, outcome = client.status(args.job_id)
    except (EngineUnreachable, ProtocolError) as exc:
        return fail(str(exc))
    print(f"{args.job_id}: {state.state} {state.fraction:.0%} ({state.stage})")
    if isinstance(outcome, Done):
        for name, value in outcome.stems.items():
            print(f"  {name}  {value}")
    elif isinstance(outcome, Fail):
        print(f"  {outcome.code}: {outcome.message}")
    return 0
