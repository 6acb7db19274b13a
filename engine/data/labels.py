"""Tempo, beats, downbeats (meter) and key of a stretch of music, each with a confidence.

Our own estimators on librosa features, fast enough to label hours of audio on two cores
(madmom's RNN models ran at about 3x real time here: too slow for the whole set):

- tempo: the onset envelope's tempogram, averaged over the window, weighted by a log-normal
  prior around 120 BPM; beats by dynamic programming at that tempo; the BPM is then refined
  from the beat times. Confidence: the tempogram's height at the chosen lag times the beats'
  regularity.
- meter and downbeats: beat-level accents (onset strength, bass onset strength, harmonic
  change) scored for 3 and 4 beats per bar at every phase. Confidence: how far the best
  (meter, phase) stands above the best of the other meter.
- key: a whole-window STFT chroma (8192-point frames) correlated with the
  Krumhansl-Kessler major/minor profiles.
  Confidence: the gap between the best and the second-best key's correlation.

Confidences are in [0, 1]; `docs/data.md` gives the thresholds calibrated on renders with
known labels (``stemloom data label-eval``) and what they buy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from bridge.keys import NOTE_NAMES

#: The rate and hop the analysis runs at (86 frames a second).
ANALYSIS_RATE = 22050
HOP = 256
FPS = ANALYSIS_RATE / HOP
#: Name of this labeller in the metadata, so a change of method is visible in the data.
LABELLER = "stemloom-librosa-1"

# Krumhansl-Kessler probe-tone profiles, tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

_PRIOR_BPM = 120.0  # librosa's default tempo prior: log-normal at 120 BPM, one octave wide
_MIN_BPM, _MAX_BPM = 50.0, 220.0


@dataclass(frozen=True)
class Labels:
    """What the labeller says about one window (times in seconds from its start)."""

    bpm: float
    bpm_confidence: float
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    meter: str
    meter_confidence: float
    key_tonic: str
    mode: str
    key_confidence: float

    @property
    def key_name(self) -> str:
        """The key as the synthetic corpus writes it, e.g. 'A minor'."""
        return f"{self.key_tonic} {self.mode}"

    def to_meta(self) -> dict:
        """JSON-ready fields for an example's metadata (names as in the synthetic corpus)."""
        return {
            "bpm": round(self.bpm, 2), "meter": self.meter, "key_name": self.key_name,
            "key_tonic": self.key_tonic, "mode": self.mode,
            "beats": [round(t, 3) for t in self.beats],
            "downbeats": [round(t, 3) for t in self.downbeats],
            "label_confidence": {"bpm": round(self.bpm_confidence, 3),
                                 "meter": round(self.meter_confidence, 3),
                                 "key": round(self.key_confidence, 3)},
            "labeller": LABELLER,
        }


def to_analysis(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono float32 at ANALYSIS_RATE from audio shaped (channels, frames) or (frames,)."""
    import soxr

    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if rate != ANALYSIS_RATE:
        mono = soxr.resample(mono, rate, ANALYSIS_RATE, quality="HQ").astype(np.float32)
    return mono


def _tempo(envelope: np.ndarray) -> tuple[float, float]:
    """(BPM, tempogram height at its lag) from an onset envelope."""
    import librosa

    gram = librosa.feature.tempogram(onset_envelope=envelope, sr=ANALYSIS_RATE,
                                     hop_length=HOP, win_length=512)
    curve = gram.mean(axis=1)
    bpms = librosa.tempo_frequencies(gram.shape[0], sr=ANALYSIS_RATE, hop_length=HOP)
    ok = (bpms >= _MIN_BPM) & (bpms <= _MAX_BPM)
    prior = np.exp(-0.5 * (np.log2(np.where(ok, bpms, 1.0) / _PRIOR_BPM)) ** 2)
    score = np.where(ok, curve * prior, -np.inf)
    best = int(np.argmax(score))
    return float(bpms[best]), float(np.clip(curve[best], 0.0, 1.0))


def _beats(envelope: np.ndarray, bpm: float) -> np.ndarray:
    import librosa

    _, frames = librosa.beat.beat_track(onset_envelope=envelope, sr=ANALYSIS_RATE,
                                        hop_length=HOP, bpm=bpm, tightness=200, trim=True)
    return np.asarray(frames, dtype=int)


def _refined_bpm(beats: np.ndarray, fallback: float) -> tuple[float, float]:
    """(BPM from a line through the beat times, regularity in [0, 1])."""
    if len(beats) < 4:
        return fallback, 0.0
    times = beats / FPS
    slope = float(np.polyfit(np.arange(len(times)), times, 1)[0])
    gaps = np.diff(times)
    spread = np.std(gaps) / max(float(np.mean(gaps)), 1e-6)  # 25 % or more gives 0
    regularity = float(np.clip(1.0 - spread * 4.0, 0.0, 1.0))
    return 60.0 / slope, regularity


def _accents(y: np.ndarray, envelope: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Per beat, z-scored: onset strength, bass onset strength and harmonic change."""
    import librosa

    mel = librosa.feature.melspectrogram(y=y, sr=ANALYSIS_RATE, hop_length=HOP, n_mels=64)
    bass = librosa.onset.onset_strength(S=librosa.power_to_db(mel[:8]), sr=ANALYSIS_RATE)
    chroma = librosa.feature.chroma_stft(y=y, sr=ANALYSIS_RATE, hop_length=HOP, n_fft=4096)
    # With pad=True column 0 is the stretch before the first beat; column i+1 starts at beat i.
    sync = librosa.util.sync(chroma, beats.tolist(), aggregate=np.mean,
                             pad=True)[:, 1: len(beats) + 1]
    sync = sync / (np.linalg.norm(sync, axis=0, keepdims=True) + 1e-9)
    change = np.concatenate([[0.0], 1.0 - np.sum(sync[:, 1:] * sync[:, :-1], axis=0)])

    def near(curve: np.ndarray) -> np.ndarray:
        return np.array([curve[max(0, b - 2): b + 3].max() for b in beats])

    rows = [near(envelope), near(bass[: envelope.shape[0]]), change]
    accents: np.ndarray = np.array([(r - r.mean()) / (r.std() + 1e-9) for r in rows]).sum(axis=0)
    return accents


def _meter(accents: np.ndarray) -> tuple[int, int, float]:
    """(beats per bar, phase of the first downbeat, confidence)."""
    best: dict[int, tuple[float, int]] = {}
    for per_bar in (3, 4):
        for phase in range(per_bar):
            on = accents[phase::per_bar]
            off = np.delete(accents, np.arange(phase, len(accents), per_bar))
            if len(on) < 2 or len(off) < 2:
                continue
            score = float(on.mean() - off.mean())
            if score > best.get(per_bar, (-np.inf, 0))[0]:
                best[per_bar] = (score, phase)
    if not best:
        return 4, 0, 0.0
    winner = max(best, key=lambda m: best[m][0])
    other = [best[m][0] for m in best if m != winner]
    margin = best[winner][0] - (other[0] if other else 0.0)
    # The margin is in z-score units of the summed accents: 2 or more gives 1.
    return winner, best[winner][1], float(np.clip(margin / 2.0, 0.0, 1.0))


def _key(y: np.ndarray) -> tuple[int, str, float]:
    """(tonic pitch class, 'major' or 'minor', confidence)."""
    import librosa

    chroma = librosa.feature.chroma_stft(y=y, sr=ANALYSIS_RATE, n_fft=8192, hop_length=2048)
    profile = chroma.mean(axis=1)
    if not np.any(profile > 0):
        return 0, "major", 0.0
    scores = []
    for mode, template in (("major", _MAJOR), ("minor", _MINOR)):
        for tonic in range(12):
            scores.append((float(np.corrcoef(profile, np.roll(template, tonic))[0, 1]),
                           tonic, mode))
    scores.sort(reverse=True)
    (top, tonic, mode), second = scores[0], scores[1][0]
    # A correlation gap of 0.2 or more gives 1.
    return tonic, mode, float(np.clip((top - second) * 5.0, 0.0, 1.0))


def label(audio: np.ndarray, rate: int) -> Labels:
    """Tempo, beats, meter, downbeats and key of `audio` ((channels, frames) or (frames,))."""

    y = to_analysis(audio, rate)
    with warnings.catch_warnings():
        # A window with no tonal peaks (drums alone, noise) has no tuning to estimate: the
        # chroma then assumes A440, which is what we want.
        warnings.filterwarnings("ignore", message="Trying to estimate tuning")
        return _label(y)


def _label(y: np.ndarray) -> Labels:
    import librosa

    envelope = librosa.onset.onset_strength(y=y, sr=ANALYSIS_RATE, hop_length=HOP,
                                            aggregate=np.median)
    bpm, salience = _tempo(envelope)
    beats = _beats(envelope, bpm)
    bpm, regularity = _refined_bpm(beats, bpm)
    if len(beats) >= 8:
        per_bar, phase, meter_conf = _meter(_accents(y, envelope, beats))
    else:
        per_bar, phase, meter_conf = 4, 0, 0.0
    tonic, mode, key_conf = _key(y)
    times = beats / FPS
    return Labels(
        bpm=bpm, bpm_confidence=salience * regularity,
        beats=tuple(float(t) for t in times),
        downbeats=tuple(float(t) for t in times[phase::per_bar]),
        meter=f"{per_bar}/4", meter_confidence=meter_conf,
        key_tonic=NOTE_NAMES[tonic], mode=mode, key_confidence=key_conf)
