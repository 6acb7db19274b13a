"""Stable error codes carried by ``/stemloom/fail`` replies."""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a fail reply can carry. Values are part of protocol v1: never rename one."""

    BAD_MESSAGE = "bad_message"  # not a parseable OSC message
    UNKNOWN_ADDRESS = "unknown_address"
    BAD_ARGUMENT = "bad_argument"  # wrong type, out of range, unknown key, bad path
    MISSING_ARGUMENT = "missing_argument"
    TOO_LARGE = "too_large"
    UNAUTHORIZED = "unauthorized"
    BUSY = "busy"  # the job queue is full
    UNKNOWN_JOB = "unknown_job"
    DUPLICATE_ID = "duplicate_id"  # a different request already uses this id
    NO_MODEL = "no_model"  # no trained model is installed
    WRITE_FAILED = "write_failed"  # the clips could not be written (disk full, permissions)
    CANCELLED = "cancelled"
    INTERNAL = "internal"


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
