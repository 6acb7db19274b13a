"""``stemloom generate``: one shot, prompt in, stem files out."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from tqdm import tqdm

from bridge import limits
from bridge.client import EngineClient, EngineUnreachable
from bridge.errors import ProtocolError
from bridge.identity import user_client_id
from bridge.listener import DEFAULT_PORT
from bridge.messages import Done, Generate, Preview, Progress
from bridge.transfer import TransferError
from bridge.words import DEFAULT_STEMS, Resolved, resolve_request
from plugin_host.daw import LIVE_DAWS, DawAdapter, adapter_names
from plugin_host.genre_presets import GenrePreset, PresetError, load_preset
from stemloom.commands.common import add_engine_address, connect, default_library, fail
from stemloom.local_engine import LocalEngine


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``generate``."""
    parser = commands.add_parser(
        "generate",
        help="make stems from a prompt (starts an engine if none is running)",
        description="Send one generation request and wait for its stems. Without --engine, "
        f"uses the engine on 127.0.0.1:{DEFAULT_PORT}, or starts one for this request.",
    )
    parser.add_argument("prompt", nargs="?", default="",
                        help='e.g. "dusty lo-fi drums and mellow rhodes"; with --preset, '
                        "words added to the preset's prompt")
    parser.add_argument("--preset", default=None, metavar="NAME",
                        help="a genre preset ('stemloom presets list') that fills the prompt "
                        "and every option left out; a DAW session's tempo and meter come first")
    parser.add_argument("--no-effects", action="store_true",
                        help="place the stems without the preset's effect chains")
    # What these leave out comes from the DAW session, then the prompt's words ("126 bpm",
    # "in Gm", "6/8", "16 bars", "no drums": docs/prompt-words.md), the preset, the genre.
    parser.add_argument("--bpm", type=_tempo, default=None,
                        help="tempo (default: the DAW session's, else the prompt's, else the "
                        "preset's or genre's, else 120)")
    parser.add_argument("--bars", type=int, default=None,
                        help="length (default: the prompt's, else 8)")
    parser.add_argument("--time-signature", default=None,
                        help="meter such as 3/4 (default: the DAW session's, else the "
                        "prompt's, else 4/4)")
    parser.add_argument("--key", default=None,
                        help='e.g. "A minor" (default: the prompt\'s, else the model chooses)')
    parser.add_argument(
        "--stems",
        default=None,
        help=f"comma-separated, from {', '.join(limits.STEM_NAMES)} (default: the "
        f"instruments the prompt names, else its genre's, else {','.join(DEFAULT_STEMS)})",
    )
    parser.add_argument("--session-bpm", type=float, default=None, metavar="BPM",
                        help="the DAW session's tempo, for scripts inside a DAW that read it "
                        "themselves: it beats the prompt's, which is reported if it differs")
    parser.add_argument("--session-time-signature", default=None, metavar="METER",
                        help="the DAW session's meter, as --session-bpm")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved request and where each field came from; "
                        "start no engine, make nothing")
    parser.add_argument("--json", action="store_true", help="with --dry-run: as JSON")
    parser.add_argument("--seed", type=int, default=-1)
    parser.add_argument("--variations", type=int, default=1)
    parser.add_argument("--melody", default="", help="a hum (audio) or MIDI file to follow")
    parser.add_argument("--melody-timing", default="free", choices=limits.MELODY_TIMINGS,
                        help="a hum sung freely (its tempo and downbeat are found; the "
                        "default), sung to the click from its first sample, or stretched over "
                        "the bars")
    parser.add_argument("--sample-rate", type=int, default=None, choices=limits.SAMPLE_RATES,
                        help="output rate (default: the DAW session's, else 48000)")
    parser.add_argument("--format", default="wav24", choices=limits.FORMATS)
    parser.add_argument("--loop", action="store_true", help="make the end flow into the start")
    parser.add_argument("--play", action="store_true",
                        help="play the engine's preview of the mix as it streams in, through "
                        "the default output device (needs the host extra)")
    parser.add_argument("--reference", default="",
                        help="an audio file whose style to mix with the prompt")
    parser.add_argument("--reference-weight", type=float, default=0.5,
                        help="share of the reference in the style, 0-1 (default: 0.5)")
    parser.add_argument("--continue-from", default="",
                        help="an audio file to continue: the new clip starts where it ends")
    parser.add_argument("--keep-from", default="", metavar="JOB_ID",
                        help="remake only the given --stems on this finished job's plan")
    parser.add_argument("--guidance", type=float, default=3.0,
                        help="how strongly to follow the prompt (1: off; default: 3)")
    parser.add_argument("--temperature", type=float, default=limits.DEFAULT_TEMPERATURE,
                        help="sampling temperature (lower: cleaner tones; default: %(default)s)")
    parser.add_argument("--top-k", type=int, default=250)
    parser.add_argument("--top-p", type=float, default=0.0)
    parser.add_argument("--best-of", type=int, default=1,
                        help="make N candidates per variation, keep MuLan's favourite")
    parser.add_argument(
        "--model", default="default", help="model for an engine started by this command"
    )
    parser.add_argument("--wait", type=float, default=1800.0, help="seconds to wait for the job")
    parser.add_argument(
        "--daw",
        choices=adapter_names(),
        default=None,
        help="place the stems on new tracks in this DAW or session file",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="the session folder or file to place them in (a .dawproject, an .RPP, an "
        "Ardour session folder); not needed for live",
    )
    parser.add_argument(
        "--bar",
        type=float,
        default=None,
        help="bar to place the clips at (default: the session cursor)",
    )
    parser.add_argument(
        "--loudness", type=_loudness, default=None, metavar="LUFS",
        help="place the take at this integrated loudness, e.g. -14 (one gain for every "
        "stem, so their sum is the mix; held back so no clip peaks over -1 dBTP)",
    )
    add_engine_address(parser)
    parser.set_defaults(engine=None, func=_generate)


def _loudness(text: str) -> float:
    """A --loudness value: a target in LUFS a take can sensibly be placed at."""
    from plugin_host.loudness import MAX_TARGET_LUFS, MIN_TARGET_LUFS

    try:
        lufs = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not MIN_TARGET_LUFS <= lufs <= MAX_TARGET_LUFS:
        raise argparse.ArgumentTypeError(
            f"{text} LUFS is not a placement level: give {MIN_TARGET_LUFS:g} to "
            f"{MAX_TARGET_LUFS:g} (sample packs sit around -14, mastered tracks around -9)")
    return lufs


def _tempo(text: str) -> float:
    """A --bpm value: a number in the protocol's range (0 is refused, never read as unset)."""
    try:
        bpm = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not limits.MIN_BPM <= bpm <= limits.MAX_BPM:
        raise argparse.ArgumentTypeError(
            f"{text} BPM is not a tempo the engine makes: give {limits.MIN_BPM:g}-"
            f"{limits.MAX_BPM:g}, or leave --bpm out to take the session's, the prompt's or "
            "the genre's")
    return bpm


def _generate(args: argparse.Namespace) -> int:
    preset = None
    if args.preset:
        try:
            preset = load_preset(args.preset)
        except PresetError as exc:
            return fail(str(exc))
    elif not args.prompt.strip():
        return fail("give a prompt, or a preset with --preset NAME ('stemloom presets list')")
    words = args.prompt
    given = {"bpm": args.session_bpm, "time_signature": args.session_time_signature}
    clash = _clash_with_session_flags(args)
    if clash:
        return fail(clash)
    try:
        resolved = _resolve(args, words, preset, given)
    except ValueError as exc:  # WordsError, or an explicit key that names none
        return fail(f"cannot read the request: {exc}")
    adapter = None
    if args.daw:
        if args.daw not in LIVE_DAWS and args.dest is None:
            return fail(f"--daw {args.daw} needs --dest (the session folder or file)")
        if not (args.dry_run and args.daw not in LIVE_DAWS and not args.dest.exists()):
            try:
                adapter, session = _open_session(args, resolved)
            except (OSError, ValueError, RuntimeError) as exc:
                return fail(f"cannot open the {args.daw} session: {exc}")
            resolved = _resolve(args, words, preset, {**given, **session})
    if args.dry_run:
        _print_resolved(resolved, args.json)
        return 0
    for note in resolved.notes:
        print(f"Note: {note}")
    _fill_request_fields(args, resolved, preset)
    try:
        request = Generate(
            request_id=f"gen-{uuid.uuid4().hex[:12]}",
            prompt=args.prompt,
            bpm=args.bpm,
            bars=args.bars,
            time_signature=args.time_signature,
            key=args.key,
            stems=tuple(s.strip() for s in args.stems.split(",") if s.strip()),
            seed=args.seed,
            variations=args.variations,
            melody=_absolute(args.melody),
            melody_timing=args.melody_timing,
            sample_rate=args.sample_rate or 48000,
            format=args.format,
            loop=args.loop,
            reference=_absolute(args.reference),
            reference_weight=args.reference_weight,
            continue_from=_absolute(args.continue_from),
            keep_from=args.keep_from,
            guidance=args.guidance,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            best_of=args.best_of,
        )
        request.validate()
    except ProtocolError as exc:
        return fail(exc.message)
    started = time.monotonic()
    try:
        if args.transport == "tcp" and args.engine is not None:
            done = _run_remote(args, request)
        else:
            with _engine(args) as client:
                client.submit(request)
                with _preview_player(args.play) as heard:
                    done = _follow(client, request, args.wait, heard)
    except ProtocolError as exc:
        return fail(f"{exc.message} [{exc.code}]")
    except (EngineUnreachable, RuntimeError, TransferError) as exc:
        return fail(str(exc))
    _print_done(done, time.monotonic() - started)
    effects = _effects_to_apply(args, preset)
    if adapter is not None:
        from plugin_host.daw import PlacementError
        from plugin_host.effects import PluginLoadError
        from plugin_host.placement import MELODY_TRACK, place_job

        try:
            placed = place_job(done, args.prompt, adapter, args.bar, effects=effects,
                               loudness=args.loudness)
        except (PlacementError, PluginLoadError, PresetError, OSError, ValueError) as exc:
            return fail(f"the stems were made but could not be placed: {exc}")
        stems = {name: clip for name, clip in placed.clips.items() if name != MELODY_TRACK}
        bar = next(iter(stems.values())).bar
        where = args.dest or args.daw
        count = f"{len(stems)} stem{'' if len(stems) == 1 else 's'}"
        print(f"Placed {count} on new tracks at bar {bar:g} in {where}")
        for take, level in placed.levels.items():
            which = f"take {take} " if len(placed.levels) > 1 else ""
            print(f"  {which}at {level.loudness_lufs:.1f} LUFS ({level.gain_db:+.1f} dB"
                  + (", held back so no clip peaks over -1 dBTP)" if level.peak_limited
                     else ")"))
        if MELODY_TRACK in placed.clips:
            print(f"  and the melody as a MIDI clip on track {MELODY_TRACK!r}")
        elif placed.melody_file is not None:
            print(f"  {args.daw} cannot place MIDI from here; the melody's MIDI clip is "
                  f"{placed.melody_file}")
        for stem, chain in effects.items():
            print(f"  {stem} through effect preset {chain!r}")
    elif effects:
        print("The preset's effects are applied when placing with --daw, or in the studio: "
              + ", ".join(f"{stem}: {chain}" for stem, chain in effects.items()))
    return 0


def _clash_with_session_flags(args: argparse.Namespace) -> str | None:
    """Why an explicit tempo or meter cannot be used in the session an in-DAW script
    describes (--session-bpm, --session-time-signature), or None: its grid wins."""
    from plugin_host.daw import grid_clash

    def meter(text: str | None) -> tuple[int, int] | None:
        if not text:
            return None
        numerator, _, denominator = text.partition("/")
        return int(numerator), int(denominator)

    return grid_clash("the request", (args.bpm or None, args.session_bpm or None),
                      (meter(args.time_signature), meter(args.session_time_signature)))


def _absolute(path: str) -> str:
    """An input file's absolute path (the engine may run elsewhere), or "" for none."""
    return str(Path(path).resolve()) if path else ""


def _resolve(args: argparse.Namespace, words: str, preset: GenrePreset | None,
             session: dict | None = None) -> Resolved:
    """The request's musical fields: the flags, then the DAW ``session``, the words, the
    preset, the genre the words name, the defaults."""
    explicit = {"bpm": args.bpm, "bars": args.bars, "time_signature": args.time_signature,
                "key": args.key,
                "stems": [s.strip() for s in args.stems.split(",") if s.strip()]
                if args.stems else None}
    chosen = None
    if preset is not None:
        chosen = {"bpm": preset.bpm, "bars": preset.bars, "key": preset.key or None,
                  "time_signature": preset.time_signature, "stems": preset.stems}
    return resolve_request(words, explicit=explicit, session=session, preset=chosen)


def _fill_request_fields(args: argparse.Namespace, resolved: Resolved,
                         preset: GenrePreset | None) -> None:
    """Put the resolved fields where the request is built from (the preset's prompt before
    the producer's words: MuLan hears both, unchanged)."""
    if preset is not None:
        args.prompt = preset.full_prompt(args.prompt)
    args.bpm, args.bars, args.key = resolved.bpm, resolved.bars, resolved.key
    args.time_signature, args.stems = resolved.time_signature, ",".join(resolved.stems)


def _print_resolved(resolved: Resolved, as_json: bool) -> None:
    """The request a dry run would send, each field with its source."""
    if as_json:
        print(json.dumps(resolved.to_json(), indent=2))
        return
    values = {"bpm": f"{resolved.bpm:g}", "bars": str(resolved.bars),
              "time_signature": resolved.time_signature,
              "key": resolved.key or "(the model chooses)", "stems": ",".join(resolved.stems)}
    for name, value in values.items():
        words = resolved.words.get(name)
        origin = f"{resolved.sources[name]}" + (f": {words!r}" if words else "")
        print(f"  {name:<15} {value:<22} from {origin}")
    if resolved.genre:
        print(f"  genre           {resolved.genre}")
    if resolved.feel:
        print(f"  feel            {', '.join(resolved.feel)}")
    for note in resolved.notes:
        print(f"Note: {note}")


def _effects_to_apply(args: argparse.Namespace, preset: GenrePreset | None) -> dict[str, str]:
    """The preset's stem -> effect chains for the stems asked for, unless --no-effects or this
    install has no pedalboard (then it says so)."""
    if preset is None or args.no_effects:
        return {}
    stems = {s.strip() for s in args.stems.split(",")}
    effects = {stem: chain for stem, chain in preset.effects.items() if stem in stems}
    if effects and importlib.util.find_spec("pedalboard") is None:
        print("The preset's effects are skipped: pedalboard is not installed "
              "(./scripts/setup --host installs it)")
        return {}
    return effects


def _meter(time_signature: str) -> tuple[int, int]:
    """(numerator, denominator) of a meter such as "6/8"."""
    numerator, denominator = time_signature.split("/")
    return int(numerator), int(denominator)


def _open_session(args: argparse.Namespace, resolved: Resolved) -> tuple[DawAdapter, dict]:
    """Open the DAW target, and the tempo and meter of the session as it was (none for a
    session this call creates: it takes the resolved request's).

    An existing session's grid wins: a --bpm, --time-signature or --sample-rate that
    disagrees with it is refused (SessionMismatch) before anything is generated, and the
    sample rate left out is the session's, so the clips fit it.
    """
    from plugin_host.daw import refuse_other_grid
    from plugin_host.placement import open_adapter

    meter = _meter(resolved.time_signature)
    if args.daw not in LIVE_DAWS and not args.dest.exists():
        adapter = open_adapter(args.daw, args.dest, bpm=resolved.bpm,
                               time_signature=meter, sample_rate=args.sample_rate)
        return adapter, {}
    adapter = open_adapter(args.daw, args.dest)
    info = adapter.session_info()
    asked_meter = _meter(args.time_signature) if args.time_signature else None
    refuse_other_grid(info, bpm=args.bpm, time_signature=asked_meter,
                      sample_rate=args.sample_rate, what="the request")
    if args.sample_rate is None and info.sample_rate in limits.SAMPLE_RATES:
        args.sample_rate = info.sample_rate
    return adapter, {"bpm": info.bpm, "time_signature": info.meter_name}


@contextlib.contextmanager
def _engine(args: argparse.Namespace) -> Iterator[EngineClient]:
    """The engine named by --engine, the local one if it runs, or a new one for this call."""
    if args.engine is not None:
        with connect(args) as client:
            yield client
        return
    if _local_engine_answers():
        args.engine = f"127.0.0.1:{DEFAULT_PORT}"
        with connect(args) as client:
            yield client
        return
    if getattr(sys, "frozen", False):
        raise RuntimeError(
            f"no engine is running on 127.0.0.1:{DEFAULT_PORT}, and this standalone host has "
            "none of its own: start one ('stemloom-engine engine serve' from the engine "
            "bundle, or 'stemloom engine serve'), or point --engine at a running engine."
        )
    if importlib.util.find_spec("torch") is None:
        raise RuntimeError(
            "no engine is running and this install has none (it was installed without the "
            "'engine' extra). Run './scripts/setup', or point --engine at a running engine."
        )
    print(f"No engine running; starting one (model {args.model!r})...", flush=True)
    with (
        LocalEngine(default_library(), model=args.model) as engine,
        EngineClient(port=engine.udp_port, client_id=user_client_id(),
                     timeout=args.timeout) as client,
    ):
        yield client


def _run_remote(args: argparse.Namespace, request: Generate) -> Done:
    """Run the job on the engine named by --engine over TCP with files in the protocol: the
    inputs are uploaded and the clips fetched into this host's clip folder first."""
    from plugin_host.placement import default_clips_root
    from plugin_host.remote import RemoteEngine

    print(f"Engine at {args.engine} over TCP: inputs go up, clips come down", flush=True)
    with RemoteEngine(lambda: connect(args)) as remote, _preview_player(args.play) as heard:
        return remote.run(request, default_clips_root() / request.request_id / "engine",
                          timeout=args.wait, on_preview=heard)


def _local_engine_answers() -> bool:
    try:
        with EngineClient(timeout=0.5) as probe:
            probe.hello(client="stemloom-generate")
        return True
    except EngineUnreachable:
        return False


@contextlib.contextmanager
def _preview_player(play: bool) -> Iterator[Callable[[Preview], None] | None]:
    """With ``play``, a handler that plays each streamed preview on from where the last one
    was (stopped when the job ends); None without, or when no device can play (said once)."""
    if not play:
        yield None
        return
    try:
        from plugin_host.audio_devices import AudioDeviceError
        from plugin_host.preview import ClipPlayer

        player = ClipPlayer()
    except (ImportError, AudioDeviceError) as exc:
        print(f"Note: the preview cannot be played here: {exc}", file=sys.stderr)
        yield None
        return

    def hear(preview: Preview) -> None:
        try:
            player.follow(preview.path)
        except (ValueError, AudioDeviceError) as exc:
            print(f"Note: the preview cannot be played: {exc}", file=sys.stderr)

    try:
        yield hear
    finally:
        player.stop()


def _follow(client: EngineClient, request: Generate, wait: float,
            on_preview: Callable[[Preview], None] | None = None) -> Done:
    with tqdm(total=100, unit="%", desc="queued", bar_format="{desc:<12} {bar} {n:.0f}%") as bar:

        def show(progress: Progress) -> None:
            bar.set_description_str(progress.stage)
            bar.update(progress.fraction * 100 - bar.n)

        done = client.wait(request.request_id, timeout=wait, on_progress=show,
                           on_preview=on_preview)
        bar.set_description_str("done")
        bar.update(100 - bar.n)
    return done


def _print_done(done: Done, seconds: float) -> None:
    print(
        f"{done.bars} bars at {done.bpm:g} BPM ({done.time_signature}), key {done.key}, "
        f"{done.sample_rate} Hz {done.format}, seed {done.seed}, model {done.model}, "
        f"{seconds:.1f} s"
    )
    rows = {**done.stems, **({"melody (MIDI)": done.melody_midi} if done.melody_midi else {}),
            "metadata": done.metadata}
    width = max(map(len, rows))
    for name, path in rows.items():
        print(f"  {name:<{width}}  {path}")
