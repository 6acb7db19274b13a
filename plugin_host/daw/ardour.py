"""Ardour 7, for real and headless: sessions edited through ``ardour7-lua`` and the session XML.

The session is never edited in place. A commit copies the clips into the session's audio
folder, writes a pending snapshot (a copy of the session file with the clips declared, see
:mod:`plugin_host.daw.ardour_session`), lets Ardour load it, make the tracks, put the clips at
their bars (through the session's own tempo map) and save it, then renames the pending
snapshot onto the session file. Until that rename the session is untouched; if anything fails,
the copied clips and the pending snapshot are removed. A new session is made in a hidden
folder beside its destination and renamed into place once complete.

Close the session in the Ardour GUI first: Ardour overwrites its file on its next save. Inside
a running Ardour, the action script ``ardour_lua/stemloom_generate.lua`` places stems instead
(see ``docs/daws/ardour.md``).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from bridge.atomic import atomic_write
from plugin_host.clip_names import safe_file_name, unique_name
from plugin_host.clips import read_clip_info
from plugin_host.daw.ardour_run import ArdourCrashed, Facts, LuaValue, run_lua
from plugin_host.daw.ardour_session import (
    AudioFile,
    SessionFile,
    add_whole_file_regions,
    audio_folder,
    cover_with_session_range,
    instant_xml_kept,
    locate_session,
    read_playhead,
    session_name_and_rate,
    write_session_xml,
)
from plugin_host.daw.base import ClipRef, PlacementError, SessionInfo, TrackRef, check_bar
from plugin_host.daw.staged import StagedAdapter, StagedTrack

_MAX_FILE_NAME = 100
_PENDING = "stemloom-pending-"
_ATTEMPTS = 3  # Ardour's headless tools crash now and then (about one run in ten): try twice more


@dataclass
class _Clip:
    source: Path
    audio: AudioFile
    bar: float
    committed: bool = False


class ArdourAdapter(StagedAdapter[_Clip]):
    """An Ardour 7 session folder (or ``.ardour`` file); see the module docstring."""

    name = "ardour"
    places_midi = False

    def __init__(self, path: str | os.PathLike[str], *, bpm: float = 120.0,
                 time_signature: tuple[int, int] = (4, 4), sample_rate: int = 48000,
                 cursor_bar: float | None = None, lua_command: str | None = None,
                 timeout: float = 120.0) -> None:
        """Open the session at ``path``, or prepare a new one there (made on commit).

        An existing session's own tempo, meter and rate (at its playhead, as the Ardour GUI
        saved it, else at bar 1) are read through ``ardour7-lua``; ``bpm``, ``time_signature``
        and ``sample_rate`` only shape a new session. ``cursor_bar`` overrides the cursor.
        ``lua_command`` names the ``ardour7-lua`` to run; ``timeout`` bounds each Ardour run.
        """
        self.session = locate_session(path)
        self._lua_command = lua_command
        self._timeout = timeout
        self._route_ids: dict[str, str] = {}  # our track id -> Ardour's route id
        if self.session.path.is_file():
            info = self._read_session_info()
        else:
            numerator, denominator = time_signature
            info = SessionInfo(float(bpm), (int(numerator), int(denominator)), 1.0,
                               int(sample_rate))
        if cursor_bar is not None:
            info = SessionInfo(info.bpm, info.time_signature, check_bar(cursor_bar),
                               info.sample_rate)
        super().__init__(info)

    def place_audio_clip(self, track: TrackRef, clip: str | os.PathLike[str],
                         bar: float) -> ClipRef:
        """Queue the WAV ``clip`` for ``track`` at ``bar``; it must be at the session's rate.

        Ardour plays a file at another rate at the wrong speed, so such a clip is refused
        (ValueError) rather than placed.
        """
        owner = self._staged_track(track, "audio")
        info = read_clip_info(clip)  # raises ValueError unless it is a readable WAV
        if info.frames == 0:
            raise ValueError(f"{os.fspath(clip)!r} holds no audio")
        if info.sample_rate != self._info.sample_rate:
            raise ValueError(f"{os.fspath(clip)!r} is at {info.sample_rate} Hz but the session "
                             f"runs at {self._info.sample_rate} Hz")
        audio = AudioFile(Path(clip).name, info.channels, info.frames, info.sample_rate)
        owner.clips.append(_Clip(Path(clip), audio, check_bar(bar)))
        return ClipRef(track, f"{track.id}:{len(owner.clips)}", float(bar))

    def place_midi_clip(self, track: TrackRef, midi: str | os.PathLike[str],
                        bar: float) -> ClipRef:
        """Not possible headless: Ardour's Lua can neither import MIDI nor create a region."""
        raise PlacementError("placing MIDI clips in Ardour needs the GUI (the Stemloom action "
                             "script); headless placement takes audio clips only")

    def commit(self) -> None:
        """Apply every queued track and clip to the session file; all of them or none."""
        work = [t for t in self._tracks.values()
                if not t.committed or any(not c.committed for c in t.clips)]
        if not self.session.path.is_file():
            self._create_and_apply(work)  # made even with nothing in it
        elif work:
            self._apply(self.session, work)
        for track in self._tracks.values():
            for clip in track.clips:
                clip.committed = True
        self._mark_committed()

    def _read_session_info(self) -> SessionInfo:
        _, rate = session_name_and_rate(self.session)
        playhead = read_playhead(self.session.folder)
        with instant_xml_kept(self.session.folder):
            facts = self._lua("session_info", {
                "dir": str(self.session.folder), "snapshot": self.session.snapshot,
                "rate": rate, "playhead": playhead or 0})
        found = {fact[0]: fact[1:] for fact in facts}
        divisions, note_value = (int(float(v)) for v in found["meter"])
        cursor = 1.0
        if playhead is not None:
            bars, beats, ticks = (int(v) for v in found["cursor"])
            cursor = bars + (beats - 1 + ticks / 1920) / divisions
        return SessionInfo(float(found["bpm"][0]), (divisions, note_value), cursor,
                           int(found["rate"][0]))

    def _create_and_apply(self, work: list[StagedTrack[_Clip]]) -> None:
        """Make the new session in a hidden folder beside its place, fill it, move it there."""
        final = self.session.folder
        if final.exists() and any(final.iterdir()):
            raise PlacementError(f"{final} is not empty and holds no {self.session.snapshot} "
                                 "session")
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.with_name(f".{final.name}.stemloom-{secrets.token_hex(4)}")
        numerator, denominator = self._info.time_signature
        try:
            self._lua("create_session", {
                "dir": str(staging), "name": self.session.snapshot,
                "rate": self._info.sample_rate, "bpm": self._info.bpm,
                "numerator": numerator, "denominator": denominator},
                prepare=lambda: shutil.rmtree(staging, ignore_errors=True))
            if work:
                self._apply(SessionFile(staging, self.session.snapshot), work)
            if final.exists():
                final.rmdir()  # empty (checked above); a directory rename needs it gone
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _apply(self, session: SessionFile, work: list[StagedTrack[_Clip]]) -> None:
        """Place ``work`` in ``session`` through a pending snapshot; swap it in at the end."""
        name, rate = session_name_and_rate(session)
        if rate != self._info.sample_rate:
            raise PlacementError(f"the session now runs at {rate} Hz, not "
                                 f"{self._info.sample_rate} Hz")
        folder = audio_folder(session, name)
        pending = SessionFile(session.folder, _PENDING + secrets.token_hex(4))
        copied: list[Path] = []
        try:
            clips = [clip for track in work for clip in track.clips if not clip.committed]
            for clip in clips:
                clip.audio = self._copy_in(clip, folder)
                copied.append(folder / clip.audio.name)
            tree = ET.parse(session.path)
            regions = add_whole_file_regions(tree, [clip.audio for clip in clips])
            region_of = {id(clip): region for clip, region in zip(clips, regions, strict=True)}
            with instant_xml_kept(session.folder):
                facts = self._lua("place_clips", {
                    "dir": str(session.folder), "snapshot": pending.snapshot, "rate": rate,
                    "tracks": [self._track_plan(track, region_of) for track in work]},
                    # A crashed run may have saved half its work: start again from the tree.
                    prepare=lambda: write_session_xml(tree, pending.path))
            self._finish(pending, facts, rate)
            os.replace(pending.path, session.path)
        except BaseException:
            for path in copied:
                path.unlink(missing_ok=True)
            raise
        finally:
            _remove_snapshot_files(pending)
        # Tracks made now are found by Ardour's id when later clips go on them.
        self._route_ids.update((f[1], f[2]) for f in facts if f[0] == "track")

    def _copy_in(self, clip: _Clip, folder: Path) -> AudioFile:
        """Copy the clip into the session's audio folder under a name no file there has."""
        folder.mkdir(parents=True, exist_ok=True)
        taken = {path.name.lower() for path in folder.iterdir()}
        name = unique_name(safe_file_name(clip.source.name, _MAX_FILE_NAME), taken)
        with open(clip.source, "rb") as source:
            atomic_write(folder / name, lambda out: shutil.copyfileobj(source, out))
        audio = clip.audio
        return AudioFile(name, audio.channels, audio.frames, audio.sample_rate)

    def _track_plan(self, track: StagedTrack[_Clip], region_of: dict[int, str]) -> LuaValue:
        clips = [c for c in track.clips if not c.committed]
        return {"key": track.id, "name": track.name,
                "route": self._route_ids.get(track.id, ""),
                "channels": max((c.audio.channels for c in clips), default=2),
                "clips": [{"region": region_of[id(c)], "bar": c.bar} for c in clips]}

    def _finish(self, pending: SessionFile, facts: Facts, rate: int) -> None:
        """Grow the pending snapshot's session range over the new regions (export needs it)."""
        spans = [(int(f[2]), int(f[2]) + int(f[3])) for f in facts if f[0] == "region"]
        tree = ET.parse(pending.path)
        if spans:
            cover_with_session_range(tree, 0, max(end for _, end in spans), rate)
        write_session_xml(tree, pending.path)

    def _lua(self, script: str, plan: dict[str, LuaValue],
             prepare: Callable[[], object] | None = None) -> Facts:
        """Run ``script``, again if Ardour crashed; ``prepare`` runs before every attempt."""
        attempts_left = _ATTEMPTS
        while True:
            attempts_left -= 1
            if prepare is not None:
                prepare()
            try:
                return run_lua(script, plan, command=self._lua_command, timeout=self._timeout)
            except ArdourCrashed:
                if not attempts_left:
                    raise


def _remove_snapshot_files(snapshot: SessionFile) -> None:
    """Remove what loading and saving ``snapshot`` left beside it (backup, history)."""
    for suffix in ("", ".bak", ".pending"):
        snapshot.path.with_name(snapshot.path.name + suffix).unlink(missing_ok=True)
    snapshot.folder.joinpath(f"{snapshot.snapshot}.history").unlink(missing_ok=True)

