"""What the window does with a finished job's stems: tagged clips to drag, placement in a DAW."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bridge.messages import Done
from plugin_host.daw import ClipRef
from plugin_host.jobs import HostState, JobRecord
from plugin_host.placement import (
    levels_for,
    melody_track,
    open_adapter,
    stem_gains,
    write_clips,
    write_melody_clip,
)


def done_from_record(record: JobRecord) -> Done:
    """The done reply a finished job's record stands for (model and metadata are not kept
    in the journal; clips and placement do not need them)."""
    if record.state != HostState.DONE or not record.stems:
        raise ValueError(f"job {record.id} has not finished ({record.state})")
    request = record.request
    return Done(
        request_id=record.id, bpm=request.bpm, bars=request.bars,
        time_signature=request.time_signature, key=record.key,
        sample_rate=request.sample_rate, format=request.format, seed=record.seed,
        loop=request.loop, model="", metadata="", stems=dict(record.stems),
        melody_midi=record.melody_midi,
    )


def export_clips(record: JobRecord, clips_root: Path, loudness: float | None = None
                 ) -> dict[str, Path]:
    """Tempo-tagged clip files (ACID chunk, a name that says prompt, bpm, key, bars and stem)
    of ``record``'s stems under ``clips_root``/job id; stem -> file. With ``loudness``
    (LUFS) each take is written at that loudness: one gain for all its stems, peak-safe.

    They stay there: a DAW may reference a dropped file where it lies.
    """
    done = done_from_record(record)
    gains = stem_gains(done, levels_for(done, loudness)) if loudness is not None else None
    return write_clips(done, record.request.prompt, clips_root / record.id, gains)


def export_melody(record: JobRecord, clips_root: Path) -> Path | None:
    """The MIDI clip of the melody ``record`` followed, beside its tagged clips under
    ``clips_root``/job id; None when the job had no melody."""
    return write_melody_clip(done_from_record(record), record.request.prompt,
                             clips_root / record.id)


def send_to_daw(record: JobRecord, clips: Mapping[str, Path], daw: str, target: str,
                bar: float | None = None, melody: Path | None = None) -> dict[str, ClipRef]:
    """Place ``clips`` (stem -> tagged clip file of ``record``, effects and all) on new tracks
    through adapter ``daw`` at ``bar`` (default: the session cursor), all or nothing; the
    ``melody`` MIDI clip goes on a MIDI track of its own where the adapter places MIDI.

    ``target`` is the session file or folder ("" for a running DAW); a new session takes
    the job's tempo, meter and rate.
    """
    request = record.request
    numerator, denominator = (int(part) for part in request.time_signature.split("/"))
    adapter = open_adapter(daw, Path(target).expanduser() if target else None,
                           bpm=request.bpm, time_signature=(numerator, denominator),
                           sample_rate=request.sample_rate)
    return adapter.place_stems(dict(clips), bar, melody_track(adapter, melody))
