"""A DAWproject writer: one ``.dawproject`` file, the exchange format Bitwig, Studio One and
Cubase import.

The file is a ZIP holding ``project.xml`` (tempo, time signature, tracks, the arrangement),
``metadata.xml`` and the audio files, laid out as format version 1.0 describes
(``Project.xsd`` and ``MetaData.xsd``). Positions are in beats (quarter notes). Each audio clip
wraps its file in ``Warps`` that map the clip's length in beats onto the file's length in
seconds, so the importing DAW tempo-locks it; each MIDI clip is a ``Notes`` timeline.

An existing file is added to, never replaced: its tempo and time signature are the session's
(a request for others is refused with SessionMismatch; the project is never retimed), and each
commit appends the tracks placed since the last one, their lanes and audio, and changes nothing
else in it (see :mod:`plugin_host.daw.dawproject_merge`). A backup is kept beside the file
before it is rewritten. A new file is made only where none exists.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

from bridge.atomic import atomic_write
from plugin_host.clip_names import safe_file_name, unique_name
from plugin_host.clips import read_clip_info
from plugin_host.daw.backup import keep_backup
from plugin_host.daw.base import (
    ClipRef,
    SessionInfo,
    SessionMismatch,
    TrackKind,
    TrackRef,
    check_bar,
    refuse_other_grid,
)
from plugin_host.daw.dawproject_merge import (
    PROJECT_ENTRY,
    ExistingProject,
    FreshIds,
    add_to_project,
    read_project,
    write_zip,
)
from plugin_host.daw.midi_notes import MidiNote, read_midi_notes
from plugin_host.daw.staged import StagedAdapter, StagedTrack

FORMAT_VERSION = "1.0"
AUDIO_FOLDER = "audio"
_MAX_FILE_NAME = 100
# Characters XML 1.0 cannot carry at all, not even escaped: a prompt may contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class _Audio:
    source: Path
    seconds: float
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class _Clip:
    name: str
    start: float
    beats: float
    content: _Audio | tuple[MidiNote, ...]


class DawprojectAdapter(StagedAdapter[_Clip]):
    """Builds a DAWproject file; see the module docstring."""

    name = "dawproject"
    stretches_to_grid = True  # each audio clip is warped onto the project's beats

    def __init__(self, path: str | os.PathLike[str], *, bpm: float | None = None,
                 time_signature: tuple[int, int] | None = None,
                 sample_rate: int | None = None, cursor_bar: float = 1.0,
                 title: str | None = None) -> None:
        """Open the project at ``path`` (usually ``*.dawproject``) to add tracks on commit.

        An existing file must be a readable DAWproject (else ValueError naming it) and gives
        the tempo and time signature: ``bpm`` or ``time_signature`` that differ from its own
        raise SessionMismatch. The format records no project sample rate, so ``sample_rate``
        (default: the commonest rate of the project's audio) only describes the clips. Where
        no file exists, a new one at 120 BPM, 4/4, 48000 Hz unless given is written on commit;
        ``title`` goes into a new file's metadata.
        """
        self.path = Path(path)
        self.title = title if title is not None else self.path.stem
        existing = read_project(self.path) if self.path.is_file() else None
        if existing is None:
            numerator, denominator = time_signature or (4, 4)
            info = SessionInfo(120.0 if bpm is None else float(bpm),
                               (int(numerator), int(denominator)), float(cursor_bar),
                               int(sample_rate or 48000))
        else:
            info = SessionInfo(existing.bpm, existing.time_signature, float(cursor_bar),
                               int(sample_rate or existing.sample_rate or 48000))
            refuse_other_grid(info, bpm=bpm, time_signature=time_signature, what="the request")
            _refuse_meter_changes(existing)
        super().__init__(info)
        self._written: tuple[int, int, int] | None = None  # stat of the file we last wrote

    def place_audio_clip(self, track: TrackRef, clip: str | os.PathLike[str],
                         bar: float) -> ClipRef:
        """Place the WAV ``clip`` on ``track`` at ``bar``, warped to the project tempo.

        The clip lasts its ACID beat count when it is a tempo-locked loop (so a loop made at
        another tempo still spans its bars), else its length in seconds at the project tempo.
        """
        info = read_clip_info(clip)
        if info.frames == 0:
            raise ValueError(f"{os.fspath(clip)!r} holds no audio")
        acid = info.acid
        if acid is not None and acid.beats > 0 and not acid.one_shot:
            beats = acid.quarter_notes
        else:
            beats = info.seconds * self._info.bpm / 60.0
        source = Path(clip)
        audio = _Audio(source, info.seconds, info.sample_rate, info.channels)
        return self._place(track, "audio", bar, source.stem, beats, audio)

    def place_midi_clip(self, track: TrackRef, midi: str | os.PathLike[str],
                        bar: float) -> ClipRef:
        """Place the notes of the MIDI file ``midi`` on ``track`` at ``bar``.

        The clip spans the file's length rounded up to whole bars (at least one bar).
        """
        notes = read_midi_notes(midi)
        end = max([notes.length_beats, *(n.start + n.duration for n in notes.notes)])
        bar_beats = self._info.beats_per_bar
        beats = max(1, math.ceil(end / bar_beats - 1e-9)) * bar_beats
        return self._place(track, "midi", bar, Path(midi).stem, beats, notes.notes)

    def commit(self) -> None:
        """Add the tracks placed since the last commit to the project file (atomically).

        An existing file is re-read, must still have the session's tempo and meter, must be
        writable, and is backed up first (unless this adapter wrote it last); nothing else in
        it changes. Where no file exists, a new project is written.
        """
        pending = [t for t in self._tracks.values() if not t.committed]
        if self.path.is_file():
            if pending:
                self._add_to_file(read_project(self.path), pending)
        else:
            self._write_new(pending)
        self._mark_committed()

    def _write_new(self, tracks: list[StagedTrack[_Clip]]) -> None:
        ids = FreshIds()
        entries = _Entries(set())
        project = ET.Element("Project", version=FORMAT_VERSION)
        ET.SubElement(project, "Application", name="Stemloom", version=_application_version())
        transport = ET.SubElement(project, "Transport")
        ET.SubElement(transport, "Tempo", id=ids.new(), name="Tempo", unit="bpm",
                      value=_num(self._info.bpm), min="20.0", max="999.0")
        numerator, denominator = self._info.time_signature
        ET.SubElement(transport, "TimeSignature", id=ids.new(), name="Time Signature",
                      numerator=str(numerator), denominator=str(denominator))
        structure = ET.SubElement(project, "Structure")
        master, master_channel = _track_element(ids, "Master", None, role="master")
        structure.append(master)
        arrangement = ET.SubElement(project, "Arrangement", id=ids.new())
        lanes = ET.SubElement(arrangement, "Lanes", id=ids.new(), timeUnit="beats")
        new_tracks, new_lanes = _tracks_xml(tracks, ids, master_channel, entries)
        structure.extend(new_tracks)
        lanes.extend(new_lanes)
        project_xml, meta = _serialize(project), _metadata_xml(self.title)

        def write(handle: BinaryIO) -> None:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("metadata.xml", meta)
                archive.writestr(PROJECT_ENTRY, project_xml)
                for entry, source in entries.files.items():
                    # WAV barely compresses; storing keeps writing fast.
                    archive.write(source, entry, compress_type=zipfile.ZIP_STORED)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, write)
        self._written = _stat_key(self.path)

    def _add_to_file(self, project: ExistingProject, tracks: list[StagedTrack[_Clip]]) -> None:
        refuse_other_grid(SessionInfo(project.bpm, project.time_signature, 1.0,
                                      self._info.sample_rate),
                          bpm=self._info.bpm, time_signature=self._info.time_signature,
                          what=f"this placement (the project {self.path.name} changed since)")
        _refuse_meter_changes(project)
        mode = self.path.stat().st_mode
        if not os.access(self.path, os.W_OK) or not mode & 0o222:
            raise PermissionError(f"{self.path} is read-only; the project was not changed")
        ids = FreshIds(project.ids)
        entries = _Entries(set(project.entries))
        new_tracks, new_lanes = _tracks_xml(tracks, ids, project.master_channel, entries)
        project_xml = add_to_project(project, new_tracks, new_lanes, ids)
        if self._written != _stat_key(self.path):
            try:
                keep_backup(self.path)
            except OSError as error:
                raise OSError(f"could not keep a backup of {self.path} ({error}); the project "
                              "was not changed") from error

        def write(handle: BinaryIO) -> None:
            if os.chmod in os.supports_fd:  # the project keeps its permissions
                os.chmod(handle.fileno(), stat.S_IMODE(mode))
            write_zip(self.path, handle, {PROJECT_ENTRY: project_xml}, entries.files)

        atomic_write(self.path, write)
        self._written = _stat_key(self.path)

    def _place(self, track: TrackRef, kind: TrackKind, bar: float, name: str, beats: float,
               content: _Audio | tuple[MidiNote, ...]) -> ClipRef:
        owner = self._staged_track(track, kind)
        start = self._info.bar_to_beats(check_bar(bar))
        clip = _Clip(name, start, beats, content)
        owner.clips.append(clip)
        return ClipRef(track, f"{track.id}:{len(owner.clips)}", float(bar))


def _refuse_meter_changes(project: ExistingProject) -> None:
    """SessionMismatch where the project's meter automation leaves its time signature: bars
    would not map to beats on one meter. (Tempo changes are fine: clips are warped in beats.)"""
    if project.other_meters:
        meters = ", ".join("/".join(map(str, meter)) for meter in project.other_meters)
        raise SessionMismatch(
            f"{project.path} changes its time signature along the arrangement (to {meters}); "
            "clips are placed on one meter, so this project is left as it is")


class _Entries:
    """ZIP entry names for the audio files of new clips, unique in the project."""

    def __init__(self, taken: set[str]) -> None:
        self._taken = taken  # lower-cased: ZIP readers on Windows and macOS ignore case
        self.files: dict[str, Path] = {}

    def add(self, source: Path) -> str:
        """A new entry for ``source``; it is written under that name."""
        name = safe_file_name(source.name, _MAX_FILE_NAME)
        entry = unique_name(f"{AUDIO_FOLDER}/{name}", self._taken)
        self._taken.add(entry.lower())
        self.files[entry] = source
        return entry


def _tracks_xml(tracks: list[StagedTrack[_Clip]], ids: FreshIds, destination: str | None,
                entries: _Entries) -> tuple[list[ET.Element], list[ET.Element]]:
    """The ``Track`` elements for ``tracks`` (routed to ``destination``) and their ``Lanes``."""
    elements, lanes = [], []
    for track in tracks:
        element, _ = _track_element(ids, track.name, track.kind, role="regular",
                                    destination=destination)
        elements.append(element)
        # timeUnit on every track's lanes: the project's own lanes may count in seconds.
        track_lanes = ET.Element("Lanes", id=ids.new(), track=element.get("id", ""),
                                 timeUnit="beats")
        clips = ET.SubElement(track_lanes, "Clips", id=ids.new())
        for clip in track.clips:
            _clip_element(clips, ids, clip, entries)
        lanes.append(track_lanes)
    return elements, lanes


def _track_element(ids: FreshIds, name: str, kind: TrackKind | None, role: str,
                   destination: str | None = None) -> tuple[ET.Element, str]:
    """A Track with its mixer Channel (unity volume, centre pan), and the channel's XML id."""
    track = ET.Element("Track", id=ids.new(), name=_text(name), loaded="true")
    if kind is not None:
        track.set("contentType", "notes" if kind == "midi" else "audio")
    channel = ET.SubElement(track, "Channel", id=ids.new(), role=role, audioChannels="2",
                            solo="false")
    if destination is not None:
        channel.set("destination", destination)
    ET.SubElement(channel, "Mute", id=ids.new(), name="Mute", value="false")
    ET.SubElement(channel, "Pan", id=ids.new(), name="Pan", unit="normalized", value="0.5",
                  min="0.0", max="1.0")
    ET.SubElement(channel, "Volume", id=ids.new(), name="Volume", unit="linear", value="1.0",
                  min="0.0", max="2.0")
    return track, channel.get("id", "")


def _clip_element(parent: ET.Element, ids: FreshIds, clip: _Clip, entries: _Entries) -> None:
    element = ET.SubElement(parent, "Clip", name=_text(clip.name), time=_num(clip.start),
                            duration=_num(clip.beats), contentTimeUnit="beats",
                            playStart="0.0")
    if isinstance(clip.content, _Audio):
        audio = clip.content
        # Warps map beats in the clip onto seconds in the file: the DAW stretches to fit.
        warps = ET.SubElement(element, "Warps", id=ids.new(), timeUnit="beats",
                              contentTimeUnit="seconds")
        media = ET.SubElement(warps, "Audio", id=ids.new(), timeUnit="seconds",
                              duration=_num(audio.seconds), channels=str(audio.channels),
                              sampleRate=str(audio.sample_rate))
        ET.SubElement(media, "File", path=entries.add(audio.source))
        ET.SubElement(warps, "Warp", time="0.0", contentTime="0.0")
        ET.SubElement(warps, "Warp", time=_num(clip.beats), contentTime=_num(audio.seconds))
    else:
        notes = ET.SubElement(element, "Notes", id=ids.new())
        for note in clip.content:
            ET.SubElement(notes, "Note", time=_num(note.start), duration=_num(note.duration),
                          channel=str(note.channel), key=str(note.key),
                          vel=_num(note.velocity / 127))


def _metadata_xml(title: str) -> bytes:
    """The ``metadata.xml`` document."""
    root = ET.Element("MetaData")
    ET.SubElement(root, "Title").text = _text(title)
    ET.SubElement(root, "Comment").text = "Made with Stemloom"
    return _serialize(root)


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root)
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue()


def _num(value: float) -> str:
    """A finite number in xs:double form."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return repr(float(value))


def _text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot represent."""
    return _NOT_XML.sub("", value)


def _application_version() -> str:
    try:
        return metadata.version("stemloom")
    except metadata.PackageNotFoundError:
        return "unknown"


def _stat_key(path: Path) -> tuple[int, int, int]:
    """What changes when anyone rewrites ``path``: inode, size, modification time."""
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns
