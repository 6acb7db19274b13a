"""A REAPER project writer: one ``.RPP`` file REAPER opens, with one track per stem.

Audio clips are copied into a ``Media`` folder beside the project and referenced by relative
path (``<SOURCE WAVE``), so the project and its media move together; each item starts at its
bar (``POSITION`` in seconds at the session tempo) and lasts its file's length. MIDI clips are
written into the project as REAPER's in-project MIDI (``<SOURCE MIDI`` with ``E`` events at
960 ticks per quarter note), spanning whole bars.

Opening an existing project (written by this adapter or saved by REAPER) keeps its text as it
is and appends the new tracks at commit; given session facts replace its ``TEMPO`` and
``SAMPLERATE`` values. Tracks already in the file cannot take new clips. A commit copies the
media, then replaces the project file atomically; if anything fails, the copies are removed
and the project is left as it was.
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
from plugin_host.daw.base import ClipRef, SessionInfo, TrackKind, TrackRef, check_bar
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

        Given session facts override the stored ones; a new project defaults to 120 bpm,
        4/4, 48 kHz, cursor at bar 1. Raises ValueError if the file is not an RPP project.
        """
        self.path = Path(path)
        self._text = self.path.read_text("utf-8") if self.path.exists() else None
        project = _parse_project(self._text) if self._text is not None else None
        stored_bpm, stored_meter, stored_rate, stored_cursor = _stored_facts(project)
        bpm_value = float(bpm if bpm is not None else stored_bpm)
        meter = time_signature or stored_meter
        info = SessionInfo(bpm_value, (int(meter[0]), int(meter[1])), 1.0,
                           int(sample_rate or stored_rate))
        cursor = (float(cursor_bar) if cursor_bar is not None
                  else 1 + stored_cursor * bpm_value / 60 / info.beats_per_bar)
        super().__init__(SessionInfo(info.bpm, info.time_signature, cursor, info.sample_rate))
        for index, track in enumerate(project.chunks("TRACK") if project else []):
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
            if pending:
                self.media_folder.mkdir(exist_ok=True)
            for source, target in pending:
                atomic_write(target, partial(_copy, source))
                copied.append(target)
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

    def _project_text(self, new_tracks: list[StagedTrack[_Item]]) -> str:
        """The whole project: the existing text (facts updated) or a new header, then tracks."""
        info = self._info
        numerator, denominator = info.time_signature
        facts = {"TEMPO": [rpp.number(info.bpm), str(numerator), str(denominator)],
                 "SAMPLERATE": [str(info.sample_rate), "0", "0"]}
        if self._text is None:
            cursor = rpp.number(info.bar_to_seconds(info.cursor_bar))
            lines = [f'<REAPER_PROJECT 0.1 "7.0/stemloom" {int(time.time())}',
                     *(f"{_INDENT}{name} {' '.join(values)}" for name, values in facts.items()),
                     f"{_INDENT}CURSOR {cursor}"]
        else:
            lines = _with_facts(self._text.splitlines(), facts)
            while lines and not lines[-1].strip():
                lines.pop()
            lines.pop()  # the project's closing '>' (checked when the file was read)
        for track in new_tracks:
            lines.extend(_track_lines(track))
        lines.append(">")
        return "\n".join(lines) + "\n"


def _parse_project(text: str) -> rpp.Chunk:
    project = rpp.parse(text)
    if project.name != "REAPER_PROJECT":
        raise ValueError(f"not a REAPER project (top chunk is {project.name!r})")
    return project


def _stored_facts(project: rpp.Chunk | None) -> tuple[float, tuple[int, int], int, float]:
    """bpm, time signature, sample rate and cursor seconds of ``project`` (defaults if None)."""
    if project is None:
        return 120.0, (4, 4), 48000, 0.0
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


def _with_facts(lines: list[str], facts: dict[str, list[str]]) -> list[str]:
    """``lines`` with the project-level attributes in ``facts`` set (the first values only).

    Extra values REAPER keeps after the ones given are left alone; an attribute the project
    lacks is added right after the ``<REAPER_PROJECT`` line.
    """
    result: list[str] = []
    depth = 0
    seen: set[str] = set()
    for line in lines:
        stripped = line.strip()
        tokens = rpp.tokenize(stripped) if depth == 1 else []
        if tokens and tokens[0] in facts and tokens[0] not in seen:
            name = tokens[0]
            values = facts[name] + [rpp.quote(t) for t in tokens[1 + len(facts[name]):]]
            line = f"{line[:len(line) - len(line.lstrip())]}{name} {' '.join(values)}"
            seen.add(name)
        result.append(line)
        if stripped.startswith("<"):
            depth += 1
        elif stripped == ">":
            depth -= 1
    missing = [f"{_INDENT}{name} {' '.join(values)}" for name, values in facts.items()
               if name not in seen]
    return result[:1] + missing + result[1:]


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
