"""Clip file names that say what a clip is: ``prompt_bpm_key_bars_stem.wav``.

Names are ASCII letters, digits and ``-`` inside a field, ``_`` between fields, so they are safe
on Windows, macOS and Linux, in ZIP archives and in every DAW's file browser; they never contain
a path separator, never start with a dot or dash and never equal a reserved Windows device name.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
             *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
_SYMBOLS = {"#": "sharp", "\u266f": "sharp", "\u266d": "b", "&": "and", "+": "plus"}
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}")
_MAX_KEY = 16
_MAX_STEM = 24
_MIN_PROMPT = 8
_HASH_LENGTH = 6


def safe_component(text: str, max_length: int = 48, *, lower: bool = False,
                   fallback: str = "untitled") -> str:
    """Turn free text into one file-name field: ASCII letters, digits and single dashes.

    Accents are dropped (é → e), ``#`` becomes ``sharp``, anything else that is not a letter
    or digit becomes a dash. An empty result becomes ``fallback``; a reserved Windows device
    name (CON, NUL, COM1, ...) gets ``-x`` appended. The result has at most ``max_length`` chars.
    """
    if max_length < 2:
        raise ValueError("max_length must be at least 2")
    slug = (_slug(text, lower) or fallback)[:max_length].rstrip("-")
    if slug.upper() in _RESERVED:
        slug = f"{slug[:max_length - 2]}-x"
    return slug


def safe_file_name(name: str, max_length: int = 100, fallback: str = "clip") -> str:
    """Make a given file name safe while keeping its look: ``a_120bpm.wav`` stays as it is.

    Keeps ASCII letters, digits, ``.``, ``_`` and ``-`` (path separators and everything else
    become ``-``), drops leading and trailing dots and dashes, keeps an alphanumeric extension
    of up to 8 chars, avoids reserved Windows names and bounds the length.
    """
    stem, dot, extension = name.rpartition(".")
    if not (dot and stem and re.fullmatch(r"[A-Za-z0-9]{1,8}", extension)):
        stem, extension = name, ""
    suffix = f".{extension.lower()}" if extension else ""
    if max_length < len(suffix) + 2:
        raise ValueError(f"max_length {max_length} is too short")
    cleaned = _clean(stem, r"[^A-Za-z0-9._-]+", " .-_")
    stem = (cleaned or fallback)[:max_length - len(suffix)].rstrip(" .-_")
    head, _, rest = stem.partition(".")
    if head.upper() in _RESERVED:
        stem = f"{head}-x{'.' if rest else ''}{rest}"[:max_length - len(suffix)]
    return stem + suffix


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name`` with ``-2``, ``-3``... before its extension, not in ``taken``.

    ``taken`` holds lower-cased names: file names differing only in case collide on Windows
    and macOS.
    """
    stem, dot, extension = name.rpartition(".")
    if not dot or "/" in extension:
        stem, dot, extension = name, "", ""
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem}-{number}{dot}{extension}"
    return candidate


def clip_name(prompt: str, bpm: float, key: str | None, bars: float, stem: str,
              extension: str = ".wav", max_length: int = 100) -> str:
    """Name a clip ``prompt_bpm_key_bars_stem`` + extension, safe on every file system.

    Example: ``clip_name("Deep house groove", 124, "F# minor", 8, "drums")`` gives
    ``deep-house-groove_124bpm_Fsharp-minor_8bars_drums.wav``. ``key`` None gives ``nokey``.
    The prompt is shortened to fit ``max_length``; when it is shortened, or nothing of it
    survives (say, an all-emoji prompt), a short hash of the full prompt keeps names of
    different prompts apart.
    """
    if not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"bpm must be a positive number, got {bpm!r}")
    if not (math.isfinite(bars) and bars > 0):
        raise ValueError(f"bars must be a positive number, got {bars!r}")
    if not _EXTENSION.fullmatch(extension):
        raise ValueError(f"extension must look like '.wav', got {extension!r}")
    key_field = safe_component(key or "", _MAX_KEY, fallback="nokey")
    tail = (f"_{_number(bpm)}bpm_{key_field}_{_number(bars)}bars_"
            f"{safe_component(stem, _MAX_STEM, lower=True, fallback='mix')}{extension.lower()}")
    room = max_length - len(tail)
    if room < _MIN_PROMPT:
        raise ValueError(f"max_length {max_length} leaves no room for the prompt")
    full = _slug(prompt, lower=True)
    if full and len(full) <= room:
        return full + tail
    digest = hashlib.sha1(prompt.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    head = safe_component(prompt, room - _HASH_LENGTH - 1, lower=True)
    return f"{head}-{digest}{tail}"


def _slug(text: str, lower: bool) -> str:
    """ASCII letters and digits of ``text`` joined by single dashes, with no length limit."""
    slug = _clean(text, r"[^A-Za-z0-9]+", "-")
    return slug.lower() if lower else slug


def _clean(text: str, unwanted: str, strip: str) -> str:
    """``text`` as ASCII (accents dropped), runs of ``unwanted`` as one dash, ends stripped."""
    text = "".join(_SYMBOLS.get(char, char) for char in text)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"-{2,}", "-", re.sub(unwanted, "-", ascii_text)).strip(strip)


def _number(value: float) -> str:
    """Plain decimal with at most three decimals: ``120``, ``123.5`` (never ``1e+06``)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")
