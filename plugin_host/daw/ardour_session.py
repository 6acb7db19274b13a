"""Ardour 7 session files: find them, and make the edits headless Lua cannot.

Headless Ardour cannot import audio (``Editor:do_import`` exists only in the GUI), so the host
copies each clip into the session's ``interchange/<name>/audiofiles`` folder and declares it in
the session XML: one ``<Source>`` per channel of the file and one whole-file ``<Region>`` over
them, as Ardour itself writes after a recording. Lua then puts copies of those regions on
tracks. Times in the XML are superclock ticks (``a<ticks>``; 282 240 000 per second).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from bridge.atomic import atomic_write_bytes
from plugin_host.daw.backup import BACKUP_TAG

SUFFIX = ".ardour"
SUPERCLOCK = 282_240_000  # Ardour 7's default; a session states its own in <TempoMap>


@dataclass(frozen=True)
class SessionFile:
    """One snapshot of an Ardour session: ``<folder>/<snapshot>.ardour``."""

    folder: Path
    snapshot: str

    @property
    def path(self) -> Path:
        """The snapshot's XML file."""
        return self.folder / f"{self.snapshot}{SUFFIX}"


@dataclass(frozen=True)
class AudioFile:
    """A WAV already copied into the session's audio folder, to be declared in the XML."""

    name: str  # file name inside interchange/<session>/audiofiles
    channels: int
    frames: int
    sample_rate: int


def locate_session(path: str | os.PathLike[str]) -> SessionFile:
    """The session at ``path``: a ``.ardour`` file, or a session folder.

    In a folder, the snapshot named after the folder wins (Ardour's own default), else the only
    ``.ardour`` file there; the backups Stemloom keeps beside a snapshot are not counted. A
    folder with no snapshot (or no folder yet) names a new session called after the folder.
    Raises ValueError when a folder holds several other snapshots, or for a ``.ardour`` file
    that does not exist (a new session is named by its folder).
    """
    path = Path(path)
    if path.suffix == SUFFIX and not path.is_dir():
        if not path.is_file():
            raise ValueError(f"no session file {path}; give a folder to make a new session")
        return SessionFile(path.parent, path.stem)
    own = SessionFile(path, path.name)
    if not path.is_dir() or own.path.is_file():
        return own
    snapshots = sorted(p for p in path.glob(f"*{SUFFIX}")
                       if not p.name.startswith(".") and f".{BACKUP_TAG}-" not in p.name)
    if len(snapshots) > 1:
        names = ", ".join(p.name for p in snapshots)
        raise ValueError(f"{path} holds several snapshots ({names}): give the .ardour file")
    return SessionFile(path, snapshots[0].stem) if snapshots else own


def session_name_and_rate(session: SessionFile) -> tuple[str, int]:
    """The session's name (which names its interchange folder) and its sample rate.

    Raises ValueError, naming the file, when it cannot be read, is not XML, is not an Ardour
    session or states no sample rate: such a session is left alone.
    """
    try:
        root = ET.parse(session.path).getroot()
    except (OSError, ET.ParseError) as error:
        raise ValueError(f"cannot read the Ardour session {session.path}: {error}") from error
    rate = root.get("sample-rate", "")
    if root.tag != "Session" or not rate.isdigit() or int(rate) <= 0:
        raise ValueError(f"{session.path} is not an Ardour session file (no <Session> with a "
                         "sample rate)")
    return root.get("name", session.snapshot), int(rate)


def audio_folder(session: SessionFile, name: str) -> Path:
    """Where the session keeps its audio files."""
    return session.folder / "interchange" / name / "audiofiles"


def read_playhead(folder: Path) -> int | None:
    """The playhead (in samples) the Ardour GUI saved in ``instant.xml``, if it saved one."""
    try:
        editor = ET.parse(folder / "instant.xml").getroot().find("Editor")
        return max(0, int(editor.get("playhead", ""))) if editor is not None else None
    except (OSError, ET.ParseError, ValueError):
        return None


@contextmanager
def instant_xml_kept(folder: Path) -> Iterator[None]:
    """Put ``instant.xml`` back as it was after Ardour loaded a snapshot in ``folder``.

    Loading records the snapshot as the last one used there, and the GUI opens that one next:
    it must stay the user's, never a pending copy, and reading a session must change nothing.
    """
    path = folder / "instant.xml"
    before = path.read_bytes() if path.is_file() else None
    try:
        yield
    finally:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write_bytes(path, before)


def add_whole_file_regions(tree: ET.ElementTree[ET.Element],
                           files: list[AudioFile]) -> list[str]:
    """Declare each file as Sources and a whole-file Region; return the regions' ids."""
    root = tree.getroot()
    ids = _IdCounter(root)
    sources = _child(root, "Sources")
    regions = _child(root, "Regions")
    rate_ticks = _superclock(root)
    region_ids = []
    for audio in files:
        source_ids = []
        for channel in range(audio.channels):
            source_ids.append(ids.new())
            ET.SubElement(sources, "Source", {
                "name": audio.name, "type": "audio", "flags": "", "id": source_ids[-1],
                "natural-position": "a0", "channel": str(channel), "origin": "", "gain": "1"})
        region_ids.append(ids.new())
        length = _ticks(audio.frames, audio.sample_rate, rate_ticks)
        attributes = {
            "name": Path(audio.name).stem, "type": "audio", "id": region_ids[-1],
            "whole-file": "1", "import": "1", "automatic": "1", "external": "0",
            "muted": "0", "opaque": "1", "locked": "0", "video-locked": "0", "hidden": "0",
            "sync-marked": "0", "left-of-split": "0", "right-of-split": "0",
            "position-locked": "0", "valid-transients": "0",
            "start": "a0", "length": f"a{length}@a0", "sync-position": "a0",
            "ancestral-start": "a0", "ancestral-length": "a0@a0", "stretch": "1", "shift": "1",
            "layering-index": "0", "tags": "", "contents": "0", "first-edit": "nothing",
            "envelope-active": "0", "default-fade-in": "0", "default-fade-out": "0",
            "fade-in-active": "1", "fade-out-active": "1", "scale-amplitude": "1",
            "channels": str(audio.channels)}
        for channel, source in enumerate(source_ids):
            attributes[f"source-{channel}"] = source
            attributes[f"master-source-{channel}"] = source
        ET.SubElement(regions, "Region", attributes)
    ids.store()
    return region_ids


def cover_with_session_range(tree: ET.ElementTree[ET.Element], start: int, end: int,
                             sample_rate: int) -> None:
    """Grow the session range (what export renders) to span samples ``start`` to ``end``.

    Headless Ardour does not grow it when regions are added; an existing range only grows.
    """
    root = tree.getroot()
    rate_ticks = _superclock(root)
    locations = _child(root, "Locations")
    first, last = _ticks(start, sample_rate, rate_ticks), _ticks(end, sample_rate, rate_ticks)
    for location in locations.iter("Location"):
        if "IsSessionRange" in location.get("flags", "").split(","):
            old_start, old_end = location.get("start", ""), location.get("end", "")
            if _is_audio_time(old_start) and _is_audio_time(old_end):
                location.set("start", f"a{min(first, int(old_start[1:]))}")
                location.set("end", f"a{max(last, int(old_end[1:]))}")
            return
    ids = _IdCounter(root)
    ET.SubElement(locations, "Location", {
        "id": ids.new(), "name": "session", "start": f"a{first}", "end": f"a{last}",
        "flags": "IsSessionRange", "locked": "0", "timestamp": "0", "cue": "0"})
    ids.store()


def write_session_xml(tree: ET.ElementTree[ET.Element], path: Path) -> None:
    """Write ``tree`` to ``path`` as UTF-8 with a declaration, as Ardour reads it."""
    tree.write(path, encoding="UTF-8", xml_declaration=True)


class _IdCounter:
    """New object ids from the session's ``id-counter``, which Ardour continues from."""

    def __init__(self, root: ET.Element) -> None:
        self._root = root
        self._next = int(root.get("id-counter", "0"))

    def new(self) -> str:
        self._next += 1
        return str(self._next)

    def store(self) -> None:
        # Ardour numbers its next objects from here: ours must never be handed out again.
        self._root.set("id-counter", str(self._next + 1))


def _child(root: ET.Element, tag: str) -> ET.Element:
    found = root.find(tag)
    return found if found is not None else ET.SubElement(root, tag)


def _superclock(root: ET.Element) -> int:
    tempo_map = root.find("TempoMap")
    value = tempo_map.get("superclocks-per-second") if tempo_map is not None else None
    return int(value) if value else SUPERCLOCK


def _ticks(samples: int, sample_rate: int, per_second: int) -> int:
    return round(samples * per_second / sample_rate)


def _is_audio_time(value: str) -> bool:
    return value.startswith("a") and value[1:].isdigit()
