"""Compare corpora (and a folder of real recordings) by how their mixes measure: loudness,
crest factor, stereo width and the long-term average spectrum, plus their balance.

    stemloom corpus compare V1_DIR V2_DIR [--recordings DIR] [-n 40]
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.codec.config import SAMPLE_RATE
from engine.corpus.measures import (
    OCTAVE_CENTRES,
    crest_db,
    loudness,
    lr_correlation,
    octave_spectrum,
)
from engine.corpus.recipes import SLOW_BPM
from engine.corpus.shards import iter_examples

AUDIO_SUFFIXES = (".ogg", ".oga", ".opus", ".flac", ".wav", ".mp3")
WINDOW_S = 30.0  # recordings are measured on one window from their middle


def measure(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
    """The measures of one stereo mix: lufs, crest_db, lr_corr and band_<Hz> (dB share)."""
    row = {"lufs": loudness(audio, sample_rate), "crest_db": crest_db(audio),
           "lr_corr": lr_correlation(audio)}
    for centre, level in zip(OCTAVE_CENTRES, octave_spectrum(audio, sample_rate), strict=True):
        row[f"band_{centre:g}"] = float(level)
    return row


def corpus_mixes(root: Path, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Up to `count` mixes of a corpus (all splits, a seeded shuffle), float32 (2, frames)."""
    import soundfile as sf

    examples = iter_examples(root, split=None, seed=seed, shuffle_buffer=count * 4,
                             decode=False)
    for index, example in enumerate(examples):
        if index >= count:
            break
        audio, _ = sf.read(io.BytesIO(example["mix.flac"]), dtype="float32", always_2d=True)
        yield audio.T


def recording_windows(folder: Path, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Up to `count` windows of WINDOW_S seconds (the middle of each file), at the corpus
    rate in stereo, from audio files under `folder` drawn in a seeded order; files shorter
    than a window (game sound effects) are left out."""
    import soundfile as sf
    import soxr

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    order = np.random.default_rng(seed).permutation(len(files))
    made = 0
    for i in order:
        if made >= count:
            break
        try:
            with sf.SoundFile(str(files[i])) as f:
                span = int(WINDOW_S * f.samplerate)
                if f.frames < span:  # shorter than a window: a sound effect, not a track
                    continue
                f.seek(max(0, (f.frames - span) // 2))
                audio = f.read(span, dtype="float32", always_2d=True)
                rate = f.samplerate
        except (RuntimeError, sf.LibsndfileError):
            continue  # a format libsndfile cannot read is left out
        if audio.shape[0] < rate or not np.any(audio):
            continue
        if rate != SAMPLE_RATE:
            audio = soxr.resample(audio, rate, SAMPLE_RATE)
        audio = audio[:, :2] if audio.shape[1] >= 2 else np.repeat(audio, 2, axis=1)
        made += 1
        yield np.ascontiguousarray(audio.T)


def summarise(rows: list[dict[str, float]]) -> dict[str, tuple[float, float, int]]:
    """Mean, standard deviation and n of each measure (non-finite values left out)."""
    out = {}
    for name in rows[0] if rows else ():
        values = np.array([r[name] for r in rows], dtype=float)
        values = values[np.isfinite(values)]
        out[name] = (float(values.mean()) if values.size else float("nan"),
                     float(values.std(ddof=1)) if values.size > 1 else 0.0, int(values.size))
    return out


def balance_row(root: Path) -> dict[str, str]:
    """The balance of a corpus's synthetic examples, as printable shares: hours, genres,
    slow, meters, swung, half-time, drumless (ingested audio is left out)."""
    from engine.corpus.shards import read_index

    metas = [m for m in read_index(root) if m.get("source", "synth") == "synth"]
    n = max(1, len(metas))

    def share(test) -> str:
        return f"{100.0 * sum(1 for m in metas if test(m)) / n:.0f}%"

    meters = sorted({m.get("meter") for m in metas if m.get("meter")})
    return {
        "examples": str(len(metas)),
        "hours": f"{sum(m['seconds'] for m in metas) / 3600:.2f}",
        "genres": str(len({m.get('genre') for m in metas if m.get('genre')})),
        f"slow (<= {SLOW_BPM} bpm)": share(lambda m: m.get("bpm") and m["bpm"] <= SLOW_BPM),
        **{f"meter {x}": share(lambda m, x=x: m.get("meter") == x) for x in meters},
        "swung (>= 0.54)": share(lambda m: (m.get("swing") or 0.5) >= 0.54),
        "half-time feel": share(lambda m: m.get("feel") == "half-time"),
        "drumless": share(lambda m: not any(s["family"] == "drums" for s in m.get("stems", []))),
    }


def _cell(value: tuple[float, float, int] | None) -> str:
    return f"{value[0]:>15.2f} ± {value[1]:<6.2f}" if value else f"{'-':>24}"


def format_table(columns: dict[str, dict[str, tuple[float, float, int]]]) -> str:
    """Measures as rows, sources as columns of 'mean ± sd', n in the header."""
    names = list(columns)
    titles = [f"{n} (n={columns[n]['lufs'][2] if columns[n] else 0})" for n in names]
    lines = [f"{'measure':<14}" + "".join(f"{t:>24}" for t in titles)]
    for row in next((c for c in columns.values() if c), {}):
        lines.append(f"{row:<14}" + "".join(_cell(columns[n].get(row)) for n in names))
    return "\n".join(lines)


def format_balance(rows: dict[str, dict[str, str]]) -> str:
    """Balance rows side by side."""
    names = list(rows)
    keys = list(dict.fromkeys(k for r in rows.values() for k in r))
    lines = [f"{'balance':<20}" + "".join(f"{n:>24}" for n in names)]
    lines += [f"{k:<20}" + "".join(f"{rows[n].get(k, '-'):>24}" for n in names) for k in keys]
    return "\n".join(lines)
