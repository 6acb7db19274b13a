"""The protocol: every address Stemloom speaks, with its typed fields. The single source of truth.

Version 2 adds files over TCP (upload, fetch and their replies, announced by a second hello
reply); version 3 the engine's capacity (a third hello reply). A client gets the replies of
the version it names in its hello; a v1 client, which sends no ``protocol``, gets v1 replies
only.

Requests go from a client (the host, a DAW script, ``oscsend``) to the engine; replies come
back to the sender (or to ``reply_port`` on the sender's address). ``docs/protocol.md``
describes the same table in words; ``tests/bridge/test_protocol_doc.py`` keeps them in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from bridge import limits
from bridge.errors import ErrorCode, ProtocolError
from bridge.keys import parse_key
from bridge.schema import Check, Message, decode, encode, register, spec
from bridge.words import DEFAULT_STEMS, WordsError, resolve_request
from bridge.words import FIELDS as WORD_FIELDS  # what a prompt's words can set

PROTOCOL_VERSION = 3
# The first version in which files travel in the protocol (over TCP).
FILES_VERSION = 2
# The first version whose hello is also answered with the engine's capacity.
CAPACITY_VERSION = 3
PREFIX = "/stemloom"

__all__ = ["PROTOCOL_VERSION", "decode", "encode"]


class JobStatus(StrEnum):
    """A job's life: queued -> running -> done | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the job can change no more."""
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class Stage(StrEnum):
    """What the engine reports it is doing (``Progress.stage``, ``JobState.stage``).

    The job server reports queued, starting, generating and writing, and a finished job's
    status; the generator pipeline semantic, coarse, fine and decode; the test model tokens.
    On the wire a stage is a plain string: a newer engine may report stages not listed here.
    """

    QUEUED = "queued"
    STARTING = "starting"
    GENERATING = "generating"
    SEMANTIC = "semantic"
    COARSE = "coarse"
    TOKENS = "tokens"
    FINE = "fine"
    DECODE = "decode"
    WRITING = "writing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ModelState(StrEnum):
    """The engine's generation model, as hello reports it."""

    LOADING = "loading"
    READY = "ready"
    MISSING = "missing"  # no trained model installed
    ERROR = "error"


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_METER = re.compile(r"^(\d{1,2})/(2|4|8|16)$")


def _request_id(value: str) -> str | None:
    if not 1 <= len(value) <= limits.MAX_ID_CHARS or not _ID.match(value):
        return (
            f"must be 1-{limits.MAX_ID_CHARS} characters of A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit"
        )
    return None


def _between(low: float, high: float) -> Check:
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}"

    return check


def _one_of(choices: tuple) -> Check:
    def check(value: object) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(str, choices))}"

    return check


def _max_chars(n: int, *, allow_empty: bool = True) -> Check:
    def check(value: str) -> str | None:
        if not allow_empty and not value.strip():
            return "must not be empty"
        if "\x00" in value:
            return "must not contain NUL"
        return None if len(value) <= n else f"longer than {n} characters"

    return check


def _stems(value: tuple[str, ...]) -> str | None:
    if not 1 <= len(value) <= limits.MAX_STEMS:
        return f"give 1-{limits.MAX_STEMS} stems"
    unknown = [s for s in value if s not in limits.STEM_NAMES]
    if unknown:
        return f"unknown stem {unknown[0]!r}; known: {', '.join(limits.STEM_NAMES)}"
    if len(set(value)) != len(value):
        return "a stem is named twice"
    return None


def _time_signature(value: str) -> str | None:
    match = _METER.match(value)
    if not match or not 1 <= int(match.group(1)) <= 16:
        return "must look like 4/4, 3/4 or 6/8 (numerator 1-16, denominator 2, 4, 8 or 16)"
    return None


def _key(value: str) -> str | None:
    if not value:
        return None
    try:
        parse_key(value)
    except ValueError:
        return 'must be empty or like "C major", "F# minor", "Bb minor"'
    return None


def _seed(value: int) -> str | None:
    return None if -1 <= value < 2**31 else "must be -1 (engine picks) or 0 .. 2^31-1"


def _job_ref(value: str) -> str | None:
    return None if not value else _request_id(value)


def _client_id(value: str) -> str | None:
    if not value:
        return None
    if not 16 <= len(value) <= limits.MAX_ID_CHARS:
        return f"must be empty or 16-{limits.MAX_ID_CHARS} characters"
    if not value.isascii() or not value.isprintable() or " " in value:
        return "must be printable ASCII without spaces"
    return None


def _short_text(value: str) -> str | None:
    return None if len(value) <= limits.MAX_PATH_CHARS else "too long"


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _sha256(value: str) -> str | None:
    return None if _SHA256.match(value) else "must be 64 lowercase hex digits (a sha256)"


def _file_name(value: str) -> str | None:
    """A plain file name: no folder, not hidden, printable."""
    if not 1 <= len(value) <= limits.MAX_FILE_NAME_CHARS:
        return f"must be 1-{limits.MAX_FILE_NAME_CHARS} characters"
    if value.startswith(".") or any(c in value for c in "/\\\x00") or not value.isprintable():
        return "must be a plain file name (no folder, not starting with '.')"
    return None


def _chunk(value: bytes) -> str | None:
    return None if len(value) <= limits.FILE_CHUNK_BYTES else (
        f"a chunk holds at most {limits.FILE_CHUNK_BYTES} bytes")


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, kw_only=True)
class Request(Message):
    """Fields every request may carry."""

    request_id: str = spec(doc="Client-chosen id; every reply echoes it.", check=_request_id)
    reply_port: int = spec(
        0,
        doc="Send replies to this UDP port on the sender's address (0: the sending port).",
        check=_between(0, 65535),
    )
    token: str = spec("", doc="Shared secret; required when the engine listens off loopback.")
    client_id: str = spec(
        "",
        doc="Client-chosen secret (16-64 printable characters, e.g. random hex) that owns "
        "this client's jobs across connections and restarts: a job made with it is listed, "
        "asked about and cancelled only by requests carrying the same one (and the same "
        "token). Empty: the job belongs to this TCP connection, or over UDP to the reply "
        "address (host and reply port). See Ownership.",
        check=_client_id,
    )


@register
@dataclass(frozen=True, kw_only=True)
class Hello(Request):
    """Ask for the engine's protocol version, models and limits."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/hello"
    client: str = spec("", doc="Free-form client name, for the engine's log.", check=_short_text)
    protocol: int = spec(
        1, doc="The highest protocol version the client speaks (v1 clients leave it out). "
        "With 2 or more the engine also sends /stemloom/hello/files; with 3 or more, "
        "then /stemloom/hello/capacity.",
        check=_between(1, 1000), omit_default=True,
    )


@register
@dataclass(frozen=True, kw_only=True)
class Generate(Request):
    """Submit a generation job. The request id becomes the job id."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/generate"
    prompt: str = spec(
        doc="What to make, in words.",
        check=_max_chars(limits.MAX_PROMPT_CHARS, allow_empty=False),
    )
    bpm: float = spec(120.0, doc="Tempo.", check=_between(limits.MIN_BPM, limits.MAX_BPM))
    bars: int = spec(8, doc="Length in bars.", check=_between(limits.MIN_BARS, limits.MAX_BARS))
    time_signature: str = spec("4/4", doc="Meter, e.g. 4/4, 3/4, 6/8.", check=_time_signature)
    key: str = spec("", doc='e.g. "A minor"; empty lets the model choose.', check=_key)
    stems: tuple[str, ...] = spec(
        DEFAULT_STEMS,
        doc="Stems to make; 'mix' alone for one track.",
        check=_stems,
    )
    seed: int = spec(
        -1, doc="Random seed; -1 lets the engine pick (reported in done).", check=_seed
    )
    variations: int = spec(
        1, doc="How many takes to make.", check=_between(1, limits.MAX_VARIATIONS)
    )
    melody: str = spec(
        "",
        doc="Path of a hum (audio) or MIDI file the engine can read, or the handle an upload's "
        "reply gave (v2); empty for none.",
        check=_max_chars(limits.MAX_PATH_CHARS),
    )
    melody_timing: str = spec(
        "free",
        doc="How a hum meets the bars. free: sung without a click; its tempo and first "
        "downbeat are found and its beats land on the request's. click: sung to the request's "
        "click, the file starting on the downbeat (a studio take after its count-in); its "
        "timing is kept. stretch: the whole take is stretched over the bars. Notes past the "
        "last bar are cut. A MIDI clip keeps its beats whatever this says.",
        check=_one_of(limits.MELODY_TIMINGS),
    )
    sample_rate: int = spec(48000, doc="Output sample rate.", check=_one_of(limits.SAMPLE_RATES))
    format: str = spec("wav24", doc="Output sample format.", check=_one_of(limits.FORMATS))
    loop: bool = spec(False, doc="Make the end flow into the start.")
    reference: str = spec(
        "",
        doc="Path of an audio file whose style to follow (mixed with the prompt), or an "
        "upload's handle; empty: none.",
        check=_max_chars(limits.MAX_PATH_CHARS),
    )
    reference_weight: float = spec(
        0.5, doc="Share of the reference in the style (0-1; the prompt has the rest).",
        check=_between(0.0, 1.0),
    )
    continue_from: str = spec(
        "",
        doc="Path of an audio file to continue (the clip starts where it ends), or an upload's "
        "handle; empty: none.",
        check=_max_chars(limits.MAX_PATH_CHARS),
    )
    keep_from: str = spec(
        "",
        doc="Id of a finished job whose plan to keep: only the requested stems are made "
        "again and they fit that job's other stems.",
        check=_job_ref,
    )
    guidance: float = spec(
        3.0, doc="Classifier-free guidance: how strongly to follow the prompt (1: off); "
        "bass stems are guided at most at 2 (stronger guidance made them gritty).",
        check=_between(1.0, limits.MAX_GUIDANCE),
    )
    temperature: float = spec(
        limits.DEFAULT_TEMPERATURE, doc="Sampling temperature (lower: cleaner tones, safer; "
        "higher: wilder).", check=_between(0.1, 2.0)
    )
    top_k: int = spec(
        250, doc="Sample among the k likeliest tokens (0: no limit).", check=_between(0, 1024)
    )
    top_p: float = spec(
        0.0, doc="Sample within this probability mass (0: no limit).", check=_between(0.0, 1.0)
    )
    best_of: int = spec(
        1, doc="Make this many candidates per variation and keep the one MuLan rates closest "
        "to the prompt.", check=_between(1, limits.MAX_BEST_OF),
    )

    @classmethod
    def fill_absent(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Tempo, bars, meter, key and stems left out are read from the prompt (then its
        genre, then the defaults); the fields sent win. Contradictory words are refused."""
        absent = [name for name in WORD_FIELDS if name not in values]
        if not absent or not isinstance(values.get("prompt"), str):
            return values
        sent = {name: values[name] for name in WORD_FIELDS if name in values}
        try:
            resolved = resolve_request(values["prompt"][: limits.MAX_PROMPT_CHARS],
                                       explicit=sent)
        except (WordsError, ValueError) as error:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"prompt: {error}",
                                values.get("request_id", "")) from None
        return {**values, **{name: getattr(resolved, name) for name in absent}}


@register
@dataclass(frozen=True, kw_only=True)
class Cancel(Request):
    """Cancel a job; the request id is the job's id. Answered by the job's state."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/cancel"


@register
@dataclass(frozen=True, kw_only=True)
class Status(Request):
    """Ask for a job's state; the request id is the job's id. A finished job's done or fail
    reply is sent again after the state, so a client that lost it recovers the result."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/status"


@register
@dataclass(frozen=True, kw_only=True)
class ListJobs(Request):
    """List known jobs, newest first."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/jobs"


# ---------------------------------------------------------------------------- replies


@register
@dataclass(frozen=True, kw_only=True)
class HelloReply(Message):
    """The engine's answer to hello."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/hello/reply"
    protocol: int = spec(
        PROTOCOL_VERSION, doc="The protocol version the engine speaks with this client: the "
        "lower of the hello's `protocol` and the engine's own.",
    )
    engine_version: str = spec(doc="Stemloom version of the engine.")
    model: str = spec(doc="Name of the loaded generation model.")
    model_state: ModelState = spec(
        doc="loading, ready, missing (no trained model installed) or error.",
        check=_one_of(tuple(ModelState)),
    )
    queue_size: int = spec(doc="Jobs that may wait at once; more are refused with busy.")
    max_bars: int = spec(limits.MAX_BARS, doc="Longest request in bars.")
    max_variations: int = spec(limits.MAX_VARIATIONS, doc="Most takes per request.")
    sample_rates: tuple[str, ...] = spec(
        tuple(map(str, limits.SAMPLE_RATES)), doc="Output sample rates offered."
    )
    formats: tuple[str, ...] = spec(limits.FORMATS, doc="Output formats offered.")
    stems: tuple[str, ...] = spec(limits.STEM_NAMES, doc="Stem names understood.")


@register
@dataclass(frozen=True, kw_only=True)
class Ack(Message):
    """A generate request was accepted (or re-sent with the same id and fields)."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/ack"
    state: JobStatus = spec(doc="The job's state now.", check=_one_of(tuple(JobStatus)))
    queue_position: int = spec(doc="Jobs ahead of this one (0: running or next).")


@register
@dataclass(frozen=True, kw_only=True)
class Progress(Message):
    """How far a running job is."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/progress"
    fraction: float = spec(doc="0.0 .. 1.0 of the whole job.", check=_between(0.0, 1.0))
    stage: str = spec(doc="What the engine is doing, e.g. 'semantic', 'coarse', 'decode'.")


@register
@dataclass(frozen=True, kw_only=True)
class Preview(Message):
    """A preview of the mix so far has been written (a complete WAV file)."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/preview"
    path: str = spec(doc="Absolute path of the preview WAV; to a TCP connection that said "
                     "protocol 2 or more, or comes from another machine, its name in the "
                     "job's folder (fetch it by that).")
    seconds: float = spec(doc="Seconds of audio in the preview.")


@register
@dataclass(frozen=True, kw_only=True)
class Done(Message):
    """A job finished; every file it names is complete."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/done"
    bpm: float = spec(doc="Tempo of the clips.")
    bars: int = spec(doc="Length in bars; every clip is exactly this long.")
    time_signature: str = spec(doc="Meter of the clips.")
    key: str = spec(doc="Key of the music, e.g. 'A minor'.")
    sample_rate: int = spec(doc="Sample rate of the files.")
    format: str = spec(doc="Sample format of the files.")
    seed: int = spec(doc="Seed that reproduces this result.")
    loop: bool = spec(doc="Whether the clips loop seamlessly.")
    model: str = spec(doc="Model that made it.")
    metadata: str = spec(doc="Path of the job's JSON metadata. Every file of a done reply is "
                         "named by its absolute path, or, to a TCP connection that said "
                         "protocol 2 or more or comes from another machine, by its name in "
                         "the job's folder.")
    stems: dict[str, str] = spec(
        {},
        doc="One 'stems.<name>' key per stem with its file (named as for metadata); with "
        "variations the name is '<stem>.<n>' (n from 1).",
    )
    melody_midi: str = spec(
        "",
        doc="Path of the melody the music follows, as a MIDI clip on the grid (to place on "
        "its own track); empty when the request had no melody.",
    )


@register
@dataclass(frozen=True, kw_only=True)
class Fail(Message):
    """A request failed, or a job failed or was cancelled."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/fail"
    code: str = spec(doc="Stable error code (see ErrorCode).")
    message: str = spec(doc="Readable explanation.")


@register
@dataclass(frozen=True, kw_only=True)
class JobState(Message):
    """A job's state, answering status and cancel."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/status/reply"
    state: JobStatus = spec(
        doc="queued, running, done, failed or cancelled.", check=_one_of(tuple(JobStatus))
    )
    fraction: float = spec(doc="Progress 0.0 .. 1.0.", check=_between(0.0, 1.0))
    stage: str = spec(doc="Last stage reported.")
    queue_position: int = spec(doc="Jobs ahead of this one while queued, else 0.")


@register
@dataclass(frozen=True, kw_only=True)
class JobList(Message):
    """Known jobs, newest first."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/jobs/reply"
    jobs: dict[str, str] = spec({}, doc="One 'jobs.<job id>' key per job with its state.")
    more: int = spec(0, doc="Jobs left out to keep the reply within one datagram.")


# ------------------------------------------------------------------ files (protocol v2)


@register
@dataclass(frozen=True, kw_only=True)
class Upload(Request):
    """One chunk of an input file the client sends to the engine (TCP only). The request id
    names the upload; the engine answers every chunk with /stemloom/upload/reply. A chunk
    whose offset is not the bytes received so far is not kept (an empty chunk at offset 0 asks
    how far an upload got). The last chunk's reply carries the handle to name in generate."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/upload"
    name: str = spec(doc="The file's name; its extension says what it is (.wav, .mid, ...).",
                     check=_file_name)
    size: int = spec(doc="The whole file's size in bytes (over MAX_INPUT_BYTES: too_large).",
                     check=_between(0, 2**31 - 1))
    sha256: str = spec(doc="sha256 of the whole file (hex).", check=_sha256)
    offset: int = spec(0, doc="Where this chunk's data starts in the file.",
                       check=_between(0, 2**31 - 1))
    data: bytes = spec(b"", doc="The chunk's bytes (at most FILE_CHUNK_BYTES); left out "
                       "when empty (OSC has no empty blob).", check=_chunk, omit_default=True)
    checksum: str = spec(doc="sha256 of this chunk's data (hex).", check=_sha256)


@register
@dataclass(frozen=True, kw_only=True)
class Fetch(Request):
    """Ask for part of a file of one of this client's jobs (TCP only): a stem, the preview,
    the melody MIDI or job.json, by its name in the done or preview reply. Answered by
    /stemloom/chunk replies covering ``offset`` .. ``offset + length`` (cut at the file's
    end); a fetch at or past the end gets one empty chunk, which still says size and sha256."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/fetch"
    job: str = spec(doc="The job's id.", check=_request_id)
    file: str = spec(doc="The file's name in the job's folder, e.g. drums.wav.",
                     check=_file_name)
    offset: int = spec(0, doc="First byte wanted.", check=_between(0, 2**31 - 1))
    length: int = spec(
        limits.FETCH_WINDOW_BYTES, doc="Bytes wanted (at most FETCH_WINDOW_BYTES).",
        check=_between(0, limits.FETCH_WINDOW_BYTES),
    )


@register
@dataclass(frozen=True, kw_only=True)
class HelloFiles(Message):
    """Sent after the hello reply to a client whose hello says protocol 2 or more: how files
    travel to and from this engine."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/hello/files"
    transports: tuple[str, ...] = spec(("tcp",), doc="Transports that carry files.")
    chunk_bytes: int = spec(limits.FILE_CHUNK_BYTES, doc="Most data bytes in one chunk.")
    window_bytes: int = spec(limits.FETCH_WINDOW_BYTES, doc="Most bytes one fetch asks for; "
                             "keep at most two fetches in flight.")
    max_file_bytes: int = spec(limits.MAX_INPUT_BYTES, doc="Largest file one may upload.")
    area_bytes: int = spec(limits.MAX_UPLOAD_AREA_BYTES,
                           doc="Most bytes one client's uploads may hold at once.")
    max_uploads: int = spec(limits.MAX_UPLOADS, doc="Most uploads one client may hold at once.")
    retention_s: float = spec(limits.UPLOAD_RETENTION_S,
                              doc="An upload untouched this long is removed.")


@register
@dataclass(frozen=True, kw_only=True)
class UploadReply(Message):
    """How far an upload got, answering each of its chunks."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/upload/reply"
    received: int = spec(doc="Bytes of the file the engine holds; send the rest from here.")
    complete: bool = spec(doc="True once the whole file arrived and matched its sha256.")
    path: str = spec("", doc="Once complete: the handle (upload:<id>) to give as melody, "
                     "reference or continue_from, readable only by this client's requests; not "
                     "a path on the engine's disk.")


@register
@dataclass(frozen=True, kw_only=True)
class Chunk(Message):
    """Part of a fetched file; the request id is the fetch's."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/chunk"
    file: str = spec(doc="The file's name.", check=_file_name)
    size: int = spec(doc="The whole file's size in bytes.")
    sha256: str = spec(doc="sha256 of the whole file (hex): a file that changed between "
                       "fetches (a preview rewritten) has a new one.", check=_sha256)
    offset: int = spec(doc="Where this chunk's data starts in the file.")
    data: bytes = spec(b"", doc="The chunk's bytes; left out when empty.", check=_chunk,
                       omit_default=True)
    checksum: str = spec(doc="sha256 of this chunk's data (hex).", check=_sha256)


# ------------------------------------------------------------------ capacity (protocol v3)


@register
@dataclass(frozen=True, kw_only=True)
class HelloCapacity(Message):
    """Sent after /stemloom/hello/files to a client whose hello says protocol 3 or more: how
    much this engine can take on now, for this client and for all."""

    ADDRESS: ClassVar[str] = f"{PREFIX}/hello/capacity"
    workers: int = spec(doc="Jobs generated at once.")
    running: int = spec(doc="Jobs generating now.")
    queue_size: int = spec(doc="Jobs that may wait at once (all clients).")
    waiting: int = spec(doc="Jobs waiting now (all clients).")
    free: int = spec(doc="Jobs the queue takes before it answers busy (all clients).")
    client_queue_size: int = spec(doc="Jobs one client may have waiting at once; more are "
                                  "refused with busy. Waiting jobs start in turns by client.")
    client_free: int = spec(doc="Jobs this client may still queue now.")
    device: str = spec(doc="Where the model runs: cpu or cuda:N; empty while it loads (or "
                       "when it could not be loaded).")
    batching: bool = spec(doc="Whether waiting jobs of the same length and sampling settings "
                          "are generated together as one batch.")
