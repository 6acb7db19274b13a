"""``stemloom eval``: evaluation suites register here as the models that need them land."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bridge import limits


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``eval`` and its suites (codec now; MuLan and the generator later)."""
    parser = commands.add_parser(
        "eval",
        help="evaluate models (codec, mulan, generate, heldout, melody, realism)",
        description="Evaluation suites arrive with their models.",
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="SUITE")
    parser.set_defaults(func=lambda args: _nothing_yet(parser))
    codec = sub.add_parser(
        "codec", help="the codec beside Opus: log-mel, spectral convergence, SI-SDR, level "
        "error per level count; decode speed",
        description="Held-out real music and held-out corpus clips, coded by the codec at "
        "each level count (as decoded and with the level gains a token file carries) and by "
        "ffmpeg's libopus in hard CBR; issue #23's measures (engine/codec/metrics.py).")
    codec.add_argument("--weights", help="codec weights (default: the shipped codec)")
    codec.add_argument("--corpus", default="/tmp/corpus",
                       help="corpus whose validation/test splits to use (default: %(default)s)")
    codec.add_argument("--clips", type=int, default=24, help="clips per set (default: "
                       "%(default)s)")
    codec.add_argument("--seconds", type=float, default=10.0,
                       help="seconds per clip (default: %(default)s)")
    codec.add_argument("--real", metavar="DIR", help="held-out real music: a prepared "
                       "recordings corpus (its test split) or a folder of audio files (WAV, "
                       "FLAC, OGG, MP3, AIFF); never used for training")
    codec.add_argument("--levels", type=_int_list, metavar="N,N,...",
                       help="level counts to score (default: all of the codec's)")
    codec.add_argument("--opus", type=_int_list, metavar="KBPS,...", default=(6, 8, 12, 24),
                       help="Opus bitrates in kb/s (default: 6,8,12,24)")
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
    words = sub.add_parser(
        "words", help="the request reader on producers' prompts: per-field accuracy",
        description="Reads each prompt of a frozen hand-written set (evals/prompt_words.jsonl) "
        "and scores tempo, key, meter, bars, stems and exclusions against its targets, and "
        "whether bad input is refused. No engine, no model.")
    words.add_argument("--set", type=Path, default=None, help="the JSONL prompt set "
                       "(default: evals/prompt_words.jsonl)")
    words.add_argument("--split", choices=("dev", "test", "all"), default="all",
                       help="the half the rules were worked out on (dev), the other (test), "
                       "or both (default)")
    words.add_argument("--failures", action="store_true", help="list every prompt read wrong")
    words.add_argument("--json", action="store_true", help="print JSON only")
    words.add_argument("--render", type=int, metavar="N", default=0,
                       help="also generate N prompts that state a tempo from their words "
                       "alone with the model and measure beat grid, key and stems")
    words.add_argument("--model", help="generator folder for --render (default: shipped)")
    words.add_argument("--seed", type=int, default=1, help="first seed for --render")
    words.set_defaults(func=_words)
    sound = sub.add_parser(
        "sound", help="the stems' tones, stereo image and level beside the corpus's",
        description="Harmonic share, energy above 2 kHz, L/R correlation, mono-sum loss and "
        "integrated loudness per stem family: on corpus stems (the reference) and on "
        "generated stems as decoded and as finished to that reference.")
    sound.add_argument("--corpus", type=Path, default=Path("/tmp/corpus"),
                       help="the corpus whose stems are the reference (default: %(default)s)")
    sound.add_argument("--examples", type=int, default=160,
                       help="corpus examples to measure (default: %(default)s)")
    sound.add_argument("--write", type=Path, metavar="MODEL_DIR",
                       help="store the corpus medians as MODEL_DIR/stem_sound.json")
    sound.add_argument("--render", action="store_true",
                       help="also render the evaluation prompts and measure their stems")
    sound.add_argument("--model", type=Path, help="generator folder (default: shipped)")
    sound.add_argument("--seeds", type=int, default=2, help="seeds per prompt (default: 2)")
    sound.add_argument("--limit", type=int, help="first N prompts only")
    sound.add_argument("--temperature", type=float, default=limits.DEFAULT_TEMPERATURE,
                       help="sampling temperature of the renders (default: %(default)s)")
    sound.set_defaults(func=_sound)
    generate = sub.add_parser(
        "generate", help="the generator: tempo, key, stems, MuLan score, loop seams",
        description="Generates a fixed prompt set worded unlike the training captions and "
        "checks tempo (librosa's beat tracker led by the asked tempo), key, stems and MuLan "
        "text-audio score.")
    generate.add_argument("--model", help="generator folder (default: the shipped one)")
    generate.add_argument("--limit", type=int, help="first N prompts only")
    generate.add_argument("--seed", type=int, default=1, help="first seed (default: 1)")
    generate.add_argument("--corpus", default="/tmp/corpus",
                          help="corpus whose held-out mixes calibrate the estimators, when "
                          "present (default: %(default)s)")
    generate.add_argument("--json", action="store_true", help="print JSON only")
    generate.set_defaults(func=_generate)
    heldout = sub.add_parser(
        "heldout", help="the generator's stages on held-out cached windows: losses, what the "
        "coarse stage draws from the plan and the key, and renders of real plans",
        description="Teacher-forced losses per stage, and whether mixes rendered from real "
        "semantic plans keep the window's key and tempo (needs the token cache: docs/training.md).")
    heldout.add_argument("--model", help="generator folder (default: the shipped one)")
    heldout.add_argument("--cache", default="runs/generator/cache/validation",
                         help="token-cache split of held-out windows (default: %(default)s)")
    heldout.add_argument("--renders", type=int, default=20,
                         help="windows to render from their real plans (default: %(default)s)")
    heldout.add_argument("--guidance", type=float,
                         help="guidance scale of the renders (default: a request's)")
    heldout.add_argument("--json", action="store_true", help="print JSON only")
    heldout.set_defaults(func=_heldout)
    melody = sub.add_parser(
        "melody", help="melody: hum->MIDI note F1, extraction time, and chroma cosine of the "
        "generated lead and mix to the melody (from hums and MIDI, and without it)",
        description="Held-out corpus hums and MIDI melodies; with --tunes, the frozen set of "
        "real tunes instead (evals/real_tunes: game melodies and folk tunes reserved for "
        "evaluation), each from its MIDI clip, from a synthetic hum and without it, per tune "
        "over --seeds.")
    melody.add_argument("--corpus", default="/tmp/corpus",
                        help="corpus whose test/validation splits to use (default: %(default)s)")
    melody.add_argument("--hums", type=int, default=60, help="hums to transcribe")
    melody.add_argument("--examples", type=int, default=8,
                        help="melodies to generate music for (each three times)")
    melody.add_argument("--model", help="generator folder, or random-tiny (default: the "
                        "shipped one)")
    melody.add_argument("--tunes", type=Path, metavar="DIR",
                        help="score the real-tune set in DIR (e.g. evals/real_tunes) instead")
    melody.add_argument("--seeds", type=_int_list, default=(1, 2, 3), metavar="N,N,...",
                        help="seeds per real tune (default: 1,2,3)")
    melody.add_argument("--limit", type=int, help="first N real tunes only")
    melody.add_argument("--bars", type=int, help="at most N bars of each real tune")
    melody.add_argument("--temperature", type=float, default=limits.DEFAULT_TEMPERATURE,
                        help="sampling temperature of the real-tune renders (default: "
                        "%(default)s)")
    melody.add_argument("--json", action="store_true", help="print JSON only")
    melody.set_defaults(func=_melody)
    realism = sub.add_parser(
        "realism", help="realism distance: Fréchet and kernel distances to held-out real music",
        description="Loudness-matched clips of held-out real music (a real-recordings "
        "corpus's test split), embedded by MuLan's audio tower and by non-learned log-mel "
        "statistics; calibration rows (real vs real, degraded real) then corpus renders and "
        "the model's renders of the evaluation prompts (engine/generator/realism_report.py).")
    realism.add_argument("--real", type=Path, required=True,
                         help="real-recordings corpus ('stemloom data prepare-recordings')")
    realism.add_argument("--v1", type=Path, help="corpus v1 renders (a row when given)")
    realism.add_argument("--v2", type=Path, help="corpus v2 renders (a row when given)")
    realism.add_argument("--cache", type=Path, help="folder of the model's renders, made "
                         "there when missing (one folder per model); none: no generated row")
    realism.add_argument("--model", type=Path, help="generator folder (default: shipped)")
    realism.add_argument("--cached-only", action="store_true",
                         help="generated row from the renders already in --cache only")
    realism.add_argument("--seeds", type=_int_list, default=(1, 2, 3), metavar="N,N,...",
                         help="seeds per prompt (default: 1,2,3)")
    realism.add_argument("--clips", type=int, default=48, help="clips per set (default: "
                         "%(default)s)")
    realism.add_argument("--seconds", type=float, default=8.0,
                         help="seconds per clip (default: %(default)s)")
    realism.add_argument("--resamples", type=int, default=50,
                         help="subsets the spread is taken over (default: %(default)s)")
    realism.add_argument("--json", action="store_true", help="print JSON only")
    realism.set_defaults(func=_realism)


def _int_list(text: str) -> tuple[int, ...]:
    """argparse type: "1,2,8" -> (1, 2, 8), each a positive whole number."""
    try:
        values = tuple(int(x) for x in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of positive "
                                         "whole numbers")
    return values


def _codec(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.codec.eval_sets import EvalSetError
    from engine.codec.evaluate import evaluate, format_table
    from engine.codec.io import CodecFileError
    from engine.codec.opus import OpusUnavailableError
    from engine.data.reserved import ReservedSourceError

    if args.clips < 1 or args.seconds <= 0:
        print("stemloom eval codec: --clips and --seconds must be positive", file=sys.stderr)
        return 2
    real = Path(args.real).expanduser() if args.real else None
    try:
        report = evaluate(args.weights and Path(args.weights), Path(args.corpus), args.levels,
                          args.opus, count=args.clips, seconds=args.seconds, real=real)
    except (EvalSetError, CodecFileError, ReservedSourceError, OpusUnavailableError) as error:
        print(f"stemloom eval codec: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


def _mulan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.mulan.evaluate import evaluate

    report = evaluate(Path(args.config), args.weights and Path(args.weights))
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from engine.generator.evaluate import main

    argv = [f"--seed={args.seed}", f"--corpus={args.corpus}"] + (["--json"] if args.json else [])
    argv += [f"--model={args.model}"] if args.model else []
    argv += [f"--limit={args.limit}"] if args.limit else []
    return main(argv)


def _heldout(args: argparse.Namespace) -> int:
    from engine.generator.heldout import main

    argv = [f"--cache={args.cache}", f"--renders={args.renders}"]
    argv += [f"--model={args.model}"] if args.model else []
    argv += [f"--guidance={args.guidance}"] if args.guidance is not None else []
    return main(argv + (["--json"] if args.json else []))


def _melody(args: argparse.Namespace) -> int:
    from engine.generation import NoTrainedModel
    from engine.generator.melody_eval import evaluate_conditioning, evaluate_real_tunes
    from engine.generator.real_tunes import load_tunes
    from engine.melody.evaluate import evaluate_transcription
    from engine.model_store import load_generator

    if any(value is not None and value < 1 for value in (args.limit, args.bars)):
        print("stemloom eval melody: --limit and --bars must be positive", file=sys.stderr)
        return 2
    try:
        if args.tunes:
            load_tunes(args.tunes)  # a set that is not as frozen is refused before any work
        generator = load_generator(args.model or "default")
    except (NoTrainedModel, ValueError) as error:  # ValueError: no such model or tune set
        print(f"stemloom eval melody: {error}", file=sys.stderr)
        return 2
    if args.tunes:
        report = evaluate_real_tunes(generator, args.tunes, args.seeds, args.limit, args.bars,
                                     args.temperature)
    else:
        report = {"transcription": evaluate_transcription(args.corpus, args.hums),
                  "chroma_cosine": evaluate_conditioning(generator, Path(args.corpus),
                                                         args.examples)}
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def _realism(args: argparse.Namespace) -> int:
    from engine.codec.eval_sets import EvalSetError
    from engine.data.reserved import ReservedSourceError
    from engine.generator.realism_report import evaluate, format_table

    if args.clips < 3 or args.seconds < 1 or args.resamples < 1:
        print("stemloom eval realism: --clips must be at least 3, --seconds at least 1 and "
              "--resamples positive", file=sys.stderr)
        return 2
    try:
        renders = {"corpus v1 renders": args.v1, "corpus v2 renders": args.v2}
        report = evaluate(args.real, {name: path for name, path in renders.items() if path},
                          args.cache, args.seeds, args.clips, args.seconds, args.model,
                          args.resamples, render_missing=not args.cached_only)
    except (EvalSetError, ReservedSourceError, ValueError) as error:
        print(f"stemloom eval realism: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1) if args.json else format_table(report))
    return 0


def _nothing_yet(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _words(args: argparse.Namespace) -> int:
    from stemloom.words_eval import DEFAULT_SET, failures, judge, load_set, summarize

    verdicts = [judge(row) for row in load_set(args.set or DEFAULT_SET, args.split)]
    report = {"split": args.split, "summary": summarize(verdicts)}
    if args.failures:
        report["failures"] = failures(verdicts)
    if args.render:
        from engine.generator.pipeline import load_default
        from engine.generator.words_render import render_from_words, sample

        rows = sample(load_set(args.set or DEFAULT_SET), args.render)
        report["render"] = render_from_words(load_default(args.model), rows, args.seed)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    summary = report["summary"]
    print(f"{summary['prompts']} prompts ({args.split}): {summary['good']} good, "
          f"{summary['bad']} bad input")
    for name, share in summary["field_accuracy"].items():
        print(f"  {name:<15} {share:.3f}")
    for name in ("all_fields_right", "genre_tempo_in_range", "stems_precision",
                 "stems_recall", "bad_input_refused", "good_input_refused"):
        print(f"  {name:<22} {summary[name]}")
    for name, value in report.get("render", {}).get("summary", {}).items():
        print(f"  render: {name:<24} {value}")
    for row in report.get("failures", []):
        print(f"\n{row['id']}: {row['prompt']}\n  wrong {row['wrong']}\n  read {row['read']}"
              f"\n  want {row['want']}")
    return 0


def _sound(args: argparse.Namespace) -> int:
    from engine.generator.finish import load_reference
    from engine.generator.io import DEFAULT_DIR
    from engine.generator.sound_eval import corpus_reference, generated_sound, write_reference

    report: dict = {}
    if (args.corpus / "manifest.json").is_file():
        report["corpus"] = corpus_reference(args.corpus, args.examples)
        if args.write:
            report["written"] = str(write_reference(report["corpus"], args.write, args.corpus))
    elif args.write:
        print(f"no corpus at {args.corpus}: build one with 'stemloom corpus build'",
              file=sys.stderr)
        return 2
    if args.render:
        from engine.generator.pipeline import load_default

        folder = args.model or DEFAULT_DIR
        reference = report.get("corpus", {}).get("families") or load_reference(folder)
        if reference is None:
            print(f"no stem_sound.json in {folder} and no corpus: nothing to finish toward",
                  file=sys.stderr)
            return 2
        report["generated"] = generated_sound(load_default(args.model), reference, args.seeds,
                                              args.limit, args.temperature,
                                              corpus=report.get("corpus"))
    print(json.dumps(report, indent=1))
    return 0
