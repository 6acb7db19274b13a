"""The universal fallback: a session is a folder of clip files plus ``session.json``.

Any DAW can take the clips from there (drag and drop); ``session.json`` says which track each
clip belongs to and where it starts. Clips keep the name they were written with (the host names
them ``prompt_bpm_key_bars_stem.wav``, see :mod:`plugin_host.clip_names`), made safe and unique.
``session.json`` is the source of truth and is written last, so a failed commit leaves the
session as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from bridge.atomic import atomic_write, atomic_write_bytes
from plugin_host.clip_names import safe_file_name, unique_name
from plugin_host.clips import read_clip_info
from plugin_host.daw.base import (
    ClipRef,
    SessionInfo,
    TrackKind,
    TrackRef,
    check_bar,
    refuse_other_grid,
)
from plugin_host.daw.staged import StagedAdapter, StagedTrack

MANIFEST = "session.json"
FORMAT = "stemloom-folder-session"
VERSION = 1
_MAX_FILE_NAME = 100
_CLIP_KEYS = ("id", "file", "kind", "bar")


@dataclass
class _Clip:
    id: str
    file: str
    kind: TrackKind
    bar: float
    details: dict[str, Any]
    source: Path | None = None  # set until a commit copies the clip into the folder


class FolderAdapter(StagedAdapter[_Clip]):
    """A DAW session kept as a plain folder; see the module docstring."""

    name = "folder"

    def __init__(self, path: str | os.PathLike[str], *, bpm: float | None = None,
                 time_signature: tuple[int, int] | None = None, sample_rate: int | None = None,
                 cursor_bar: float | None = None) -> None:
        """Open the session folder ``path`` (read ``session.json`` if there is one).

        A new session takes the given facts, else 120 bpm, 4/4, 48 kHz, cursor at bar 1. A
        stored session keeps its tempo, meter and rate: given ones must agree with them
        (else SessionMismatch), so clips placed earlier stay on the grid.
        """
        self.root = Path(path)
        stored = self._load()
        session = stored.get("session")
        if session is None:
            info = SessionInfo(float(bpm or 120.0), _pair(time_signature or (4, 4)),
                               float(cursor_bar or 1.0), int(sample_rate or 48000))
        else:
            try:
                info = SessionInfo(float(session["bpm"]), _pair(session["time_signature"]),
                                   float(cursor_bar if cursor_bar is not None
                                         else session.get("cursor_bar", 1.0)),
                                   int(session["sample_rate"]))
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{self.manifest_path} has unreadable session facts: "
                                 f"{error!r}") from error
            refuse_other_grid(info, bpm=bpm, time_signature=time_signature,
                              sample_rate=sample_rate)
        super().__init__(info)
        for entry in stored.get("tracks", []):
            clips = [_clip_from_json(clip) for clip in entry["clips"]]
            self._tracks[entry["id"]] = StagedTrack(entry["id"], entry["name"], entry["kind"],
                                                    clips, committed=True)

    @property
    def manifest_path(self) -> Path:
        """Where the session description lives."""
        return self.root / MANIFEST

    def place_audio_clip(self, track: TrackRef, clip: str | os.PathLike[str],
                         bar: float) -> ClipRef:
        """Queue the WAV ``clip`` for copying into the folder at ``bar`` on ``track``."""
        info = read_clip_info(clip)  # raises ValueError unless it is a readable WAV
        details = {"sample_rate": info.sample_rate, "channels": info.channels,
                   "frames": info.frames}
        return self._place(track, Path(clip), bar, "audio", details)

    def place_midi_clip(self, track: TrackRef, midi: str | os.PathLike[str],
                        bar: float) -> ClipRef:
        """Queue the MIDI file ``midi`` for copying into the folder at ``bar`` on ``track``."""
        with open(midi, "rb") as handle:
            if handle.read(4) != b"MThd":
                raise ValueError(f"{os.fspath(midi)!r} is not a Standard MIDI File")
        return self._place(track, Path(midi), bar, "midi", {})

    def commit(self) -> None:
        """Copy the queued clips into the folder, then write ``session.json``; all or nothing."""
        self.root.mkdir(parents=True, exist_ok=True)
        pending = [(clip, clip.source) for track in self._tracks.values()
                   for clip in track.clips if clip.source is not None]
        copied: list[Path] = []
        try:
            for clip, source in pending:
                target = self.root / clip.file
                atomic_write(target, partial(_copy, source))
                copied.append(target)
            atomic_write_bytes(self.manifest_path, self._manifest_bytes())
        except BaseException:
            for target in copied:
                target.unlink(missing_ok=True)
            raise
        for clip, _ in pending:
            clip.source = None
        self._mark_committed()

    def _place(self, track: TrackRef, source: Path, bar: float, kind: TrackKind,
               details: dict[str, Any]) -> ClipRef:
        owner = self._staged_track(track, kind)
        bar = check_bar(bar)
        details = {**details, "start_beat": self._info.bar_to_beats(bar),
                   "start_seconds": self._info.bar_to_seconds(bar)}
        clip = _Clip(uuid.uuid4().hex[:12], self._free_name(source), kind, bar, details, source)
        owner.clips.append(clip)
        return ClipRef(track, clip.id, bar)

    def _free_name(self, source: Path) -> str:
        """A safe file name for ``source`` not yet used by this session or in the folder."""
        # Compare case-insensitively: names differing in case are one file on Windows and macOS.
        taken = {clip.file.lower() for t in self._tracks.values() for clip in t.clips}
        if self.root.is_dir():
            taken |= {path.name.lower() for path in self.root.iterdir()}
        return unique_name(safe_file_name(source.name, _MAX_FILE_NAME), taken)

    def _manifest_bytes(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "session": asdict(self._info),
            "tracks": [{"id": t.id, "name": t.name, "kind": t.kind,
                        "clips": [_clip_to_json(clip) for clip in t.clips]}
                       for t in self._tracks.values()],
        }
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def _load(self) -> dict[str, Any]:
        try:
            document: dict[str, Any] = json.loads(self.manifest_path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as error:  # not JSON, or not UTF-8
            raise ValueError(f"{self.manifest_path} is not readable JSON: {error}") from error
        if document.get("format") != FORMAT or document.get("version") != VERSION:
            raise ValueError(f"{self.manifest_path} is not a version {VERSION} {FORMAT} file")
        return document


def _copy(source: Path, out: BinaryIO) -> None:
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, out)


def _pair(values: Any) -> tuple[int, int]:
    numerator, denominator = values  # JSON gives a list
    return int(numerator), int(denominator)


def _clip_to_json(clip: _Clip) -> dict[str, Any]:
    return {"id": clip.id, "file": clip.file, "kind": clip.kind, "bar": clip.bar,
            **clip.details}


def _clip_from_json(entry: dict[str, Any]) -> _Clip:
    details = {k: v for k, v in entry.items() if k not in _CLIP_KEYS}
    return _Clip(entry["id"], entry["file"], entry["kind"], float(entry["bar"]), details)
