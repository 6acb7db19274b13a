"""``stemloom presets``: list, show and save genre presets (prompt, tempo, stems, keys...)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from bridge import limits
from bridge.words import DEFAULT_STEMS
from plugin_host.genre_presets import (
    GenrePreset,
    PresetError,
    PresetExists,
    find_presets,
    load_preset,
    save_user_preset,
    user_preset_dir,
)
from stemloom.commands.common import fail


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``presets`` and its subcommands."""
    presets = commands.add_parser(
        "presets", help="genre presets: list, show, save your own",
        description="Genre presets fill the prompt, tempo, stems, key, meter, length and "
        f"effects of 'stemloom generate --preset NAME'. Yours are saved in {user_preset_dir()};"
        " shipped presets are never replaced (save yours under another name).")
    sub = presets.add_subparsers(dest="presets_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", help="every preset, shipped and yours")
    listing.set_defaults(func=_list)
    show = sub.add_parser("show", help="one preset's settings and file")
    show.add_argument("name")
    show.set_defaults(func=_show)
    save = sub.add_parser(
        "save", help="save a preset of your own",
        description="Save a preset in your config folder. Start from an existing one with "
        "--from, or give at least --prompt; every option changes one setting.")
    save.add_argument("name", help="lower-case letters, digits and hyphens, e.g. my-lofi")
    save.add_argument("--from", dest="base", metavar="PRESET", help="start from this preset")
    save.add_argument("--prompt")
    save.add_argument("--description")
    save.add_argument("--bpm", type=float, help="default tempo")
    save.add_argument("--bpm-range", metavar="LOW-HIGH",
                      help="the tempi the style lives in, e.g. 70-90 (default: widened to "
                      "include --bpm)")
    save.add_argument("--stems", help=f"comma-separated, from {', '.join(limits.STEM_NAMES)}")
    save.add_argument("--keys", help='comma-separated suggestions, the first the default, '
                      'e.g. "A minor,F major" ("" for none)')
    save.add_argument("--time-signature")
    save.add_argument("--bars", type=int)
    save.add_argument("--effect", action="append", default=[], metavar="STEM=EFFECT",
                      help='an effect preset for a stem, e.g. drums="lofi tape"; STEM= '
                      "removes one (repeatable)")
    save.add_argument("--force", action="store_true", help="replace your preset of that name")
    save.set_defaults(func=_save)


def _list(args: argparse.Namespace) -> int:
    names, skipped = find_presets()
    width = max(map(len, names), default=4)
    for name in names:
        try:
            preset = load_preset(name)
        except PresetError as error:
            print(f"{name:<{width}}  (broken) {error}")
            continue
        origin = "" if preset.shipped else " (yours)"
        print(f"{name:<{width}}  {preset.bpm:>5g} bpm  {preset.time_signature:<4}  "
              f"{','.join(preset.stems):<26}  {preset.description}{origin}")
    for line in skipped:
        print(f"note: {line}")
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        preset = load_preset(args.name)
    except PresetError as error:
        return fail(str(error))
    low, high = preset.bpm_range
    effects = ", ".join(f"{stem}: {chain}" for stem, chain in preset.effects.items())
    rows = (("preset", f"{preset.name} ({'shipped' if preset.shipped else 'yours'})"),
            ("about", preset.description), ("prompt", preset.prompt),
            ("tempo", f"{preset.bpm:g} bpm (range {low:g}-{high:g})"),
            ("meter", preset.time_signature), ("length", f"{preset.bars} bars"),
            ("stems", ", ".join(preset.stems)),
            ("keys", ", ".join(preset.keys) or "the model chooses"),
            ("effects", effects or "none"), ("file", str(preset.source)))
    for label, value in rows:
        print(f"{label:<8} {value}")
    return 0


def _save(args: argparse.Namespace) -> int:
    try:
        preset = _edited(args)
        path = save_user_preset(preset, overwrite=args.force)
    except PresetExists as error:
        return fail(f"{error}; add --force to replace it")
    except PresetError as error:
        return fail(str(error))
    print(f"Saved preset {preset.name!r} in {path}")
    return 0


def _edited(args: argparse.Namespace) -> GenrePreset:
    """The preset ``args`` describe: --from's preset (or the defaults) with the options given
    applied; PresetError for an option that cannot be read."""
    if args.base:
        base = load_preset(args.base)
    elif args.prompt is None:
        raise PresetError("give --prompt, or start from a preset with --from NAME")
    else:
        base = GenrePreset(name=args.name, prompt="", bpm=120.0, bpm_range=(120.0, 120.0),
                           stems=DEFAULT_STEMS, keys=(), time_signature="4/4", bars=8)
    changes: dict[str, Any] = {"name": args.name, "source": None, "shipped": False}
    for option in ("prompt", "description", "time_signature", "bars"):
        if getattr(args, option) is not None:
            changes[option] = getattr(args, option)
    if args.stems is not None:
        changes["stems"] = _items(args.stems)
    if args.keys is not None:
        changes["keys"] = _items(args.keys)
    bpm = base.bpm if args.bpm is None else args.bpm
    low, high = base.bpm_range if args.bpm_range is None else _range(args.bpm_range)
    if args.bpm_range is None:  # widen the range to take a new default tempo in
        low, high = min(low, bpm), max(high, bpm)
    changes.update(bpm=bpm, bpm_range=(low, high), effects=_effects(base, args.effect))
    return replace(base, **changes)


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return float(low), float(high)
    except ValueError:
        raise PresetError(f"--bpm-range must look like 70-90, not {text!r}") from None


def _effects(base: GenrePreset, edits: list[str]) -> dict[str, str]:
    effects = dict(base.effects)
    for edit in edits:
        stem, sep, chain = edit.partition("=")
        if not sep:
            raise PresetError(f'--effect must look like drums="lofi tape", not {edit!r}')
        if chain.strip():
            effects[stem.strip()] = chain.strip()
        else:
            effects.pop(stem.strip(), None)
    return effects
