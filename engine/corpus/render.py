"""Render each stem of a MIDI song on a fresh synth; place it in the stereo field; mix."""

from __future__ import annotations

import mido
import numpy as np

from engine.codec.config import SAMPLE_RATE
from engine.corpus.fluid import DEFAULT_SOUNDFONT, Synth

PEAK_TARGET = 0.89  # about -1 dBFS for the mix
RMS_TARGET = 0.16  # about -16 dBFS for the mix, when the peak allows it


def render_track(track: mido.MidiTrack, ticks_per_beat: int, bpm: float, frames: int,
                 soundfont: str = DEFAULT_SOUNDFONT, sample_rate: int = SAMPLE_RATE,
                 preset: tuple[int, int] | None = None, reverb: bool = True) -> np.ndarray:
    """Render one stem's track on a fresh synth: float32 (2, frames), cut at `frames`.

    `preset` (bank, program) replaces the track's own program changes (a drum kit that is
    a melodic preset of its soundfont, say); `reverb` turns FluidSynth's own reverb off for a
    chain that adds its room later.
    """
    out = np.zeros((2, frames), dtype=np.float32)
    samples_per_tick = 60.0 / bpm / ticks_per_beat * sample_rate
    with Synth(soundfont, sample_rate, reverb) as synth:
        now = 0
        tick = 0
        for message in track:
            tick += message.time
            if message.is_meta:
                continue
            at = min(frames, round(tick * samples_per_tick))
            synth.write(out[:, now:at])
            now = at
            if message.type == "program_change" and preset is not None:
                synth.select(message.channel, preset[1], message.channel == 9, preset[0])
            elif message.type == "program_change":
                synth.select(message.channel, message.program, message.channel == 9)
            elif message.type == "note_on" and message.velocity > 0:
                synth.note_on(message.channel, message.note, message.velocity)
            elif message.type in ("note_on", "note_off"):
                synth.note_off(message.channel, message.note)
            elif message.type == "control_change":
                synth.control(message.channel, message.control, message.value)
        synth.write(out[:, now:])
    return out


def place(stereo: np.ndarray, pan: float, width: float, level_db: float) -> np.ndarray:
    """Narrow a stereo stem to `width`, pan it (constant power) and set its level."""
    mid = 0.5 * (stereo[0] + stereo[1])
    side = 0.5 * (stereo[0] - stereo[1]) * width
    angle = (pan + 1.0) * np.pi / 4.0
    gain = 10.0 ** (level_db / 20.0) * np.sqrt(2.0)
    left = (mid + side) * np.cos(angle) * gain
    right = (mid - side) * np.sin(angle) * gain
    return np.stack([left, right]).astype(np.float32)


def balance(stems: np.ndarray, bits: int = 16,
            normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scale all stems by one gain, snap them to the grid of `bits`-bit PCM and return
    (stems, mix) with mix exactly the sum of the stems.

    With `normalize` the gain makes the mix loud enough without clipping; without it the
    level is kept unless the mix would clip.
    """
    mix = stems.sum(axis=0)
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    rms = float(np.sqrt(np.mean(np.square(mix, dtype=np.float64)))) if mix.size else 0.0
    if peak == 0.0:
        gain = 1.0
    elif normalize:
        gain = min(PEAK_TARGET / peak, RMS_TARGET / max(rms, 1e-9))
    else:
        gain = min(1.0, PEAK_TARGET / peak)
    # Integers on the PCM grid: the sum is exact (int32), and stems and mix store losslessly.
    levels = 2 ** (bits - 1)
    grid = np.rint(stems * np.float32(gain * levels)).astype(np.int32)
    total = grid.sum(axis=0)
    limit = levels - 1
    loudest = int(np.abs(total).max(initial=0))
    if loudest > limit:  # rounding pushed a sample over: scale down once, with headroom
        grid = np.rint(grid * ((limit - len(grid)) / loudest)).astype(np.int32)
        total = grid.sum(axis=0)
    scale = np.float32(1.0 / levels)
    return grid.astype(np.float32) * scale, total.astype(np.float32) * scale


def render_song(midi: mido.MidiFile, mix_settings: list[tuple[float, float, float]], bpm: float,
                seconds: float, soundfont: str = DEFAULT_SOUNDFONT,
                sample_rate: int = SAMPLE_RATE, bits: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Render every stem track (all tracks after the conductor) and mix them.

    `mix_settings` holds (pan, width, level_db) per stem. Returns float32 stems of shape
    (stems, 2, frames) and the mix (2, frames), which is exactly their sum, both on the
    `bits`-bit PCM grid.
    """
    frames = round(seconds * sample_rate)
    stems = np.stack([
        place(render_track(track, midi.ticks_per_beat, bpm, frames, soundfont, sample_rate),
              *settings)
        for track, settings in zip(midi.tracks[1:], mix_settings, strict=True)
    ])
    return balance(stems, bits)
