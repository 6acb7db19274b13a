"""What the remote script does to the Live Set, through the Live Object Model (Live 12).

Kept apart from the control surface so that it reads as plain LOM calls: ``Song.tempo``,
``Song.signature_numerator``/``signature_denominator``, ``Song.current_song_time`` (beats),
``Song.create_audio_track``, ``Track.create_audio_clip(path, position)`` (arrangement, beats),
``Song.delete_track`` and ``Song.begin_undo_step``/``end_undo_step``.
"""

from __future__ import annotations


def session_facts(song) -> dict:
    """Tempo, time signature and the playback position (in beats) of the Live Set."""
    return {"tempo": float(song.tempo), "numerator": int(song.signature_numerator),
            "denominator": int(song.signature_denominator),
            "position": float(song.current_song_time)}


def place_tracks(song, tracks: list) -> int:
    """Add one audio track per ``(name, [(path, beat), ...])`` at the end of the set, with an
    arrangement clip per file at its beat, as one undo step. All or nothing: if a track or
    clip cannot be made, the tracks added so far are deleted again and the error re-raised.
    Returns the number of tracks added."""
    created = []
    song.begin_undo_step()
    try:
        for name, clips in tracks:
            index = len(song.tracks)
            song.create_audio_track(index)
            track = song.tracks[index]
            created.append(track)
            track.name = name
            for path, beat in clips:
                track.create_audio_clip(path, beat)
    except Exception:
        for track in reversed(created):
            song.delete_track(list(song.tracks).index(track))
        raise
    finally:
        song.end_undo_step()
    return len(created)
