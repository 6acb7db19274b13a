"""The one small interface every DAW adapter implements, and the session facts it reports.

Positions are bars counted from 1, as every DAW shows them: bar 1 is the session start and
bar 2.5 is half way through the second bar. One beat is a quarter note, so a bar of n/d lasts
``n * 4 / d`` beats.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

TrackKind = Literal["audio", "midi"]


@dataclass(frozen=True)
class SessionInfo:
    """What the host needs to know about the DAW session to make clips that fit it."""

    bpm: float
    time_signature: tuple[int, int]
    cursor_bar: float
    sample_rate: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bpm) and self.bpm > 0):
            raise ValueError(f"bpm must be a positive number, got {self.bpm!r}")
        numerator, denominator = self.time_signature
        if numerator < 1 or denominator < 1 or denominator & (denominator - 1):
            raise ValueError(f"bad time signature {self.time_signature!r}")
        check_bar(self.cursor_bar)
        if self.sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {self.sample_rate!r}")

    @property
    def meter_name(self) -> str:
        """The time signature as written: ``6/8``."""
        return "/".join(map(str, self.time_signature))

    @property
    def beats_per_bar(self) -> float:
        """Quarter notes in one bar of this session's time signature."""
        numerator, denominator = self.time_signature
        return numerator * 4 / denominator

    def bar_to_beats(self, bar: float) -> float:
        """Quarter notes from the session start to the start of ``bar`` (bar 1 is beat 0)."""
        return (check_bar(bar) - 1) * self.beats_per_bar

    def bar_to_seconds(self, bar: float) -> float:
        """Seconds from the session start to ``bar`` at the session tempo."""
        return self.bar_to_beats(bar) * 60.0 / self.bpm


@dataclass(frozen=True)
class TrackRef:
    """A track an adapter created; ``id`` is the adapter's own handle for it."""

    id: str
    name: str
    kind: TrackKind


@dataclass(frozen=True)
class ClipRef:
    """A clip an adapter placed on a track at a bar."""

    track: TrackRef
    id: str
    bar: float


class PlacementError(RuntimeError):
    """A clip could not be placed; nothing of that request is left in the session."""


class SessionMismatch(PlacementError):
    """A request or clip disagrees with an existing session's tempo, meter or sample rate.

    The session's grid wins: placing the clip would leave it off the grid, and changing the
    session would move everything already in it, so either is refused.
    """


_TEMPO_TOLERANCE = 1e-3  # BPM; a tempo read back from a file rounds in its last digits


def refuse_other_grid(session: SessionInfo, *, bpm: float | None = None,
                      time_signature: tuple[int, int] | None = None,
                      sample_rate: int | None = None, what: str = "the request") -> None:
    """Raise SessionMismatch naming every given fact that differs from ``session``'s."""
    clash = grid_clash(what, (bpm, session.bpm), (time_signature, session.time_signature),
                       (sample_rate, session.sample_rate))
    if clash:
        raise SessionMismatch(clash)


def grid_clash(what: str, bpm: tuple[float | None, float | None],
               meter: tuple[tuple[int, int] | None, tuple[int, int] | None],
               rate: tuple[int | None, int | None] = (None, None)) -> str | None:
    """Why ``what`` cannot go into the session, or None: each pair is (asked, the
    session's), and a fact either side leaves out is not compared."""
    (asked_bpm, session_bpm), (asked_meter, session_meter) = bpm, meter
    asked_rate, session_rate = rate
    differences = []
    if (asked_bpm is not None and session_bpm is not None
            and abs(float(asked_bpm) - session_bpm) > _TEMPO_TOLERANCE):
        differences.append(f"{float(asked_bpm):g} BPM, the session runs at {session_bpm:g} BPM")
    if asked_meter is not None and session_meter is not None and (
            tuple(asked_meter) != tuple(session_meter)):
        differences.append(f"{'/'.join(map(str, asked_meter))}, the session is in "
                           f"{'/'.join(map(str, session_meter))}")
    if asked_rate is not None and session_rate is not None and int(asked_rate) != session_rate:
        differences.append(f"{asked_rate} Hz, the session runs at {session_rate} Hz")
    if not differences:
        return None
    return (f"{what} is at {'; '.join(differences)}. Clips placed into a session are made on "
            "its grid and the session is never retimed: leave the tempo, meter and sample "
            "rate out (the session's are used) or give the session's own")


class DawAdapter(ABC):
    """One DAW behind one interface: read the session, add tracks, place clips.

    Changes made through ``create_track`` and ``place_*`` take effect when ``commit`` returns:
    adapters that edit a file write it then, adapters that drive a live DAW may apply changes
    at once and close an undo step in ``commit``. ``delete_track`` undoes a track created
    since the last commit, with everything placed on it.
    """

    name: str
    places_midi: bool = True  # False where place_midi_clip cannot work (e.g. Ardour headless)
    # True where a clip made at another tempo is stretched onto the session's grid (DAWproject
    # warps); elsewhere such a clip would play off the grid, so place_stems refuses it.
    stretches_to_grid: bool = False

    @abstractmethod
    def session_info(self) -> SessionInfo:
        """Tempo, time signature, cursor (in bars) and sample rate of the session."""

    @abstractmethod
    def create_track(self, name: str, kind: TrackKind = "audio") -> TrackRef:
        """Add a new, empty track named ``name`` for audio or MIDI clips."""

    @abstractmethod
    def delete_track(self, track: TrackRef) -> None:
        """Remove a track created since the last commit, and the clips on it."""

    @abstractmethod
    def place_audio_clip(self, track: TrackRef, clip: str | os.PathLike[str],
                         bar: float) -> ClipRef:
        """Place the audio file ``clip`` on ``track`` starting at ``bar``."""

    @abstractmethod
    def place_midi_clip(self, track: TrackRef, midi: str | os.PathLike[str],
                        bar: float) -> ClipRef:
        """Place the Standard MIDI File ``midi`` on ``track`` starting at ``bar``."""

    @abstractmethod
    def commit(self) -> None:
        """Make every change since the last commit take effect, all of them or none."""

    def place_stems(self, stems: Mapping[str, str | os.PathLike[str]],
                    bar: float | None = None,
                    midi: Mapping[str, str | os.PathLike[str]] | None = None
                    ) -> dict[str, ClipRef]:
        """Place each stem (track name -> audio file), and each of ``midi`` (track name ->
        MIDI file) on a MIDI track, on new tracks at ``bar``, all or nothing.

        ``bar`` defaults to the session cursor. If any track or clip cannot be made, or the
        commit fails, the tracks made so far are deleted again and PlacementError is raised
        (from the original error): the session is left as it was.
        """
        if not stems:
            raise ValueError("no stems to place")
        midi = dict(midi or {})
        clashing = sorted(set(stems) & set(midi))
        if clashing:
            raise ValueError(f"track named twice: {', '.join(clashing)}")
        files = [*stems.values(), *midi.values()]
        missing = [str(path) for path in files if not Path(path).is_file()]
        if missing:
            # Cheap check first, so a typo never touches the DAW at all.
            raise PlacementError(f"stem files not found: {', '.join(missing)}")
        session = self.session_info()
        if not self.stretches_to_grid:
            for path in stems.values():
                _refuse_clip_off_grid(session, path)
        at_bar = session.cursor_bar if bar is None else check_bar(bar)
        created: list[TrackRef] = []
        placed: dict[str, ClipRef] = {}
        try:
            for name, path in stems.items():
                track = self.create_track(name, "audio")
                created.append(track)
                placed[name] = self.place_audio_clip(track, path, at_bar)
            for name, path in midi.items():
                track = self.create_track(name, "midi")
                created.append(track)
                placed[name] = self.place_midi_clip(track, path, at_bar)
            self.commit()
        except Exception as error:
            failure = PlacementError(f"could not place stems: {error}")
            for track in reversed(created):
                try:
                    self.delete_track(track)
                except Exception as undo_error:  # keep undoing the rest, report it
                    failure.add_note(f"could not remove track {track.name!r}: {undo_error}")
            raise failure from error
        return placed


def _refuse_clip_off_grid(session: SessionInfo, clip: str | os.PathLike[str]) -> None:
    """SessionMismatch if the clip's ACID chunk says it was made at another tempo or meter."""
    from plugin_host.clips import read_clip_info  # numpy and WAV parsing only when placing

    try:
        acid = read_clip_info(clip).acid
    except ValueError:
        return  # not a clip WAV: the adapter reports what it cannot read, inside the undo
    if acid is not None and not acid.one_shot:
        refuse_other_grid(session, bpm=acid.tempo, time_signature=acid.meter,
                          what=f"clip {Path(clip).name!r}")


def check_bar(bar: float) -> float:
    """Return ``bar`` if it is a finite position at or after bar 1, else raise ValueError."""
    if not (math.isfinite(bar) and bar >= 1):
        raise ValueError(f"bar must be a number >= 1 (bars count from 1), got {bar!r}")
    return float(bar)
