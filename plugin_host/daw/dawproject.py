"""A DAWproject writer: one ``.dawproject`` file, the exchange format Bitwig, Studio One and
Cubase import.

The file is a ZIP holding ``project.xml`` (tempo, time signature, tracks, the arrangement),
``metadata.xml`` and the audio files, laid out as format version 1.0 describes
(``Project.xsd`` and ``MetaData.xsd``). Positions are in beats (quarter notes). Each audio clip
wraps its file in ``Warps`` that map the clip's length in beats onto the file's length in
seconds, so the importing DAW tempo-locks it; each MIDI clip is a ``Notes`` timeline.

Every commit rewrites the whole file (atomically) with every track placed through this adapter;
an existing file at the path is replaced, never merged.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

from bridge.atomic import atomic_write
from plugin_host.clip_names import safe_file_name, unique_name
from plugin_host.clips import read_clip_info
from plugin_host.daw.base import ClipRef, SessionInfo, TrackKind, TrackRef, check_bar
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
    entry: str
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

    def __init__(self, path: str | os.PathLike[str], *, bpm: float = 120.0,
                 time_signature: tuple[int, int] = (4, 4), sample_rate: int = 48000,
                 cursor_bar: float = 1.0, title: str | None = None) -> None:
        """Prepare a project to be written to ``path`` (usually ``*.dawproject``) on commit."""
        self.path = Path(path)
        self.title = title if title is not None else self.path.stem
        numerator, denominator = time_signature
        super().__init__(SessionInfo(float(bpm), (int(numerator), int(denominator)),
                                     float(cursor_bar), int(sample_rate)))

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
        audio = _Audio(source, self._free_entry(source), info.seconds, info.sample_rate,
                       info.channels)
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
        """Write the project file (atomically) with every track placed so far."""
        project = _project_xml(self._info, list(self._tracks.values()), _application_version())
        meta = _metadata_xml(self.title)
        audio = {clip.content.entry: clip.content.source for t in self._tracks.values()
                 for clip in t.clips if isinstance(clip.content, _Audio)}

        def write(handle: BinaryIO) -> None:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("metadata.xml", meta)
                archive.writestr("project.xml", project)
                for entry, source in audio.items():
                    # WAV barely compresses; storing keeps writing fast.
                    archive.write(source, entry, compress_type=zipfile.ZIP_STORED)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, write)
        self._mark_committed()

    def _place(self, track: TrackRef, kind: TrackKind, bar: float, name: str, beats: float,
               content: _Audio | tuple[MidiNote, ...]) -> ClipRef:
        owner = self._staged_track(track, kind)
        start = self._info.bar_to_beats(check_bar(bar))
        clip = _Clip(name, start, beats, content)
        owner.clips.append(clip)
        return ClipRef(track, f"{track.id}:{len(owner.clips)}", float(bar))

    def _free_entry(self, source: Path) -> str:
        """A ZIP entry name for ``source`` that no other clip of this project uses."""
        taken = {clip.content.entry.lower() for t in self._tracks.values() for clip in t.clips
                 if isinstance(clip.content, _Audio)}
        name = safe_file_name(source.name, _MAX_FILE_NAME)
        return unique_name(f"{AUDIO_FOLDER}/{name}", taken)


def _project_xml(info: SessionInfo, tracks: list[StagedTrack[_Clip]], version: str) -> bytes:
    """The ``project.xml`` document for ``tracks`` in a session described by ``info``."""
    ids = _Ids()
    project = ET.Element("Project", version=FORMAT_VERSION)
    ET.SubElement(project, "Application", name="Stemloom", version=version)
    transport = ET.SubElement(project, "Transport")
    ET.SubElement(transport, "Tempo", id=ids.new(), name="Tempo", unit="bpm",
                  value=_num(info.bpm), min="20.0", max="999.0")
    numerator, denominator = info.time_signature
    ET.SubElement(transport, "TimeSignature", id=ids.new(), name="Time Signature",
                  numerator=str(numerator), denominator=str(denominator))

    structure = ET.SubElement(project, "Structure")
    _, master_channel = _track_element(structure, ids, "Master", None, role="master")
    track_ids = {t.id: _track_element(structure, ids, t.name, t.kind, role="regular",
                                      destination=master_channel)[0]
                 for t in tracks}

    arrangement = ET.SubElement(project, "Arrangement", id=ids.new())
    lanes = ET.SubElement(arrangement, "Lanes", id=ids.new(), timeUnit="beats")
    for track in tracks:
        track_lanes = ET.SubElement(lanes, "Lanes", id=ids.new(), track=track_ids[track.id])
        clips = ET.SubElement(track_lanes, "Clips", id=ids.new())
        for clip in track.clips:
            _clip_element(clips, ids, clip)
    return _serialize(project)


def _track_element(parent: ET.Element, ids: _Ids, name: str, kind: TrackKind | None,
                   role: str, destination: str | None = None) -> tuple[str, str]:
    """Add a Track with its mixer Channel (unity volume, centre pan); return both XML ids."""
    track = ET.SubElement(parent, "Track", id=ids.new(), name=_text(name), loaded="true")
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
    return track.get("id", ""), channel.get("id", "")


def _clip_element(parent: ET.Element, ids: _Ids, clip: _Clip) -> None:
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
        ET.SubElement(media, "File", path=audio.entry)
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


class _Ids:
    """XML IDs (xs:ID must not start with a digit), unique within one document."""

    def __init__(self) -> None:
        self._next = 0

    def new(self) -> str:
        self._next += 1
        return f"id{self._next}"


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
