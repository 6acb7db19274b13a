"""What the engine is doing, in a producer's words: the one place engine stage names become
the words the window shows ("planning", "rendering drums, bass", "finishing")."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.messages import Stage
from plugin_host.jobs import HostState

# Engine stage (Progress.stage, JobState.stage) -> words; "{stems}" is the job's stems.
# The generator pipeline reports semantic, coarse, fine and decode; the service generating
# and writing; the test model tokens; the host its own job states.
STAGE_WORDS: dict[str, str] = {
    HostState.SENT: "sending",
    Stage.QUEUED: "waiting its turn",
    Stage.STARTING: "starting",
    Stage.GENERATING: "starting",
    HostState.RUNNING: "starting",
    Stage.SEMANTIC: "planning",
    Stage.COARSE: "rendering {stems}",
    Stage.TOKENS: "rendering {stems}",
    Stage.FINE: "adding detail",
    Stage.DECODE: "finishing",
    Stage.WRITING: "saving the clips",
    Stage.DONE: "done",
    Stage.FAILED: "failed",
    Stage.CANCELLED: "cancelled",
    HostState.LOST: "lost",
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
