"""A REAPER project writer: one ``.RPP`` file REAPER opens, with one track per stem.

Audio clips are copied into a ``Media`` folder beside the project and referenced by relative
path (``<SOURCE WAVE``), so the project and its media move together; each item starts at its
bar (``POSITION`` in seconds at the session tempo) and lasts its file's length. MIDI clips are
written into the project as REAPER's in-project MIDI (``<SOURCE MIDI`` with ``E`` events at
960 ticks per quarter note), spanning whole bars.

Opening an existing project (written by this adapter or saved by REAPER) never retimes it:
its text is kept byte for byte and the new tracks are inserted before its closing ``>``;
session facts given that differ from its ``TEMPO``, meter or ``SAMPLERATE`` are refused
(:class:`~plugin_host.daw.base.SessionMismatch`), and so is a project whose tempo map changes
tempo or meter (a clip made at one tempo cannot follow it). Tracks already in the file cannot
take new clips. A commit copies the media, keeps a backup of the project beside it, then
replaces the project file atomically; if anything fails, the copies are removed and the
project is left as it was. A project changed on disk since it was opened is not overwritten.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import BinaryIO

from bridge.atomic import atomic_write, atomic_write_bytes
from plugin_host.clip_names import safe_file_name, unique_name
from plugin_host.clips import read_clip_info
from plugin_host.daw import rpp
from plugin_host.daw.backup import keep_backup
from plugin_host.daw.base import (
    ClipRef,
    PlacementError,
    SessionInfo,
    SessionMismatch,
    TrackKind,
    TrackRef,
    check_bar,
    refuse_other_grid,
)
from plugin_host.daw.midi_notes import MidiNote, read_midi_notes
from plugin_host.daw.staged import StagedAdapter, StagedTrack

MEDIA_FOLDER = "Media"
MIDI_TICKS_PER_BEAT = 960
_MAX_FILE_NAME = 100
_INDENT = "  "


@dataclass(frozen=True)
class _Item:
    name: str
    position: float
    length: float
    media: str | None = None  # relative path of the copied audio file; None for MIDI
    source: Path | None = None  # the audio file to copy at commit
    events: tuple[str, ...] = ()  # in-project MIDI event lines


class ReaperAdapter(StagedAdapter[_Item]):
    """Writes (or appends to) a REAPER project; see the module docstring."""

    name = "reaper"

    def __init__(self, path: str | os.PathLike[str], *, bpm: float | None = None,
                 time_signature: tuple[int, int] | None = None, sample_rate: int | None = None,
                 cursor_bar: float | None = None) -> None:
        """Open the project ``path`` (``*.RPP``), reading it when it exists.

        A new project takes the given facts, else 120 bpm, 4/4, 48 kHz, cursor at bar 1. An
        existing one keeps its own: given facts must agree with them (else SessionMismatch).
        Raises ValueError if the file is not an RPP project.
        """
        self.path = Path(path)
        self._text = self.path.read_bytes().decode("utf-8") if self.path.exists() else None
        if self._text is None:
            meter = time_signature or (4, 4)
            info = SessionInfo(float(bpm or 120.0), (int(meter[0]), int(meter[1])),
                               float(cursor_bar or 1.0), int(sample_rate or 48000))
            super().__init__(info)
            return
        try:
            project = _parse_project(self._text)
        except ValueError as error:
            raise ValueError(f"{self.path} is not a REAPER project REAPER could open: "
                             f"{error}") from error
        stored_bpm, stored_meter, stored_rate, stored_cursor = _stored_facts(project)
        _refuse_tempo_changes(project, stored_bpm, stored_meter)
        stored = SessionInfo(stored_bpm, stored_meter, 1.0, stored_rate)
        refuse_other_grid(stored, bpm=bpm, time_signature=time_signature,
                          sample_rate=sample_rate, what="the request")
        cursor = (float(cursor_bar) if cursor_bar is not None
                  else 1 + stored_cursor * stored_bpm / 60 / stored.beats_per_bar)
        super().__init__(SessionInfo(stored_bpm, stored_meter, cursor, stored_rate))
        for index, track in enumerate(project.chunks("TRACK")):
            track_id = track.args[0] if track.args else f"existing-{index}"
            name = " ".join(track.attribute("NAME") or [])
            kind: TrackKind = "midi" if _has_midi(track) else "audio"
            self._tracks[track_id] = StagedTrack(track_id, name, kind, committed=True)

    @property
    def media_folder(self) -> Path:
        """Where audio clips are copied to."""
        return self.path.parent / MEDIA_FOLDER

    def place_audio_clip(self, track: TrackRef, clip: str | os.PathLike[str],
                         bar: float) -> ClipRef:
        """Queue the WAV ``clip`` for ``track`` at ``bar``, lasting the file's length."""
        info = read_clip_info(clip)
        if info.frames == 0:
            raise ValueError(f"{os.fspath(clip)!r} holds no audio")
        source = Path(clip)
        media = f"{MEDIA_FOLDER}/{self._free_media_name(source)}"
        return self._place(track, "audio", bar, _Item(source.stem, 0.0, info.seconds,
                                                      media=media, source=source))

    def place_midi_clip(self, track: TrackRef, midi: str | os.PathLike[str],
                        bar: float) -> ClipRef:
        """Queue the notes of ``midi`` for ``track`` at ``bar``, spanning whole bars."""
        notes = read_midi_notes(midi)
        end = max([notes.length_beats, *(n.start + n.duration for n in notes.notes)])
        bar_beats = self._info.beats_per_bar
        beats = max(1, math.ceil(end / bar_beats - 1e-9)) * bar_beats
        events = _midi_events(notes.notes, beats)
        item = _Item(Path(midi).stem, 0.0, beats * 60 / self._info.bpm, events=events)
        return self._place(track, "midi", bar, item)

    def commit(self) -> None:
        """Copy the queued media, then write the project with the new tracks; all or nothing."""
        new_tracks = [t for t in self._tracks.values() if not t.committed]
        text = self._project_text(new_tracks)
        pending = [(item.source, self.path.parent / item.media) for t in new_tracks
                   for item in t.clips if item.source is not None and item.media is not None]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        copied: list[Path] = []
        try:
            if self._text is not None:
                self._refuse_changed_on_disk()
            if pending:
                self.media_folder.mkdir(exist_ok=True)
            for source, target in pending:
                atomic_write(target, partial(_copy, source))
                copied.append(target)
            if self._text is not None:
                keep_backup(self.path)
            atomic_write_bytes(self.path, text.encode("utf-8"))
        except BaseException:
            for target in copied:
                target.unlink(missing_ok=True)
            raise
        self._text = text
        self._mark_committed()

    def _place(self, track: TrackRef, kind: TrackKind, bar: float, item: _Item) -> ClipRef:
        owner = self._staged_track(track, kind)
        if owner.committed:
            raise ValueError(f"track {owner.name!r} is in the project already; "
                             "place clips on a new track")
        position = self._info.bar_to_seconds(check_bar(bar))
        owner.clips.append(replace(item, position=position))
        return ClipRef(track, f"{track.id}:{len(owner.clips)}", float(bar))

    def _free_media_name(self, source: Path) -> str:
        """A safe file name in the media folder that no file or queued clip uses yet."""
        taken = {Path(item.media).name.lower() for t in self._tracks.values()
                 for item in t.clips if item.media is not None}
        if self.media_folder.is_dir():
            taken |= {path.name.lower() for path in self.media_folder.iterdir()}
        return unique_name(safe_file_name(source.name, _MAX_FILE_NAME), taken)

    def _refuse_changed_on_disk(self) -> None:
        """PlacementError if someone saved the project since this adapter read it."""
        if self.path.read_bytes().decode("utf-8") != self._text:
            raise PlacementError(f"{self.path} changed on disk since it was opened (saved "
                                 "from REAPER?); nothing was written, place the stems again")

    def _project_text(self, new_tracks: list[StagedTrack[_Item]]) -> str:
        """The whole project: the existing text with the new tracks inserted before its
        closing ``>`` (nothing else changes), or a new project."""
        if self._text is None:
            info = self._info
            numerator, denominator = info.time_signature
            lines = [f'<REAPER_PROJECT 0.1 "7.0/stemloom" {int(time.time())}',
                     f"{_INDENT}TEMPO {rpp.number(info.bpm)} {numerator} {denominator}",
                     f"{_INDENT}SAMPLERATE {info.sample_rate} 0 0",
                     f"{_INDENT}CURSOR {rpp.number(info.bar_to_seconds(info.cursor_bar))}",
                     *(line for track in new_tracks for line in _track_lines(track)), ">"]
            return "\n".join(lines) + "\n"
        newline = "\r\n" if "\r\n" in self._text else "\n"
        head, closing = _split_closing(self._text)
        added = "".join(line + newline for track in new_tracks for line in _track_lines(track))
        return head + added + closing


def _parse_project(text: str) -> rpp.Chunk:
    project = rpp.parse(text)
    if project.name != "REAPER_PROJECT":
        raise ValueError(f"not a REAPER project (top chunk is {project.name!r})")
    return project


def _stored_facts(project: rpp.Chunk) -> tuple[float, tuple[int, int], int, float]:
    """bpm, time signature, sample rate and cursor seconds of ``project`` (REAPER's defaults
    for lines it left out)."""
    tempo = project.attribute("TEMPO") or ["120", "4", "4"]
    rate = project.attribute("SAMPLERATE") or ["48000"]
    cursor = project.attribute("CURSOR") or ["0"]
    try:
        return (float(tempo[0]), (int(tempo[1]), int(tempo[2])), int(float(rate[0])),
                float(cursor[0]))
    except (IndexError, ValueError) as error:
        raise ValueError(f"unreadable TEMPO, SAMPLERATE or CURSOR line: {error}") from error


def _has_midi(track: rpp.Chunk) -> bool:
    return any(source.args[:1] == ["MIDI"] for item in track.chunks("ITEM")
               for source in item.chunks("SOURCE"))


def _split_closing(text: str) -> tuple[str, str]:
    """``text`` cut just before the line holding the project's closing ``>`` (checked to be
    there when the file was read): everything before it, and that line to the end."""
    body = text.rstrip()
    line_start = body.rfind("\n") + 1
    if body[line_start:].strip() != ">":
        raise ValueError("the project does not end with a line holding '>'")
    return text[:line_start], text[line_start:]


def _refuse_tempo_changes(project: rpp.Chunk, bpm: float, meter: tuple[int, int]) -> None:
    """SessionMismatch if the project's tempo map (``<TEMPOENVEX``) ever leaves ``bpm`` or
    ``meter``: a clip made at one tempo would drift off the grid there."""
    for envelope in project.chunks("TEMPOENVEX"):
        for tokens in envelope.lines:
            if tokens[:1] != ["PT"] or len(tokens) < 3:
                continue
            try:
                seconds, tempo = float(tokens[1]), float(tokens[2])
                packed = int(tokens[4]) if len(tokens) > 4 else 0
            except ValueError as error:
                raise ValueError(f"unreadable tempo map point {tokens!r}") from error
            point_meter = (packed & 0xFFFF, packed >> 16) if packed else meter
            if abs(tempo - bpm) > 1e-3 or point_meter != meter:
                raise SessionMismatch(
                    f"the project's tempo map changes to {tempo:g} BPM in "
                    f"{point_meter[0]}/{point_meter[1]} at {seconds:g} s; Stemloom places "
                    "clips only into projects with one tempo and meter so far")


def _track_lines(track: StagedTrack[_Item]) -> list[str]:
    guid = "{" + str(uuid.uuid4()).upper() + "}"
    lines = [f"{_INDENT}<TRACK {guid}", f"{_INDENT * 2}NAME {rpp.quote(track.name)}",
             f"{_INDENT * 2}TRACKID {guid}"]
    for item in track.clips:
        lines += [f"{_INDENT * 2}<ITEM",
                  f"{_INDENT * 3}POSITION {rpp.number(item.position)}",
                  f"{_INDENT * 3}LENGTH {rpp.number(item.length)}",
                  f"{_INDENT * 3}LOOP 0",
                  f"{_INDENT * 3}NAME {rpp.quote(item.name)}"]
        if item.media is not None:
            lines += [f"{_INDENT * 3}<SOURCE WAVE", f"{_INDENT * 4}FILE {rpp.quote(item.media)}"]
        else:
            lines += [f"{_INDENT * 3}<SOURCE MIDI",
                      f"{_INDENT * 4}HASDATA 1 {MIDI_TICKS_PER_BEAT} QN",
                      *(f"{_INDENT * 4}{event}" for event in item.events)]
        lines += [f"{_INDENT * 3}>", f"{_INDENT * 2}>"]
    lines.append(f"{_INDENT}>")
    return lines


def _midi_events(notes: tuple[MidiNote, ...], beats: float) -> tuple[str, ...]:
    """REAPER ``E`` lines (delta ticks, status, two data bytes in hex) for ``notes``.

    Notes are cut at the clip end; a note-off sorts before a note-on at the same tick. The
    last line, an all-notes-off controller at the clip end, tells REAPER the source length.
    """
    end = round(beats * MIDI_TICKS_PER_BEAT)
    events: list[tuple[int, int, int, int, int]] = []
    for note in notes:
        start = round(note.start * MIDI_TICKS_PER_BEAT)
        if start >= end:
            continue
        stop = min(end, max(start + 1, round((note.start + note.duration)
                                             * MIDI_TICKS_PER_BEAT)))
        events.append((start, 1, 0x90 | note.channel, note.key, max(1, note.velocity)))
        events.append((stop, 0, 0x80 | note.channel, note.key, 0))
    events.sort()
    events.append((end, 2, 0xB0, 0x7B, 0))
    lines: list[str] = []
    previous = 0
    for tick, _, status, data1, data2 in events:
        lines.append(f"E {tick - previous} {status:02x} {data1:02x} {data2:02x}")
        previous = tick
    return tuple(lines)


def _copy(source: Path, out: BinaryIO) -> None:
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, out)
