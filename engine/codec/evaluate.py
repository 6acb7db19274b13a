"""``stemloom eval codec``: issue #23's yardstick. Per level count, the codec (decoded as
the decoder gives it, and with the level gains a token file carries) beside ffmpeg's libopus
in hard CBR at fixed bitrates, scored by log-mel distance, spectral convergence and SI-SDR
(engine.codec.metrics) and by level error, on held-out real music and held-out corpus
clips (engine.codec.eval_sets); and the decoder's speed, offline and streaming."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from engine.codec import bench, io, level
from engine.codec.eval_sets import Clip, EvalSetError, heldout_clips, real_clips
from engine.codec.metrics import Reference
from engine.codec.model import Codec
from engine.codec.opus import opus_roundtrip

OPUS_KBPS = (6, 8, 12, 24)
METRICS = ("log_mel", "spectral_convergence", "si_sdr_db")
THREADS = 2  # the laptop the decoder must be fast on (DESIGN.md)


def _scores(reference: Reference, decoded: np.ndarray) -> dict[str, float]:
    return {"log_mel": reference.log_mel_distance(decoded),
            "spectral_convergence": reference.spectral_convergence(decoded),
            "si_sdr_db": reference.si_sdr(decoded),
            "level_error_db": level.level_error_db(reference.audio, decoded)}


def codec_decodes(codec: Codec, audio: np.ndarray, levels: tuple[int, ...]
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Per level count: (levels, the decode as the decoder gives it, the decode with the
    level gains measured against ``audio``, as a token file carries them). Codes are made
    once at the most levels: an RVQ's first n levels do not depend on the later ones."""
    hop = codec.cfg.hop
    with torch.inference_mode():
        codes = codec.encode(torch.from_numpy(np.ascontiguousarray(audio))[None], max(levels))
        for n_q in levels:
            raw = codec.decode(codes[:, :, :n_q])[0, :, :audio.shape[1]].numpy()
            gains = level.measure_gains(audio, raw, hop)
            yield n_q, raw, level.apply_gains(raw, gains, hop)


def gains_bitrate(codec: Codec, channels: int = 2) -> float:
    """Bits per second the level gains add to a token file (one int8 per channel and block)."""
    return 8 * channels * codec.cfg.sample_rate / level.block_samples(codec.cfg.hop)


def score_set(codec: Codec, clips: list[Clip], levels: tuple[int, ...],
              opus_kbps: tuple[int, ...] = OPUS_KBPS) -> dict[str, dict]:
    """Every row of the table for ``clips``: ``codec_{n}q`` (as decoded), ``codec_{n}q_gains``
    (with level gains) per level count and ``opus_{k}k`` per bitrate; each with its
    bitrate and per-metric mean and spread over the clips."""
    sr = codec.cfg.sample_rate
    per_clip: dict[str, list[dict[str, float]]] = {}
    bitrates: dict[str, list[float]] = {}

    def add(name: str, bitrate: float, scores: dict[str, float]) -> None:
        per_clip.setdefault(name, []).append(scores)
        bitrates.setdefault(name, []).append(bitrate)

    for _, audio in clips:
        channels, reference = audio.shape[0], Reference(audio, sr)
        for n_q, raw, levelled in codec_decodes(codec, audio, levels):
            rate = channels * codec.cfg.bitrate_at(n_q)
            add(f"codec_{n_q}q", rate, _scores(reference, raw))
            add(f"codec_{n_q}q_gains", rate + gains_bitrate(codec, channels),
                _scores(reference, levelled))
        for kbps in opus_kbps:
            decoded, written = opus_roundtrip(audio, sr, 1000 * kbps)
            add(f"opus_{kbps}k", written, _scores(reference, decoded))
    return {name: _summary(rows, bitrates[name]) for name, rows in per_clip.items()}


def _summary(rows: list[dict[str, float]], bitrates: list[float]) -> dict:
    out: dict = {"bitrate_bps": round(float(np.mean(bitrates)))}
    for metric in METRICS:
        values = [r[metric] for r in rows]
        out[metric] = {"mean": round(float(np.mean(values)), 4),
                       "sd": round(float(np.std(values)), 4)}
    errors = [r["level_error_db"] for r in rows]
    out["level_error_db"] = {"median": round(float(np.median(errors)), 2),
                             "min": round(float(np.min(errors)), 2),
                             "max": round(float(np.max(errors)), 2)}
    return out


def decode_speed(weights: Path | None, seconds: float = 10.0, runs: int = 5) -> dict:
    """Decode speed at batch 1 on ``THREADS`` threads, in x real time: offline and
    streaming (0.5 s chunks), medians of ``runs`` (engine.codec.bench)."""
    threads = torch.get_num_threads()
    try:
        result = bench.bench(weights, seconds, runs, batches=(1,), threads=THREADS)
    finally:
        torch.set_num_threads(threads)
    return {"threads": THREADS, "batch": 1, "audio_seconds": seconds, "runs": runs,
            "offline_x_realtime": result["decode_x_realtime_batch1"],
            "streaming_x_realtime": result["streaming_decode_x_realtime_chunk0.5s"]}


def check_levels(levels: tuple[int, ...], n_q: int) -> None:
    """Refuse level counts the codec cannot decode."""
    if not levels or any(not 1 <= n <= n_q for n in levels):
        raise EvalSetError(f"levels {list(levels)}: this codec decodes 1 to {n_q} levels")


def evaluate(weights: Path | None = None, corpus: Path = Path("/tmp/corpus"),
             levels: tuple[int, ...] | None = None, opus_kbps: tuple[int, ...] = OPUS_KBPS,
             count: int = 24, seconds: float = 10.0, real: Path | None = None,
             speed_seconds: float = 10.0) -> dict:
    """The full report (``stemloom eval codec --json`` prints it): per set, its clips and
    table rows (``score_set``); and the decode speed. ``levels`` defaults to every level
    count of the codec; ``real`` is a recordings corpus or a folder of audio files.
    Scoring runs on torch's thread setting (OMP_NUM_THREADS): on a shared machine more
    threads than free cores cost far more than they give."""
    codec = io.load_codec(weights)
    levels = tuple(sorted(set(levels or range(1, codec.cfg.n_q + 1))))
    check_levels(levels, codec.cfg.n_q)
    report: dict = {"weights": str(weights or io.DEFAULT_DIR), "levels": list(levels),
                    "opus_kbps": list(opus_kbps), "sets": {}}
    clips, note = real_clips(real, seconds, count)
    report["sets"]["real_recordings"] = _set_report(codec, clips, note, levels, opus_kbps)
    if (corpus / "manifest.json").is_file():
        clips = heldout_clips(corpus, seconds, count)
        note = {"source": f"validation and test splits of the corpus {corpus}: the middle "
                          f"{seconds:g} s of a track, half mixes and half single stems"}
        report["sets"]["heldout_corpus"] = _set_report(codec, clips, note, levels, opus_kbps)
    else:
        report["sets"]["heldout_corpus"] = {"skipped": f"no corpus at {corpus}"}
    report["decode_speed"] = decode_speed(weights, speed_seconds)
    return report


def _set_report(codec: Codec, clips: list[Clip], note: dict, levels: tuple[int, ...],
                opus_kbps: tuple[int, ...]) -> dict:
    if not clips:
        return {"skipped": "no clips", **note}
    seconds = [round(audio.shape[1] / codec.cfg.sample_rate, 3) for _, audio in clips]
    return {"clips": len(clips), "seconds": sorted(set(seconds)), **note,
            "files": [name for name, _ in clips],
            "rows": score_set(codec, clips, levels, opus_kbps)}


def _row_label(name: str) -> str:
    kind, rest = name.split("_", 1)
    if kind == "opus":
        return f"Opus {rest[:-1]} kb/s (CBR)"
    n_q = int(rest.split("q")[0])
    plural = "s" if n_q > 1 else ""
    return f"codec, {n_q} level{plural}" + (" + level gains" if rest.endswith("gains") else "")


def format_table(report: dict) -> str:
    """The report as the issue's table, one per set (mean ± sd over clips), then speed."""
    lines = []
    for name, result in report["sets"].items():
        lines.append(f"[{name}] " + (f"skipped: {result['skipped']}" if "skipped" in result
                                      else f"{result['clips']} clips of "
                                      f"{'/'.join(f'{s:g}' for s in result['seconds'])} s; "
                                      f"{result['source']}"))
        if "packages" in result:
            lines.append("  clips per package: " + ", ".join(
                f"{p} {n}" for p, n in result["packages"].items()))
        if "rows" not in result:
            continue
        lines += ["", "| | kb/s | log-mel L1 ↓ | spectral convergence ↓ | SI-SDR dB ↑ | "
                  "level error dB: median [min, max] |", "|---|---|---|---|---|---|"]
        for row_name, row in result["rows"].items():
            cells = [f"{row[m]['mean']:.3f} ± {row[m]['sd']:.3f}" for m in METRICS[:2]]
            cells.append(f"{row['si_sdr_db']['mean']:.2f} ± {row['si_sdr_db']['sd']:.2f}")
            err = row["level_error_db"]
            cells.append(f"{err['median']:+.2f} [{err['min']:+.2f}, {err['max']:+.2f}]")
            lines.append(f"| {_row_label(row_name)} | {row['bitrate_bps'] / 1000:.2f} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    speed = report["decode_speed"]
    lines.append(f"decode speed, batch 1, {speed['threads']} threads, median of "
                 f"{speed['runs']} on {speed['audio_seconds']:g} s: offline "
                 f"{speed['offline_x_realtime']}x real time, streaming (0.5 s chunks) "
                 f"{speed['streaming_x_realtime']}x")
    return "\n".join(lines)
