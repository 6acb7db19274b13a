"""``stemloom codec encode|decode``: audio files to codec tokens and back."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``codec`` and its subcommands."""
    parser = commands.add_parser("codec", help="encode audio to codec tokens and back")
    sub = parser.add_subparsers(dest="codec_command", metavar="ACTION", required=True)
    enc = sub.add_parser("encode", help="audio file -> token file (.npz)")
    enc.add_argument("input", type=Path, help="audio file (WAV, FLAC, ...; mono or stereo)")
    enc.add_argument("output", type=Path, help="token file to write (.npz)")
    enc.add_argument("--levels", type=int, help="RVQ levels to keep (default: all)")
    dec = sub.add_parser("decode", help="token file (.npz) -> WAV at 32 kHz")
    dec.add_argument("input", type=Path, help="token file from 'codec encode'")
    dec.add_argument("output", type=Path, help="WAV file to write")
    dec.add_argument("--chunk", type=float, default=0.0,
                     help="decode in streaming chunks of this many seconds (0: all at once)")
    for p in (enc, dec):
        p.add_argument("--weights", type=Path, help="codec weights (default: the shipped one)")
    enc.set_defaults(func=_encode)
    dec.set_defaults(func=_decode)
    exp = sub.add_parser("export", help="training checkpoint -> shippable inference weights")
    exp.add_argument("checkpoint", type=Path, help="a run's last.pt")
    exp.add_argument("output", type=Path, help="directory to write codec.pt into")
    exp.add_argument("--fp32", action="store_true", help="keep fp32 (default: fp16 weights)")
    exp.set_defaults(func=_export)


def _encode(args: argparse.Namespace) -> int:
    from engine.codec.cli import encode_file

    return encode_file(args.input, args.output, args.weights, args.levels)


def _decode(args: argparse.Namespace) -> int:
    from engine.codec.cli import decode_file

    return decode_file(args.input, args.output, args.weights, args.chunk)


def _export(args: argparse.Namespace) -> int:
    from engine.codec.cli import export_checkpoint

    return export_checkpoint(args.checkpoint, args.output, half=not args.fp32)
