"""Stemloom's release version, read from the installed package metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    STEMLOOM_VERSION = version("stemloom")
except PackageNotFoundError:  # a source tree that was never installed
    STEMLOOM_VERSION = "0.0.0+source"
