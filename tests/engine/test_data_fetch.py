"""`stemloom data fetch | list` without network: tiny real .debs built with dpkg-deb --build
and taken with --from-debs (the default apt-get download path is not exercised here)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from engine.data import ReservedSourceError, is_reserved, refuse_reserved
from engine.data.fetch import (
    MANIFEST,
    STATE,
    PackageReport,
    check_request,
    fetch,
    local_downloader,
    read_manifest,
)
from engine.data.sources import SourceTableError, load_sources

REPO = Path(__file__).resolve().parents[2]

TABLE = """
[kinds]
recordings = ["*.ogg", "*.wav", "*.flac"]

[[source]]
name = "tiny-music"
kind = "recordings"
hours = 0.01
licence = "CC0"
pk3 = true

[[source]]
name = "tiny-sounds"
kind = "recordings"
licence = "GPL-2+"
"""

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tiny

Files: *
Copyright: 2024 Nobody
License: CC0-1.0

Files: debian/*
Copyright: 2024 Packager
License: GPL-2+
"""


def _tone(seconds: float, rate: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _build_deb(root: Path, out: Path, package: str, version: str,
               files: dict[str, bytes]) -> Path:
    tree = root / f"{package}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Tests <tests@example.org>\nDescription: a test package\n")
    for relative, data in files.items():
        path = tree / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    deb = out / f"{package}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
                   check=True, capture_output=True)
    return deb


def _audio(fmt: str, seconds: float) -> bytes:
    import io

    buffer = io.BytesIO()
    soundfile.write(buffer, _tone(seconds), 22050, format=fmt)
    return buffer.getvalue()


def _pk3() -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("music/inner.wav", _audio("WAV", 0.25))
        archive.writestr("../../escape.wav", _audio("WAV", 0.1))
        archive.writestr("/abs.wav", _audio("WAV", 0.1))
        archive.writestr("textures/skip.png", b"not wanted")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("debs")
    out = root / "pool"
    out.mkdir()
    _build_deb(root, out, "tiny-music", "1.0-1", {
        "usr/share/games/tiny/music/song.ogg": _audio("OGG", 0.5),
        "usr/share/games/tiny/music/loop.wav": _audio("WAV", 1.0),
        "usr/share/games/tiny/data/music.pk3": _pk3(),
        "usr/share/games/tiny/readme.txt": b"not kept",
        "usr/share/doc/tiny-music/copyright": COPYRIGHT.encode(),
    })
    _build_deb(root, out, "tiny-sounds", "2.0", {
        "usr/share/tiny/a.flac": _audio("FLAC", 0.3),
        "usr/share/doc/tiny-sounds/copyright": b"Licensed under the GPL, version 2 or later.\n",
    })
    return out


@pytest.fixture()
def table(tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(TABLE)
    return path


def _run(sources: Path, debs: Path, dest: Path, *names: str) -> list[PackageReport]:
    chosen = check_request(names, load_sources(sources))
    return fetch(chosen, dest, dest / ".cache", local_downloader(debs))


def _rows(dest: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (dest / MANIFEST).read_text().splitlines()]


def _mtimes(dest: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in dest.rglob("*")}


def test_manifest_rows(debs: Path, table: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    reports = _run(table, debs, dest, "tiny-music", "tiny-sounds")
    assert [r.status for r in reports] == ["fetched", "fetched"]
    rows = {row["path"]: row for row in _rows(dest)}
    assert set(rows) == {
        "tiny-music/usr/share/games/tiny/music/song.ogg",
        "tiny-music/usr/share/games/tiny/music/loop.wav",
        "tiny-music/usr/share/games/tiny/data/music.pk3.d/music/inner.wav",
        "tiny-sounds/usr/share/tiny/a.flac",
    }
    for path, row in rows.items():
        data = (dest / path).read_bytes()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["bytes"] == len(data)
        assert row["package"] == path.split("/")[0]
    music = rows["tiny-music/usr/share/games/tiny/music/loop.wav"]
    assert music["licence"] == "CC0-1.0"  # the DEP-5 'Files: *' paragraph's licence
    assert music["version"] == "1.0-1"
    assert music["seconds"] == pytest.approx(1.0)
    assert rows["tiny-sounds/usr/share/tiny/a.flac"]["licence"].startswith("Licensed under")
    assert (dest / "tiny-music" / "copyright").read_text() == COPYRIGHT
    assert not (dest / "tiny-music" / "usr/share/games/tiny/readme.txt").exists()
    assert not (dest / ".staging").exists()
    assert [row["path"] for row in read_manifest(dest)] == [row["path"] for row in _rows(dest)]


def test_pk3_traversal_rejected(debs: Path, table: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    (report,) = _run(table, debs, dest, "tiny-music")
    assert any("../../escape.wav" in r for r in report.rejected)
    assert any("/abs.wav" in r for r in report.rejected)
    assert not list(tmp_path.rglob("escape.wav"))
    assert not list(tmp_path.rglob("abs.wav"))
    assert not list(dest.rglob("skip.png"))
    marker = json.loads((dest / STATE / "tiny-music.done.json").read_text())
    assert len(marker["rejected"]) == 2
    assert marker["deb_sha256"] == hashlib.sha256(
        next(debs.glob("tiny-music_*.deb")).read_bytes()).hexdigest()


def test_second_run_touches_nothing(debs: Path, table: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    _run(table, debs, dest, "tiny-music", "tiny-sounds")
    before = _mtimes(dest)
    reports = _run(table, debs, dest, "tiny-music", "tiny-sounds")
    assert [r.status for r in reports] == ["already complete", "already complete"]
    assert _mtimes(dest) == before


def test_resume_redoes_half_done_package(debs: Path, table: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    _run(table, debs, dest, "tiny-music", "tiny-sounds")
    complete = _rows(dest)
    # Half done: tiny-music's files are there (one damaged) but its marker is not.
    (dest / STATE / "tiny-music.done.json").unlink()
    damaged = dest / "tiny-music/usr/share/games/tiny/music/loop.wav"
    damaged.write_bytes(b"truncated")
    sounds_before = {p: t for p, t in _mtimes(dest).items() if "tiny-sounds" in p}
    reports = _run(table, debs, dest, "tiny-music", "tiny-sounds")
    assert [r.status for r in reports] == ["fetched", "already complete"]
    assert (dest / STATE / "tiny-music.done.json").is_file()
    assert hashlib.sha256(damaged.read_bytes()).hexdigest() == next(
        r["sha256"] for r in complete if r["path"].endswith("loop.wav"))
    assert _rows(dest) == complete
    assert {p: t for p, t in _mtimes(dest).items() if "tiny-sounds" in p} == sounds_before


@pytest.mark.parametrize("name", ["hedgewars-data", "supertux-data", "openttd-openmsx",
                                  "wesnoth-1.16-music", "wesnoth-1.18-music:all",
                                  "Wesnoth-1.14-Music", "wesnoth-music", "music21"])
def test_reserved_refused(name: str) -> None:
    assert is_reserved(name)
    with pytest.raises(ReservedSourceError, match="reserved for evaluation"):
        refuse_reserved(name)


def test_unreserved_names_pass() -> None:
    assert refuse_reserved("pushover-data") == "pushover-data"
    assert not is_reserved("wesnoth-1.16-data")


def test_reserved_refused_before_anything(debs: Path, table: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    with pytest.raises(ReservedSourceError):
        check_request(["tiny-music", "wesnoth-1.16-music"], load_sources(table))
    assert not dest.exists()


def test_table_cannot_list_a_reserved_package(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TABLE + '\n[[source]]\nname = "hedgewars-data"\nkind = "recordings"\n')
    with pytest.raises(SourceTableError, match="reserved"):
        load_sources(path)


def test_shipped_table_loads() -> None:
    sources = load_sources()
    assert "pushover-data" in sources and "ufoai-music" in sources
    assert sources["ufoai-music"].pk3
    assert not any(is_reserved(name) for name in sources)


def test_read_manifest_refuses_reserved_rows(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps({"path": "x", "package": "supertux-data"}) + "\n")
    with pytest.raises(ReservedSourceError):
        list(read_manifest(tmp_path))


# --- the command line, in a subprocess ---------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stemloom", "data", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_cli_refuses_reserved_by_name_and_pattern(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    for name in ("hedgewars-data", "wesnoth-1.16-music"):
        done = _cli("fetch", "pushover-data", name, "--dest", str(dest))
        assert done.returncode == 2
        assert f"{name} is reserved for evaluation: never fetched" in done.stderr
        assert "Traceback" not in done.stderr
    assert not dest.exists()


def test_cli_fetch_and_rerun(debs: Path, table: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    common = ("--dest", str(dest), "--from-debs", str(debs), "--sources", str(table))
    first = _cli("fetch", "tiny-music", *common)
    assert first.returncode == 0, first.stderr
    assert "tiny-music: 3 files" in first.stdout
    assert "2 archive entries rejected" in first.stdout
    before = _mtimes(dest)
    second = _cli("fetch", "tiny-music", *common)
    assert second.returncode == 0
    assert "tiny-music: already complete" in second.stdout
    assert _mtimes(dest) == before


def test_cli_errors_are_clear(debs: Path, table: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    unknown = _cli("fetch", "no-such-package", "--dest", str(dest), "--sources", str(table))
    assert unknown.returncode == 2
    assert "not in the source table: no-such-package" in unknown.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = _cli("fetch", "tiny-sounds", "--dest", str(dest), "--sources", str(table),
                   "--from-debs", str(empty))
    assert missing.returncode == 1
    assert "tiny-sounds: failed: tiny-sounds: no tiny-sounds_*.deb" in missing.stderr
    none = _cli("fetch", "--dest", str(dest))
    assert none.returncode == 2
    for done in (unknown, missing, none):
        assert "Traceback" not in done.stderr


def test_cli_list_shows_reserved() -> None:
    for args in (("list",), ("fetch", "--list")):
        done = _cli(*args)
        assert done.returncode == 0
        assert "pushover-data" in done.stdout
        assert "wesnoth-*-music" in done.stdout
        assert "hedgewars-data                 reserved for evaluation: never fetched" \
            in done.stdout
    listed = json.loads(_cli("list", "--json").stdout)
    assert {"name": "supertux-data", "reserved": True} in listed


def test_cli_without_apt_get(tmp_path: Path) -> None:
    import os

    dest = tmp_path / "data"
    env = {**os.environ, "PATH": str(tmp_path)}  # neither apt-get nor dpkg-deb here
    done = subprocess.run([sys.executable, "-m", "stemloom", "data", "fetch", "pushover-data",
                           "--dest", str(dest)], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 2
    assert "apt-get is not installed" in done.stderr
    assert "Traceback" not in done.stderr
