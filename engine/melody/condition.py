"""A request's melody as the generator follows it: the file read, fitted to the requested bars
(and moved into the requested key), and written back as a MIDI clip on the grid for the host
to place on its own track. Every generator answers a melody request the same way."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from bridge.timing import quarters_per_bar
from engine.melody.tokens import MelodyNote
from engine.request import GenerationRequest, RequestError


def request_melody(request: GenerationRequest) -> list[MelodyNote]:
    """The notes of ``request.melody`` on the request's grid (none without a melody); a file
    that cannot be used is a RequestError."""
    if not request.melody:
        return []
    from engine.melody.grid import Timing, fit_to_grid
    from engine.melody.key import transpose_to_key
    from engine.melody.load import MelodyError, load_melody

    try:
        # A MIDI clip keeps its beats at the request's tempo, whatever tempo it was saved at.
        notes = load_melody(request.melody, bpm=request.bpm)
    except MelodyError as error:
        raise RequestError(f"melody: {error}") from None
    beats = float(quarters_per_bar(request.time_signature))
    # A hum is fitted as the request says it was sung (to the click, freely, or to be
    # stretched); a MIDI clip already sits on a grid and keeps its beat positions.
    sung = Path(request.melody).read_bytes()[:4] != b"MThd"
    timing = cast(Timing, request.melody_timing) if sung else "click"
    notes = fit_to_grid(notes, request.bpm, request.bars, beats, timing=timing)
    return transpose_to_key(notes, request.key) if request.key else notes


def melody_clip(notes: list[MelodyNote], bpm: float) -> bytes:
    """The notes as a Standard MIDI File at ``bpm`` (empty bytes for no notes)."""
    if not notes:
        return b""
    from engine.melody.to_midi import melody_to_midi

    return melody_to_midi(notes, bpm)
