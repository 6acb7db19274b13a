"""The engine's own generation request: what a model is asked to make, in engine terms.

The OSC server turns a ``bridge.messages.Generate`` into a ``GenerationRequest`` at its edge
(``engine.server.service``), and the Python API (``engine.api``) builds one from keyword
arguments, so the models never see the wire protocol. A request a model cannot serve (an
unreadable input file, a plan from another model, a stem the model does not know) raises
``RequestError``; the server maps it to a ``bad_argument`` fail reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bridge import limits

if TYPE_CHECKING:
    from bridge.messages import Generate

# An audio input: a file path, or ``(audio, sample_rate)`` with audio float32 shaped
# (channels, samples) (1 or 2 channels) at ``sample_rate`` Hz.
AudioInput = str | Path | tuple[np.ndarray, int]
# What a generator keeps of one generation so a later request can make some stems again on
# the same musical plan: named arrays (the server stores them as an .npz).
KeptPlan = dict[str, np.ndarray]


class RequestError(ValueError):
    """A request the model cannot serve; the message starts with the field at fault."""


@dataclass(frozen=True)
class GenerationRequest:
    """One generation, fully resolved (no field is read from the words of the prompt here).

    Times are musical: ``bpm`` beats per minute, ``bars`` of ``time_signature``. The model
    makes at least that much audio at its native rate; cutting to the exact bar length and
    resampling is ``engine.api.render``'s job.
    """

    prompt: str
    bpm: float = 120.0
    bars: int = 8
    time_signature: str = "4/4"
    key: str = ""  # e.g. "A minor"; "" lets the model choose
    stems: tuple[str, ...] = ("drums", "bass", "keys", "lead")
    variations: int = 1
    melody: str = ""  # path of a hum (audio) or a MIDI file; "" for none
    melody_timing: str = "free"  # free, click or stretch (see bridge.messages.Generate)
    loop: bool = False
    reference: AudioInput | None = None  # audio whose style to follow
    reference_weight: float = 0.5  # share of the reference in the style (0-1)
    continue_from: AudioInput | None = None  # audio to continue: the new bars follow it
    keep_plan: KeptPlan | None = field(default=None, repr=False)  # plan to keep (regenerate)
    guidance: float = 3.0  # classifier-free guidance (1: off)
    temperature: float = limits.DEFAULT_TEMPERATURE
    top_k: int = 250  # 0: no limit
    top_p: float = 0.0  # 0: no limit
    best_of: int = 1  # candidates per variation; MuLan keeps the one closest to the prompt

    def stem_names(self) -> list[str]:
        """Output names of the stems and variations, in order: ``<stem>`` with one
        variation, else ``<stem>.<n>`` (n from 1), variation-major."""
        if self.variations == 1:
            return list(self.stems)
        return [f"{stem}.{n}" for n in range(1, self.variations + 1) for stem in self.stems]


def read_input(name: str, value: AudioInput, sample_rate: int, max_seconds: float
               ) -> np.ndarray:
    """(2, samples) float32 at ``sample_rate`` of an audio input (mono is doubled), or a
    RequestError naming the field ``name``."""
    from engine.codec.io import CodecFileError, read_audio

    if isinstance(value, (str, Path)):
        try:
            audio: np.ndarray = read_audio(Path(value), sample_rate, max_seconds=max_seconds)
            return audio
        except CodecFileError as error:
            raise RequestError(f"{name}: {error}") from None
    audio, rate = value
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[0] not in (1, 2) or not audio.shape[1]:
        raise RequestError(f"{name}: expected (channels, samples) audio with 1 or 2 channels, "
                           f"got shape {audio.shape}")
    if audio.shape[1] > max_seconds * rate:
        raise RequestError(f"{name}: longer than {max_seconds:.0f} s")
    if rate != sample_rate:
        import soxr

        audio = soxr.resample(audio.T, rate, sample_rate).T.astype(np.float32)
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    return np.ascontiguousarray(audio)


def from_generate(message: Generate, keep_plan: KeptPlan | None = None) -> GenerationRequest:
    """The GenerationRequest of a protocol generate message (the server's edge; its
    ``keep_from`` job id becomes the plan that job left, ``keep_plan``)."""
    return GenerationRequest(
        prompt=message.prompt, bpm=message.bpm, bars=message.bars,
        time_signature=message.time_signature, key=message.key, stems=tuple(message.stems),
        variations=message.variations, melody=message.melody,
        melody_timing=message.melody_timing, loop=message.loop,
        reference=message.reference or None, reference_weight=message.reference_weight,
        continue_from=message.continue_from or None, keep_plan=keep_plan,
        guidance=message.guidance, temperature=message.temperature, top_k=message.top_k,
        top_p=message.top_p, best_of=message.best_of)
