"""A synthetic hum of a melody: what a producer's voice into a laptop mic might sound like.

Glottal pulses (Rosenberg shape, differentiated for lip radiation) follow a pitch contour
with scoops into notes, vibrato, slow drift and intonation error; a vowel's formants shape
them (STFT filtering); breath noise rides along. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.codec.config import SAMPLE_RATE

# Formant centres and bandwidths (Hz) of hummed or sung vowels; the closed-mouth 'mm' has
# wide, damped upper formants.
VOWELS: dict[str, tuple[tuple[float, float], ...]] = {
    "mm": ((250, 60), (1100, 400), (2500, 700)),
    "oo": ((320, 80), (800, 100), (2300, 200)),
    "oh": ((480, 90), (900, 110), (2600, 200)),
    "ah": ((750, 110), (1200, 120), (2600, 200)),
    "eh": ((550, 90), (1800, 130), (2600, 200)),
}
# Voice ranges as (lowest, highest) MIDI pitch of a comfortable hum.
VOICES = {"low": (45, 62), "mid": (50, 67), "high": (57, 74)}
FRAME = 1024
HOP = 256


@dataclass(frozen=True)
class HumNote:
    """A melody note in seconds."""

    start: float
    end: float
    pitch: int


def voice_transpose(pitches: list[int], voice: str, rng: np.random.Generator) -> int:
    """Semitones that move the melody's median into `voice`'s range: octaves first, then
    sometimes a few semitones more, as people hum in whatever key is comfortable."""
    low, high = VOICES[voice]
    median = float(np.median(pitches))
    shift = round(((low + high) / 2 - median) / 12.0) * 12
    if rng.random() < 0.5:
        shift += int(rng.integers(-4, 5))
    return shift


def _smooth_noise(n: int, rate: int, cutoff_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise with nothing above `cutoff_hz` (for drift and jitter)."""
    control = max(2, int(n / rate * cutoff_hz * 2) + 2)
    points = rng.normal(0, 1, control)
    return np.interp(np.linspace(0, control - 1, n), np.arange(control), points)


def _pitch_and_gate(notes: list[HumNote], n: int, rate: int, shift: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample pitch (MIDI, fractional) and loudness envelope of the hum."""
    t = np.arange(n) / rate
    pitch = np.full(n, np.nan)
    gate = np.zeros(n)
    vib_rate = rng.uniform(4.5, 6.5)
    vib_depth = rng.uniform(0.1, 0.5)  # semitones, peak
    attack, release = rng.uniform(0.015, 0.05), rng.uniform(0.03, 0.08)
    previous: float | None = None
    for i, note in enumerate(notes):
        a, b = int(note.start * rate), min(n, int(note.end * rate))
        if b <= a:
            continue
        target = note.pitch + shift + rng.normal(0, 0.12)  # intonation error
        local = t[a:b] - note.start
        if previous is not None and notes[i - 1].end > note.start - 0.06:
            start_from = previous  # legato: glide from the last note
        else:
            start_from = target - rng.uniform(0.3, 1.8)  # scoop up into the note
        tau = rng.uniform(0.02, 0.06)
        contour = target + (start_from - target) * np.exp(-local / tau)
        onset = np.clip((local - 0.15) / 0.25, 0, 1)  # vibrato grows in after the attack
        contour += onset * vib_depth * np.sin(2 * np.pi * vib_rate * local + rng.uniform(0, 6))
        pitch[a:b] = contour
        level = 0.6 + 0.4 * rng.random()
        env = np.minimum(1.0, local / attack) * np.minimum(1.0, (note.end - t[a:b]) / release)
        gate[a:b] = level * np.clip(env, 0, 1)
        previous = target
    pitch += _smooth_noise(n, rate, 0.7, rng) * rng.uniform(0.05, 0.25)  # slow drift
    # Fill gaps by holding the last pitch so the pulse train has a defined phase.
    valid = ~np.isnan(pitch)
    if valid.any():
        index = np.where(valid, np.arange(n), 0)
        np.maximum.accumulate(index, out=index)
        pitch = pitch[index]
        pitch[: np.argmax(valid)] = pitch[np.argmax(valid)]
    else:
        pitch[:] = 60.0
    return pitch, gate


def _glottal(pitch: np.ndarray, rate: int, open_quotient: float) -> np.ndarray:
    """Differentiated Rosenberg glottal flow driven by the pitch contour."""
    f0 = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
    phase = np.cumsum(f0 / rate) % 1.0
    rise = 0.6 * open_quotient
    fall = open_quotient - rise
    flow = np.where(phase < rise, 0.5 * (1 - np.cos(np.pi * phase / rise)), 0.0)
    falling = (phase >= rise) & (phase < open_quotient)
    flow[falling] = np.cos(0.5 * np.pi * (phase[falling] - rise) / fall)
    return np.diff(flow, prepend=0.0)


def _formant_filter(signal: np.ndarray, rate: int, vowel: str) -> np.ndarray:
    """Shape `signal` by the vowel's formants (sqrt-Hann STFT, overlap-add)."""
    n = len(signal)
    window = np.sqrt(np.hanning(FRAME + 1)[:-1])
    frames = 1 + max(0, int(np.ceil((n - FRAME) / HOP)))
    padded = np.zeros((frames - 1) * HOP + FRAME)
    padded[:n] = signal
    index = np.arange(FRAME)[None, :] + HOP * np.arange(frames)[:, None]
    spectrum = np.fft.rfft(padded[index] * window, axis=1)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / rate)
    envelope = np.ones_like(freqs)
    for centre, bandwidth in VOWELS[vowel]:  # cascade of two-pole resonators, unity at DC
        envelope *= centre**2 / np.sqrt((centre**2 - freqs**2) ** 2 + (bandwidth * freqs) ** 2)
    out_frames = np.fft.irfft(spectrum * envelope, n=FRAME, axis=1) * window
    out = np.zeros_like(padded)
    np.add.at(out, index, out_frames)
    return out[:n] / (0.5 * FRAME / HOP)  # sqrt-Hann squared at 75% overlap sums to 2


def synth_hum(notes: list[HumNote], seconds: float, rng: np.random.Generator,
              sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, dict]:
    """Hum `notes` (monophonic, seconds) into float32 mono of length `seconds`.

    Returns the audio and what was chosen, all drawn from `rng`: voice, transposition
    (semitones added to every note), vowel and breathiness.
    """
    n = round(seconds * sample_rate)
    voice = str(rng.choice(list(VOICES)))
    shift = voice_transpose([x.pitch for x in notes], voice, rng) if notes else 0
    vowel = str(rng.choice(list(VOWELS)))
    breathiness = float(rng.uniform(0.02, 0.12))
    pitch, gate = _pitch_and_gate(notes, n, sample_rate, shift, rng)
    voiced = _glottal(pitch, sample_rate, float(rng.uniform(0.45, 0.7)))
    breath = rng.normal(0, 1, n) * breathiness
    source = (voiced + breath * 0.05) * gate
    hum = _formant_filter(source, sample_rate, vowel)
    hum += np.diff(rng.normal(0, 1, n), prepend=0.0) * gate * breathiness * 0.01  # airy hiss
    hum += rng.normal(0, 1, n) * 10 ** (rng.uniform(-75, -55) / 20)  # the room and the mic
    peak = float(np.abs(hum).max()) or 1.0
    hum *= rng.uniform(0.3, 0.9) / peak
    info = {"voice": voice, "transpose": shift, "vowel": vowel,
            "breathiness": round(breathiness, 3)}
    return hum.astype(np.float32), info
