"""``stemloom eval codec``: the codec beside Opus at the same bitrate, on held-out corpus
clips and on real recordings (never used for training): a folder of the user's own music
(``--real DIR``), else the few real recordings found on this machine."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from engine.codec import io, level, spectral
from engine.codec.config import SAMPLE_RATE
from engine.codec.data import index_tracks, read_track, track_frames
from engine.codec.model import Codec

# Real recordings that ship with software on Debian/pyenv machines; none is music proper.
REAL_CANDIDATES = (
    "/root/.pyenv/versions/3.11.7/lib/python3.11/test/audiodata/pluck-pcm32.wav",
)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB of (C, T) audio, averaged over channels."""
    values = []
    for ref, est in zip(reference.astype(np.float64), estimate.astype(np.float64), strict=True):
        alpha = np.dot(est, ref) / max(np.dot(ref, ref), 1e-12)
        target = alpha * ref
        noise = est - target
        values.append(10 * np.log10(max(np.dot(target, target), 1e-12)
                                    / max(np.dot(noise, noise), 1e-12)))
    return float(np.mean(values))


def log_mel_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Mean absolute difference of log10 mel spectrograms (n_fft 2048, hop 512, 128 mels)."""
    ref, est = (spectral.log_mel(torch.from_numpy(np.ascontiguousarray(a)), sample_rate, 2048,
                                 128, hop=512) for a in (reference, estimate))
    return float((ref - est).abs().mean())


def opus_roundtrip(audio: np.ndarray, sample_rate: int, bitrate: int) -> tuple[np.ndarray, float]:
    """Encode (2, T) audio with ffmpeg's libopus at `bitrate` b/s and decode it back;
    returns the decoded audio and the bitrate of the Opus packets actually written."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is not installed (apt-get install -y ffmpeg)")
    with tempfile.TemporaryDirectory() as tmp:
        src, enc, dec = (Path(tmp) / n for n in ("in.wav", "enc.opus", "dec.wav"))
        sf.write(src, audio.T, sample_rate, subtype="FLOAT")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:a", "libopus",
                        "-b:a", str(bitrate), str(enc)], check=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(enc), "-ar", str(sample_rate),
                        "-c:a", "pcm_f32le", str(dec)], check=True)
        sizes = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a",
                                "-show_entries", "packet=size", "-of", "csv=p=0", str(enc)],
                               check=True, capture_output=True, text=True).stdout.split()
        decoded, _ = sf.read(dec, dtype="float32", always_2d=True)
    out = np.zeros_like(audio)
    n = min(audio.shape[1], decoded.shape[0])
    out[:, :n] = decoded[:n].T
    return out, 8 * sum(int(s.split(",")[0]) for s in sizes) / (audio.shape[1] / sample_rate)


def heldout_clips(root: Path, seconds: float = 5.0, count: int = 32,
                  splits: tuple[str, ...] = ("validation", "test")) -> list[tuple[str, np.ndarray]]:
    """Deterministic clips from held-out splits: half mixes, half single stems, each cut from
    the middle of its track and skipped when near silent."""
    tracks = [t for split in splits for t in index_tracks(root, split)]
    mixes = [t for t in tracks if t.name.endswith(".mix.flac")]
    stems = [t for t in tracks if not t.name.endswith(".mix.flac")]
    rng = np.random.default_rng(1234)
    clips = []
    for pool, want in ((mixes, count // 2), (stems, count - count // 2)):
        taken = 0
        for i in rng.permutation(len(pool)):
            if taken == want:
                break
            track = pool[int(i)]
            length = round(seconds * SAMPLE_RATE)
            audio = read_track(track, max(0, track_frames(track) // 2 - length // 2), length)
            if audio.shape[1] < length or np.sqrt(np.mean(audio ** 2)) < 3e-3:
                continue
            clips.append((f"{track.shard.stem}/{track.name}", audio))
            taken += 1
    return clips


AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}


def real_clips(sample_rate: int, folder: Path | None = None, seconds: float = 5.0
               ) -> list[tuple[str, np.ndarray]]:
    """Stereo clips at ``sample_rate``: the middle ``seconds`` of every audio file under
    ``folder`` (sorted), or without a folder the ``REAL_CANDIDATES`` present here, whole."""
    if folder is None:
        return [(p, io.read_audio(Path(p), sample_rate)) for p in REAL_CANDIDATES
                if Path(p).is_file()]
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder of real recordings at {folder}")
    clips = []
    length = round(seconds * sample_rate)
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        audio = io.read_audio(path, sample_rate)
        start = max(0, audio.shape[1] // 2 - length // 2)
        clips.append((str(path), np.ascontiguousarray(audio[:, start : start + length])))
    return clips


def _code(codec: Codec, audio: np.ndarray, levels: int, mid_side: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    """The decode of ``audio`` coded at ``levels``, as the decoder gives it and with the
    level gains a token file carries (engine.codec.level) applied."""
    x = audio
    if mid_side:
        x = np.stack([(audio[0] + audio[1]) / 2, (audio[0] - audio[1]) / 2])
    y = codec.decode(codec.encode(torch.from_numpy(np.ascontiguousarray(x))[None], levels))
    y = y[0, :, :audio.shape[1]].numpy()
    levelled = level.apply_gains(y, level.measure_gains(x, y, codec.cfg.hop), codec.cfg.hop)
    if mid_side:
        y, levelled = (np.stack([a[0] + a[1], a[0] - a[1]]) for a in (y, levelled))
    return y, levelled


def score_set(codec: Codec, clips: list[tuple[str, np.ndarray]], levels: tuple[int, ...],
              mid_side: bool = True) -> dict:
    """Per level count, the codec's mean log-mel distance and SI-SDR (decoded with the level
    gains a token file carries) and the median level error of its decode without and with
    them; and Opus at the same bitrate, over `clips`."""
    sr = codec.cfg.sample_rate
    rows: dict[str, list[tuple[float, ...]]] = {}
    for _, audio in clips:
        for n_q in levels:
            bitrate = round(2 * codec.cfg.bitrate_at(n_q))
            raw, y = _code(codec, audio, n_q)
            rows.setdefault(f"codec_{n_q}q", []).append(
                (log_mel_distance(audio, y, sr), si_sdr(audio, y), bitrate,
                 level.level_error_db(audio, raw), level.level_error_db(audio, y)))
            o, opus_rate = opus_roundtrip(audio, sr, bitrate)
            rows.setdefault(f"opus_{bitrate // 1000}k", []).append(
                (log_mel_distance(audio, o, sr), si_sdr(audio, o), opus_rate,
                 level.level_error_db(audio, o)))
        if mid_side:
            n_q = max(levels)
            raw, y = _code(codec, audio, n_q, mid_side=True)
            rows.setdefault(f"codec_{n_q}q_mid_side", []).append(
                (log_mel_distance(audio, y, sr), si_sdr(audio, y), 2 * codec.cfg.bitrate_at(n_q),
                 level.level_error_db(audio, raw), level.level_error_db(audio, y)))
    return {name: _summary(v) for name, v in rows.items()}


def _summary(rows: list[tuple[float, ...]]) -> dict:
    out = {"log_mel_distance": round(float(np.mean([r[0] for r in rows])), 4),
           "si_sdr_db": round(float(np.mean([r[1] for r in rows])), 2),
           "bitrate_bps": round(float(np.mean([r[2] for r in rows]))),
           "level_error_db": _level_spread([r[3] for r in rows])}
    if len(rows[0]) > 4:
        out["level_error_db_with_gains"] = _level_spread([r[4] for r in rows])
    return out


def _level_spread(errors: list[float]) -> dict:
    """Median and extremes of per-clip level errors (dB; negative: the decode is quieter)."""
    return {"median": round(float(np.median(errors)), 2),
            "min": round(float(np.min(errors)), 2), "max": round(float(np.max(errors)), 2)}


def evaluate(weights: Path | None = None, corpus: Path = Path("/tmp/corpus"),
             levels: tuple[int, ...] = (4, 8), count: int = 32, seconds: float = 5.0,
             real: Path | None = None) -> dict:
    """The full evaluation report as a dict (``stemloom eval codec --json`` prints it);
    ``real`` is a folder of recorded music to score beside the corpus."""
    torch.set_num_threads(2)
    codec = io.load_codec(weights)
    report: dict = {"weights": str(weights or io.DEFAULT_DIR), "levels": list(levels),
                    "sets": {}}
    if (corpus / "manifest.json").is_file():
        clips = heldout_clips(corpus, seconds, count)
        report["sets"]["heldout_corpus"] = {"clips": len(clips), "seconds_each": seconds,
                                            **score_set(codec, clips, levels)}
    else:
        report["sets"]["heldout_corpus"] = {"skipped": f"no corpus at {corpus}"}
    clips = real_clips(codec.cfg.sample_rate, real, seconds)
    note = (f"the middle {seconds:g} s of each recording under {real}" if real else
            "no folder of real music given (--real DIR); these are the only real "
            "(non-synthesised) recordings found on this machine")
    report["sets"]["real_recordings"] = (
        {"clips": len(clips), "files": [name for name, _ in clips], "note": note,
         **score_set(codec, clips, levels, mid_side=False)}
        if clips else {"skipped": f"no real recordings found ({note})"})
    for name, result in report["sets"].items():
        n_q = max(levels)
        bitrate = round(2 * codec.cfg.bitrate_at(n_q))
        ours, opus = result.get(f"codec_{n_q}q"), result.get(f"opus_{bitrate // 1000}k")
        if ours and opus:
            report["sets"][name]["beats_opus_at_equal_bitrate"] = {
                "log_mel": ours["log_mel_distance"] < opus["log_mel_distance"],
                "si_sdr": ours["si_sdr_db"] > opus["si_sdr_db"]}
    return report
