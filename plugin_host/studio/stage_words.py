"""What the engine is doing, in a producer's words: the one place engine stage names become
the words the window shows ("planning", "rendering drums, bass", "finishing")."""

from __future__ import annotations

from collections.abc import Sequence

# Engine stage (Progress.stage, JobState.stage) -> words; "{stems}" is the job's stems.
# The generator pipeline reports semantic, coarse, fine and decode; the service generating
# and writing; the test model tokens; the host its own job states.
STAGE_WORDS: dict[str, str] = {
    "sent": "sending",
    "queued": "waiting its turn",
    "generating": "starting",
    "running": "starting",
    "semantic": "planning",
    "coarse": "rendering {stems}",
    "tokens": "rendering {stems}",
    "fine": "adding detail",
    "decode": "finishing",
    "writing": "saving the clips",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "lost": "lost",
}


def stage_words(stage: str, stems: Sequence[str] = ()) -> str:
    """The producer's words for engine stage ``stage`` of a job making ``stems``.

    An unknown stage (a newer engine's) reads as "working" rather than as an internal name.
    """
    if not stage:
        return ""
    words = STAGE_WORDS.get(stage.lower(), "working")
    names = ", ".join(stems) if stems else "the stems"
    return words.format(stems=names)
