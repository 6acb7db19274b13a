"""The producer's words: one torch-free reader that turns a prompt into the request's fields
(tempo, key, meter, bars, stems, exclusions) and says where each came from. The rules are in
``docs/prompt-words.md``; the CLI, the studio and the engine all read prompts through here."""

from bridge.words.reader import Found, Reading, WordsError, read_prompt
from bridge.words.resolve import DEFAULT_STEMS, FIELDS, SOURCES, Resolved, resolve_request

__all__ = ["DEFAULT_STEMS", "FIELDS", "SOURCES", "Found", "Reading", "Resolved", "WordsError",
           "read_prompt", "resolve_request"]
