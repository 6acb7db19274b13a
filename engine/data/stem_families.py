"""Which stem family a tracker channel plays: the evidence, and the stated mapping rules.

Evidence per channel (`channel_evidence`):
- names: the instrument and sample names of the notes it plays (weighted by note count);
- notes: how many, how many distinct, their median and span, per-instrument distinctness;
- sound: from the channel rendered alone, the share of energy below 250 Hz, the spectral
  centroid, and the percussive share of a median-filter harmonic/percussive split (HPSS).

Rules (`map_family`), in order:
1. a family keyword in the names covering at least half the channel's notes decides;
2. drums: a percussive share of at least PERCUSSIVE, or notes that barely change pitch
   (at most DRUM_PITCHES distinct notes per instrument) with a percussive share of at least
   PERCUSSIVE_LOOSE;
3. bass: at least LOW_SHARE of the energy below 250 Hz;
4. lead: a busy line (>= LEAD_DENSITY notes/s) with little low energy (< LEAD_LOW);
5. pad: long notes (<= PAD_DENSITY notes/s while sounding);
6. keys otherwise.
Guitar and strings are reached only through names: their sound is not told apart from keys
and pads by these measures. The thresholds were set on the tuning half of the hand labels
(evals/module_channel_labels.json); the other half scores them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

# Words in instrument/sample names, per family.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "drums": ("drum", "kick", "bd", "bdrum", "snare", "sn", "sd", "hat", "hihat", "hh", "hi",
              "cymbal", "crash", "ride", "tom", "clap", "perc", "conga", "bongo", "shaker",
              "tamb", "rim", "timp", "click", "loop", "beat", "hbeat", "pop"),
    "bass": ("bass", "bas"),
    "keys": ("piano", "pno", "rhodes", "organ", "orgn", "clav", "harpsi", "epiano", "ep",
             "vibe", "vibra", "marimba", "xylo", "bell", "chime", "celesta", "glock",
             "musicbox", "ding"),
    "guitar": ("guitar", "guit", "gtr", "gitar", "strat", "distort"),
    "strings": ("string", "strings", "violin", "viola", "cello", "orch", "choir", "harp",
                "pizz", "ensemble"),
    "pad": ("pad", "atmos", "sweep", "chord", "comp"),
    "lead": ("lead", "flute", "sax", "trumpet", "trombone", "horn", "oboe",
             "bassoon", "clarinet", "whistle", "voice", "vox", "square", "squarewave", "saw",
             "brass", "synth"),
}
SHORT = 3  # keywords this long or shorter only match a whole token
PRIORITY = ("drums", "bass", "guitar", "strings", "keys", "pad", "lead")

PERCUSSIVE = 0.55
PERCUSSIVE_LOOSE = 0.35
DRUM_PITCHES = 2.0
LOW_SHARE = 0.5
LEAD_LOW = 0.35
LEAD_DENSITY = 2.5
PAD_DENSITY = 0.8

_FFT = 2048
_HOP = 1024
_MAX_FRAMES = 2400  # about 77 s of sounding audio is enough to describe a channel


@dataclass(frozen=True)
class Evidence:
    """What is known about one channel: names, notes and sound."""

    names: dict[str, int]  # instrument/sample name -> notes played with it
    notes: int
    distinct: int
    median_note: float
    span: int
    pitches_per_instrument: float  # mean distinct notes per instrument used
    density: float  # notes per sounding second
    sounding: float  # seconds above -50 dB of the channel's peak
    low_share: float
    centroid: float
    percussive: float

    def as_dict(self) -> dict:
        """JSON-ready fields."""
        return {k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


def tokens(name: str) -> list[str]:
    """Lower-case word tokens of a name ('Bass1.smp' -> ['bass', 'smp'])."""
    return [t for t in re.split(r"[^a-z]+", re.sub(r"\d", " ", name.lower())) if t]


def name_family(name: str) -> str | None:
    """The family a name points at, or None. A token that is a keyword counts first
    ('bassoon' is lead, not bass); otherwise a long keyword may sit inside a token
    ('bassdrum'). Where several families remain the more specific wins, in the order of
    PRIORITY ('synth bass' is bass, 'bassdrum' drums)."""
    words = tokens(name)
    found = {f for f, keys in KEYWORDS.items() for t in words if t in keys}
    if not found:
        found = {f for f, keys in KEYWORDS.items() for t in words
                 if any(len(k) > SHORT and k in t for k in keys)}
    return next((f for f in PRIORITY if f in found), None)


def sound_features(audio: np.ndarray, rate: int) -> tuple[float, float, float, float]:
    """(sounding seconds, share of energy below 250 Hz, median centroid Hz, percussive
    share) of a channel's (2, frames) audio; zeros for silence."""
    from scipy.ndimage import median_filter

    mono = audio.mean(axis=0)
    count = 1 + max(0, (mono.size - _FFT) // _HOP)
    if mono.size < _FFT:
        return 0.0, 0.0, 0.0, 0.0
    frames = np.lib.stride_tricks.sliding_window_view(mono, _FFT)[::_HOP][:count]
    level = np.sqrt((frames[:, ::8] ** 2).mean(axis=1))
    peak = float(level.max())
    if peak <= 1e-6:
        return 0.0, 0.0, 0.0, 0.0
    active = np.flatnonzero(level > peak * 10 ** (-50 / 20))
    sounding = active.size * _HOP / rate
    step = max(1, active.size // _MAX_FRAMES)
    spec = np.abs(np.fft.rfft(frames[active[::step]] * np.hanning(_FFT), axis=1)) ** 2
    freqs = np.fft.rfftfreq(_FFT, 1 / rate)
    total = spec.sum() + 1e-20
    low = float(spec[:, freqs < 250].sum() / total)
    centroid = float(np.median((spec * freqs).sum(axis=1) / (spec.sum(axis=1) + 1e-20)))
    # HPSS on magnitudes: median across time keeps steady tones, across frequency clicks.
    mag = np.sqrt(spec).T
    harmonic = median_filter(mag, size=(1, 9), mode="nearest")
    percussive = median_filter(mag, size=(9, 1), mode="nearest")
    mask = percussive ** 2 / (harmonic ** 2 + percussive ** 2 + 1e-20)
    share = float((mask * mag ** 2).sum() / ((mag ** 2).sum() + 1e-20))
    return sounding, low, centroid, share


def channel_evidence(notes: list[tuple[float, int, int]], names_of: dict[int, str],
                     audio: np.ndarray, rate: int) -> Evidence:
    """The evidence for one channel from its notes [(s, note, instrument)], the name of
    each instrument index, and its audio rendered alone."""
    sounding, low, centroid, share = sound_features(audio, rate)
    names: Counter[str] = Counter(names_of.get(ins, "") for _, _, ins in notes)
    names.pop("", None)
    pitches = np.array([n for _, n, _ in notes], dtype=float)
    by_instrument: dict[int, set[int]] = {}
    for _, note, ins in notes:
        by_instrument.setdefault(ins, set()).add(note)
    return Evidence(
        names=dict(names.most_common()), notes=len(notes),
        distinct=len(set(pitches.tolist())),
        median_note=float(np.median(pitches)) if pitches.size else 0.0,
        span=int(pitches.max() - pitches.min()) if pitches.size else 0,
        pitches_per_instrument=float(np.mean([len(s) for s in by_instrument.values()]))
        if by_instrument else 0.0,
        density=len(notes) / sounding if sounding > 0 else 0.0,
        sounding=sounding, low_share=low, centroid=centroid, percussive=share)


def names_vote(evidence: Evidence) -> str | None:
    """The family that names cover for at least half of the channel's notes, if any."""
    if not evidence.notes:
        return None
    votes: Counter[str] = Counter()
    for name, count in evidence.names.items():
        family = name_family(name)
        if family is not None:
            votes[family] += count
    if not votes:
        return None
    family, count = votes.most_common(1)[0]
    return family if count * 2 >= evidence.notes else None


def map_family(evidence: Evidence) -> tuple[str, str]:
    """(family, which rule decided) for one channel, by the rules in the module docstring."""
    named = names_vote(evidence)
    if named is not None:
        return named, "names"
    if evidence.percussive >= PERCUSSIVE or (
            evidence.pitches_per_instrument <= DRUM_PITCHES
            and evidence.percussive >= PERCUSSIVE_LOOSE):
        return "drums", "percussive"
    if evidence.low_share >= LOW_SHARE:
        return "bass", "low"
    if evidence.low_share < LEAD_LOW and evidence.density >= LEAD_DENSITY:
        return "lead", "busy-line"
    if evidence.density <= PAD_DENSITY:
        return "pad", "long-notes"
    return "keys", "default"

