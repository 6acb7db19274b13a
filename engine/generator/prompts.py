"""The evaluation prompt set: how producers ask, worded unlike the corpus's caption templates,
each with the targets the output is checked against (tempo, key, stems), and the corpus genre
it asks for (a label only, never given to the generator: ``stemloom eval sound`` compares each
stem with its genre's corpus stems)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EvalPrompt:
    """One prompt and what its result must have."""

    prompt: str
    bpm: float
    key: str
    stems: tuple[str, ...]
    bars: int = 8
    time_signature: str = "4/4"
    loop: bool = False
    genre: str = field(kw_only=True)  # a corpus genre: a name in engine.corpus.genres.GENRES


PROMPTS: tuple[EvalPrompt, ...] = (
    EvalPrompt("dusty lo-fi drums and mellow rhodes, late night study vibe", 84, "D minor",
               ("drums", "bass", "keys"), genre="lo-fi hip hop"),
    EvalPrompt("hard trap beat, booming 808 and a spooky bell lead", 140, "C minor",
               ("drums", "bass", "lead"), genre="trap"),
    EvalPrompt("four on the floor house groove with a rolling bass and chord stabs", 124,
               "A minor", ("drums", "bass", "keys"), loop=True, genre="house"),
    EvalPrompt("lazy reggae one drop, deep round bass, offbeat organ", 76, "G major",
               ("drums", "bass", "keys"), genre="reggae"),
    EvalPrompt("big driving rock, crunchy guitars and pounding drums", 128, "E minor",
               ("drums", "bass", "guitar"), genre="rock"),
    EvalPrompt("gentle bossa nova, nylon guitar and soft shaker", 130, "F major",
               ("drums", "bass", "guitar"), genre="bossa nova"),
    EvalPrompt("tight funky groove, slap bass, clavinet, horn riff", 104, "E minor",
               ("drums", "bass", "keys", "lead"), genre="funk"),
    EvalPrompt("glittery disco strut with strings and a pumping bassline", 118, "F major",
               ("drums", "bass", "strings"), genre="disco"),
    EvalPrompt("slow dreamy ambient wash with soft pads", 72, "C major", ("pads", "keys"),
               genre="ambient"),
    EvalPrompt("fast jungle breakbeat with a rumbling sub bass", 172, "F minor",
               ("drums", "bass"), genre="drum and bass"),
    EvalPrompt("retro 80s synthwave drive, gated snare and arpeggios", 100, "A minor",
               ("drums", "bass", "keys", "lead"), loop=True, genre="synthwave"),
    EvalPrompt("emotional piano ballad with light strings", 70, "Eb major",
               ("keys", "strings"), genre="pop ballad"),
    EvalPrompt("dark pounding warehouse techno", 132, "G minor", ("drums", "bass"), loop=True,
               genre="techno"),
    EvalPrompt("smooth late night r&b, silky keys and a warm bass", 80, "Bb minor",
               ("drums", "bass", "keys"), genre="r&b"),
    EvalPrompt("swinging jazz combo with walking bass and ride cymbal", 150, "Bb major",
               ("drums", "bass", "keys"), genre="jazz"),
    EvalPrompt("head nodding boom bap with a jazzy sample feel", 90, "C minor",
               ("drums", "bass", "keys"), loop=True, genre="boom bap"),
)
