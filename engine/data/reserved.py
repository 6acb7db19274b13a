"""The one place that names the data reserved for evaluation.

These sources are never fetched, trained, tuned or used to pick settings: `stemloom data
fetch` refuses them before anything is downloaded, and any code that reads fetched data
(`engine.data.fetch.read_manifest`) calls :func:`refuse_reserved` on every row's package.
"""

from __future__ import annotations

import fnmatch
import re

#: Debian packages (and the one Python corpus) held out for evaluation, by exact name.
RESERVED_PACKAGES: frozenset[str] = frozenset({
    "hedgewars-data",
    "supertux-data",
    "openttd-openmsx",
    "wesnoth-music",  # the unversioned metapackage of the versioned ones below
    "music21",  # the corpus bundled with music21 (not a Debian package; listed for readers)
    "python3-music21",
})

#: Name patterns (fnmatch, lower case) of reserved packages: every Wesnoth music release.
RESERVED_PATTERNS: tuple[str, ...] = ("wesnoth-*-music",)

RESERVED_MESSAGE = "reserved for evaluation: never fetched"

# apt accepts NAME:ARCH, NAME=VERSION and NAME/RELEASE: strip them before matching.
_APT_SUFFIX = re.compile(r"[:=/].*$")


class ReservedSourceError(ValueError):
    """A reserved (evaluation-only) source was asked for."""

    def __init__(self, package: str) -> None:
        self.package = package
        super().__init__(f"{package} is {RESERVED_MESSAGE} (see docs/data.md)")


def canonical_name(package: str) -> str:
    """The bare lower-case package name of an apt package argument."""
    return _APT_SUFFIX.sub("", package.strip()).lower()


def is_reserved(package: str) -> bool:
    """Whether a package name (or apt argument such as ``NAME:all``) is reserved."""
    name = canonical_name(package)
    return name in RESERVED_PACKAGES or any(
        fnmatch.fnmatchcase(name, pattern) for pattern in RESERVED_PATTERNS)


def refuse_reserved(package: str) -> str:
    """Raise :class:`ReservedSourceError` for a reserved package; else return its name."""
    if is_reserved(package):
        raise ReservedSourceError(package)
    return canonical_name(package)


def reserved_listing() -> list[str]:
    """The reserved names and patterns, for `stemloom data list`."""
    return sorted(RESERVED_PACKAGES) + list(RESERVED_PATTERNS)
