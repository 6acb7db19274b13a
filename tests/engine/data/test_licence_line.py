"""The licence line of a free-form (non-DEP-5) copyright file skips bare headings."""

from __future__ import annotations

from pathlib import Path

from engine.data.fetch import licence_line


def test_a_bare_heading_is_skipped(tmp_path: Path) -> None:
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text("This package was debianized by Someone.\n\nLicense:\n\n"
                              "   The music is licensed under CC-BY-SA 3.0.\n")
    assert licence_line(copyright_file) == "The music is licensed under CC-BY-SA 3.0."


def test_a_heading_alone_gives_unknown(tmp_path: Path) -> None:
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text("Licenses\n\nnothing more\n")
    assert licence_line(copyright_file) == "unknown (see copyright)"
