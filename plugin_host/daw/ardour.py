"""Ardour 7, for real and headless: sessions edited through ``ardour7-lua`` and the session XML.

The session is never edited in place. A commit copies the clips into the session's audio
folder, writes a pending snapshot (a copy of the session file with the clips declared, see
:mod:`plugin_host.daw.ardour_session`), lets Ardour load it, make the tracks, put the clips at
their bars (through the session's own tempo map) and save it, keeps a backup of the session
file beside it (:func:`~plugin_host.daw.backup.keep_backup`), then renames the pending
snapshot onto the session file. Until that rename the session is untouched; if anything fails
(the backup included), the copied clips and the pending snapshot are removed. A new session is
made in a hidden folder beside its destination and renamed into place once complete.

An existing session's grid wins: its tempo map is never changed, and a tempo, meter or sample
rate asked for that differs from the session's own is refused (SessionMismatch), as is a clip
at another sample rate (copied in as it is, Ardour would play it at the wrong speed).

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
from plugin_host.daw.backup import keep_backup
from plugin_host.daw.base import (
    ClipRef,
    PlacementError,
    SessionInfo,
    TrackRef,
    check_bar,
    refuse_other_grid,
)
from plugin_host.daw.staged import StagedAdapter, StagedTrack

_MAX_FILE_NAME = 100
_PENDING = "stemloom-pending-"
_ATTEMPTS = 3  # runs of a script when Ardour crashes (a signal); a script's error is final
_DEFAULTS = SessionInfo(120.0, (4, 4), 1.0, 48000)  # a new session's, where none is given


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

    def __init__(self, path: str | os.PathLike[str], *, bpm: float | None = None,
                 time_signature: tuple[int, int] | None = None,
                 sample_rate: int | None = None, cursor_bar: float | None = None,
                 lua_command: str | None = None, timeout: float = 120.0) -> None:
        """Open the session at ``path``, or prepare a new one there (made on commit).

        An existing session's own tempo, meter and rate (at its playhead, as the Ardour GUI
        saved it, else at bar 1) are read through ``ardour7-lua``; a ``bpm``,
        ``time_signature`` or ``sample_rate`` given that differs from them raises
        SessionMismatch (None means the session's). A new session is made with the given
        facts, else 120 BPM, 4/4, 48 kHz. A session file that is not a readable Ardour session
        raises ValueError. ``cursor_bar`` overrides the cursor. ``lua_command`` names the
        ``ardour7-lua`` to run; ``timeout`` bounds each Ardour run.
        """
        self.session = locate_session(path)
        self._lua_command = lua_command
        self._timeout = timeout
        self._route_ids: dict[str, str] = {}  # our track id -> Ardour's route id
        if self.session.path.is_file():
            info = self._read_session_info()
            refuse_other_grid(info, bpm=bpm, time_signature=time_signature,
                              sample_rate=sample_rate, what="the request")
        else:
            numerator, denominator = time_signature or _DEFAULTS.time_signature
            info = SessionInfo(_DEFAULTS.bpm if bpm is None else float(bpm),
                               (int(numerator), int(denominator)), 1.0,
                               _DEFAULTS.sample_rate if sample_rate is None else int(sample_rate))
        if cursor_bar is not None:
            info = SessionInfo(info.bpm, info.time_signature, check_bar(cursor_bar),
                               info.sample_rate)
        super().__init__(info)

    def place_audio_clip(self, track: TrackRef, clip: str | os.PathLike[str],
                         bar: float) -> ClipRef:
        """Queue the WAV ``clip`` for ``track`` at ``bar``; it must be at the session's rate.

        The file is copied into the session as it is, not resampled, and Ardour would play a
        file at another rate at the wrong speed: such a clip is refused (SessionMismatch).
        """
        owner = self._staged_track(track, "audio")
        info = read_clip_info(clip)  # raises ValueError unless it is a readable WAV
        if info.frames == 0:
            raise ValueError(f"{os.fspath(clip)!r} holds no audio")
        refuse_other_grid(self._info, sample_rate=info.sample_rate,
                          what=f"clip {Path(clip).name!r}")
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
            self._apply(self.session, work, backup=True)
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
                self._apply(SessionFile(staging, self.session.snapshot), work, backup=False)
            if final.exists():
                final.rmdir()  # empty (checked above); a directory rename needs it gone
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _apply(self, session: SessionFile, work: list[StagedTrack[_Clip]], *,
               backup: bool) -> None:
        """Place ``work`` in ``session`` through a pending snapshot; swap it in at the end,
        after keeping a backup of the session file when ``backup``."""
        name, rate = session_name_and_rate(session)
        if rate != self._info.sample_rate:
            raise PlacementError(f"the session now runs at {rate} Hz, not "
                                 f"{self._info.sample_rate} Hz")
        if not os.access(session.folder, os.W_OK):
            raise PlacementError(f"the session folder {session.folder} is read-only: nothing "
                                 "was changed")
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
            if backup:
                try:
                    keep_backup(session.path)
                except OSError as error:
                    raise PlacementError(f"could not keep a backup of {session.path} "
                                         f"({error}), so it was not changed") from error
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
        """Run ``script``, again only if Ardour crashed (a script's own error would repeat);
        ``prepare`` runs before every attempt."""
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

