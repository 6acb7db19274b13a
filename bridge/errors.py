"""Stable error codes carried by ``/stemloom/fail`` replies."""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a fail reply can carry. Values are part of the protocol: never rename one."""

    BAD_MESSAGE = "bad_message"
    UNSUPPORTED = "unsupported"
    UNKNOWN_ADDRESS = "unknown_address"
    BAD_ARGUMENT = "bad_argument"
    MISSING_ARGUMENT = "missing_argument"
    TOO_LARGE = "too_large"
    UNAUTHORIZED = "unauthorized"
    BUSY = "busy"
    UNKNOWN_JOB = "unknown_job"
    DUPLICATE_ID = "duplicate_id"
    NO_MODEL = "no_model"
    WRITE_FAILED = "write_failed"
    CANCELLED = "cancelled"
    SHUTTING_DOWN = "shutting_down"
    INTERRUPTED = "interrupted"
    INTERNAL = "internal"
    CHECKSUM = "checksum"


ERROR_MEANINGS = {
    ErrorCode.BAD_MESSAGE: "The packet is not a parseable OSC message, or a TCP frame holds "
    "an invalid SLIP escape (the frames before it are served, then the connection closes).",
    ErrorCode.UNSUPPORTED: "The packet is an OSC bundle: the engine takes one request per "
    "message, so send each request of the bundle as its own message. Or an upload or fetch "
    "came over UDP: files travel over TCP only.",
    ErrorCode.UNKNOWN_ADDRESS: "No request has this address.",
    ErrorCode.BAD_ARGUMENT: "A value has the wrong type, is out of range, names an unknown key, "
    "or is a path the engine will not use (not absolute, a name too long, or an id whose "
    "library folder is a link out of the library). An input path that is missing, "
    "unreadable, not a regular file, or outside the engine's input folders (links "
    "resolved) gets one and the same answer.",
    ErrorCode.MISSING_ARGUMENT: "The request id or a required field is absent.",
    ErrorCode.TOO_LARGE: "A datagram, TCP frame or reply is over the size limit.",
    ErrorCode.UNAUTHORIZED: "The engine needs a token and the request's is missing or wrong. "
    "The token is checked before anything else: such a packet learns nothing more.",
    ErrorCode.BUSY: "The job queue is full; try again later.",
    ErrorCode.UNKNOWN_JOB: "No job of this client's with this id is on record (another "
    "client's job gets the same answer).",
    ErrorCode.DUPLICATE_ID: "A different job already has this id (in memory or in the library).",
    ErrorCode.NO_MODEL: "No trained model is installed, or the model failed to load.",
    ErrorCode.WRITE_FAILED: "The clips could not be written (disk full, permissions); "
    "nothing of the job is left behind.",
    ErrorCode.CANCELLED: "The job was cancelled by request.",
    ErrorCode.SHUTTING_DOWN: "The engine is stopping (SIGTERM or Ctrl-C): a job that was queued "
    "or running is failed with this code before the engine closes its sockets, and a new "
    "generate is refused. Submit it again once an engine runs.",
    ErrorCode.INTERRUPTED: "The engine was killed or crashed while the job ran. Found at the "
    "next start: its partial files (preview, temp files, plan) are removed, its complete stem "
    "files are kept, and status reports this fail.",
    ErrorCode.INTERNAL: "A bug in the engine; its log says more. The engine keeps serving.",
    ErrorCode.CHECKSUM: "An uploaded chunk's data, or a whole uploaded file, does not match "
    "its sha256 (v2). A bad chunk is not kept: send it again from the upload's `received`; "
    "a bad whole file is removed: upload it again from offset 0.",
}


class ProtocolError(Exception):
    """A request that cannot be served, with the code and message its fail reply carries."""

    def __init__(
        self, code: ErrorCode, message: str, request_id: str = "", reply_port: int = 0
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        # Where the sender asked for replies, when that much of a bad request could be read.
        self.reply_port = reply_port
