"""Reading LMMS project files (.mmp, .mmpz): tempo, meter and what each rendered track is.

A .mmpz is a 4-byte big-endian length followed by the zlib-compressed XML of a .mmp.
`lmms rendertracks` writes one file per unmuted instrument or sample track, numbered from 1:
first the song's tracks in order, then the tracks of the beat+bassline (BB) editor.
`project_tracks` lists the tracks in that same order, each with its name, instrument plugin,
the sample/soundfont it plays, the names of the BB tracks its notes play in, and its notes
in seconds (BB patterns repeated over their clips; tempo automation is not followed).
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from pathlib import Path

TICKS_PER_BAR = 192  # LMMS: 48 ticks a beat, a 4/4 bar
TICKS_PER_BEAT = 48
MIDI_OFFSET = 12  # LMMS key 57 is A4, MIDI 69
INSTRUMENT, BB, SAMPLE = "0", "1", "2"  # LMMS track types


class ProjectError(ValueError):
    """A file that is not a readable LMMS project (the message says why)."""


@dataclass
class TrackInfo:
    """One track as `lmms rendertracks` numbers it."""

    index: int  # 1-based, the number rendertracks puts before its file name
    name: str
    kind: str  # "instrument" or "sample"
    plugin: str = ""  # instrument plugin (tripleoscillator, audiofileprocessor, sf2player...)
    source: str = ""  # the sample or soundfont file the plugin plays, if any
    program: int | None = None  # sf2player patch and bank
    bank: int | None = None
    beat_bassline: bool = False
    bb_names: dict[str, int] = field(default_factory=dict)  # BB track name -> notes in it
    notes: list[tuple[float, int]] = field(default_factory=list)  # (seconds, MIDI note)


@dataclass
class Project:
    """What a project file says: tempo, meter and its tracks."""

    bpm: float
    meter: tuple[int, int]
    tempo_automated: bool
    tracks: list[TrackInfo]


def read_xml(path: Path) -> ET.Element:
    """The root element of a .mmp or .mmpz file; ProjectError when it is not one."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ProjectError(f"{path}: cannot read ({error.strerror})") from error
    if Path(path).suffix.lower() == ".mmpz":
        if len(data) < 4:
            raise ProjectError(f"{path}: too short for an .mmpz")
        size = struct.unpack(">I", data[:4])[0]
        try:
            data = zlib.decompress(data[4:])
        except zlib.error as error:
            raise ProjectError(f"{path}: not zlib data after the length ({error})") from error
        if len(data) != size:
            raise ProjectError(f"{path}: {len(data)} bytes of XML, the header says {size}")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise ProjectError(f"{path}: not XML ({error})") from error
    if root.tag not in ("lmms-project", "multimedia-project"):  # the second: LMMS < 1.0
        raise ProjectError(f"{path}: not an LMMS project (root <{root.tag}>)")
    return root


def _int(element: ET.Element, name: str, default: int = 0) -> int:
    try:
        return int(float(element.get(name, default)))
    except ValueError:
        return default


def _instrument(track: ET.Element, info: TrackInfo) -> None:
    """Fill in the plugin, and the file/program it plays, from an instrument track."""
    instrument = track.find("instrumenttrack/instrument")
    if instrument is None:
        return
    info.plugin = instrument.get("name", "")
    settings = instrument.find(info.plugin) if info.plugin else None
    if settings is None:
        return
    info.source = settings.get("src", "")
    if info.plugin == "sf2player":
        info.program, info.bank = _int(settings, "patch"), _int(settings, "bank")


def _patterns(track: ET.Element) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """(pos, len, [(note pos, key)]) of a track's unmuted patterns, in ticks."""
    found = []
    for pattern in track.findall("pattern"):
        if pattern.get("muted") == "1":
            continue
        length = _int(pattern, "len")
        notes = [(_int(n, "pos"), _int(n, "key")) for n in pattern.findall("note")]
        found.append((_int(pattern, "pos"), length,
                      [n for n in notes if not length or n[0] < length]))
    return found


def project_tracks(root: ET.Element) -> Project:
    """The project's tempo, meter and rendered tracks (see the module docstring)."""
    head = root.find("head")
    song = root.find("song/trackcontainer")
    if head is None or song is None:
        raise ProjectError("no <head> or song track container")
    bpm = float(head.get("bpm", 140)) or 140.0
    seconds_per_tick = 60.0 / (bpm * TICKS_PER_BEAT)
    meter = (_int(head, "timesig_numerator", 4), _int(head, "timesig_denominator", 4))
    top = [t for t in song.findall("track") if t.get("muted") != "1"]
    bb_tracks = [t for t in song.findall("track") if t.get("type") == BB]
    container = next((c for c in song.iter("trackcontainer")
                      if c.get("type") == "bbtrackcontainer"), None)
    inner = [t for t in container.findall("track") if t.get("muted") != "1"] \
        if container is not None else []
    # A BB pattern lasts as long as its longest part (whole bars); its clips loop it.
    bb_length: dict[int, int] = {}
    for track in inner:
        for pos, length, _ in _patterns(track):
            number = pos // TICKS_PER_BAR
            bars = max(1, -(-length // TICKS_PER_BAR))
            bb_length[number] = max(bb_length.get(number, TICKS_PER_BAR), bars * TICKS_PER_BAR)
    tracks: list[TrackInfo] = []
    for track in [t for t in top if t.get("type") in (INSTRUMENT, SAMPLE)] + \
            [t for t in inner if t.get("type") in (INSTRUMENT, SAMPLE)]:
        in_bb = track in inner
        info = TrackInfo(len(tracks) + 1, track.get("name", ""),
                         "instrument" if track.get("type") == INSTRUMENT else "sample",
                         beat_bassline=in_bb)
        if info.kind == "sample":
            clip = track.find("sampletco")
            info.source = clip.get("src", "") if clip is not None else ""
        _instrument(track, info)
        ticks: list[tuple[int, int]] = []
        for pos, _, notes in _patterns(track):
            if not in_bb:
                ticks += [(pos + p, k) for p, k in notes]
                continue
            number = pos // TICKS_PER_BAR
            if number >= len(bb_tracks) or not notes:
                continue
            bb = bb_tracks[number]
            loop = bb_length.get(number, TICKS_PER_BAR)
            played = 0
            for clip in bb.findall("bbtco"):
                if bb.get("muted") == "1" or clip.get("muted") == "1":
                    continue
                start, length = _int(clip, "pos"), _int(clip, "len")
                for offset in range(0, length, loop):
                    fits = [(start + offset + p, k) for p, k in notes if offset + p < length]
                    ticks += fits
                    played += len(fits)
            if played:
                name = bb.get("name", "")
                info.bb_names[name] = info.bb_names.get(name, 0) + played
        info.notes = sorted((t * seconds_per_tick, k + MIDI_OFFSET) for t, k in ticks)
        tracks.append(info)
    return Project(bpm, meter, head.find("bpm") is not None, tracks)
