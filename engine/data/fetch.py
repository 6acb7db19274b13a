"""Fetch Debian packages' music without installing anything.

For each package: ``apt-get download`` into a cache folder, ``dpkg-deb -x`` into a staging
folder, keep the wanted files (``.pk3`` zips unpacked safely) under ``DEST/<package>/``, and
record every kept file's package, version, licence line, sha256, size and (where soundfile
reads it cheaply) duration in ``DEST/manifest.jsonl``.

Idempotent and resumable: a package is complete when ``DEST/.state/<package>.done.json``
(which names the .deb's sha256) exists; one without it is redone from scratch. A .deb already
in the cache with the sha256 apt expects is not downloaded again. The manifest is rewritten
only when its content changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from engine.data.reserved import canonical_name, refuse_reserved
from engine.data.sources import Source

MANIFEST = "manifest.jsonl"
STATE = ".state"
# Steps that add rows for files they derive from a package's (state/<package>.<step>.*).
ABC_STEP = "abc2midi"
DERIVED_STEPS = (ABC_STEP,)
STAGING = ".staging"

#: Caps on what one .pk3 may unpack to (a zip bomb stops here).
PK3_ENTRY_MAX_BYTES = 512 * 1024 * 1024
PK3_TOTAL_MAX_BYTES = 4 * 1024 * 1024 * 1024
PK3_MAX_RATIO = 200  # uncompressed / compressed, per entry
PK3_MAX_ENTRIES = 100_000

_CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A package could not be fetched (the message says why; no traceback is needed)."""


class ToolMissing(FetchError):
    """apt-get or dpkg-deb is not installed."""


# A downloader puts one package's .deb in the cache folder and returns its path.
Downloader = Callable[[str, Path], Path]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- downloaders ---------------------------------------------------------------------------

def apt_downloader(package: str, cache: Path) -> Path:
    """``apt-get download`` (the default; needs the Debian mirror). A .deb already in the
    cache whose sha256 matches what apt expects is reused. Not exercised by the tests."""
    if shutil.which("apt-get") is None:
        raise ToolMissing("apt-get is not installed (on a non-Debian system, download the "
                          ".debs yourself and pass --from-debs DIR)")
    # apt prints no address for a .deb already in its working folder: ask from an empty one.
    with tempfile.TemporaryDirectory() as empty:
        uris = _run(["apt-get", "download", "--print-uris", package], cwd=Path(empty))
    match = re.search(r"^'[^']+'\s+(\S+)\s+(\d+)\s+SHA256:([0-9a-f]{64})", uris, re.M)
    if match is None:
        raise FetchError(f"{package}: apt-get gave no download address (is the package "
                         "list up to date? try apt-get update)")
    filename, expected = match.group(1), match.group(3)
    deb = cache / filename
    if deb.is_file() and sha256_of(deb) == expected:
        return deb
    _run(["apt-get", "download", package], cwd=cache)
    if not deb.is_file():
        raise FetchError(f"{package}: apt-get download did not leave {filename}")
    if sha256_of(deb) != expected:
        deb.unlink()
        raise FetchError(f"{package}: the download's sha256 is not the one apt expects")
    return deb


def local_downloader(folder: Path) -> Downloader:
    """A downloader that takes ``<package>_*.deb`` from a local folder (--from-debs)."""

    def download(package: str, cache: Path) -> Path:
        candidates = sorted(folder.glob(f"{package}_*.deb"))
        if not candidates:
            raise FetchError(f"{package}: no {package}_*.deb in {folder}")
        return candidates[-1]

    return download


def _run(command: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise ToolMissing(f"{command[0]} is not installed") from error
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit status {done.returncode}"
        raise FetchError(f"{' '.join(command[:2])} {command[-1]}: {detail}")
    return done.stdout


# --- one package ---------------------------------------------------------------------------

@dataclass
class PackageReport:
    package: str
    status: str  # "fetched", "already complete" or "failed"
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    rejected: list[str] = field(default_factory=list)
    error: str = ""


def deb_field(deb: Path, name: str) -> str:
    return _run(["dpkg-deb", "--field", str(deb), name]).strip()


def licence_line(copyright_file: Path | None) -> str:
    """One line that says a package's licence: the ``License:`` of DEP-5's ``Files: *``
    paragraph (else every distinct ``License:``), or the first line that names a licence."""
    if copyright_file is None or not copyright_file.is_file():
        return "unknown (no copyright file in the package)"
    text = copyright_file.read_text(encoding="utf-8", errors="replace")
    paragraphs = re.split(r"\n\s*\n", text)
    licences: list[str] = []
    for paragraph in paragraphs:
        found = re.search(r"^License:[ \t]*(\S.*)$", paragraph, re.M | re.I)
        if found is None:
            continue
        value = found.group(1).strip()
        if re.search(r"^Files:[ \t]*\*[ \t]*$", paragraph, re.M | re.I):
            return value
        if value not in licences:
            licences.append(value)
    if licences:
        return "; ".join(licences)
    for line in text.splitlines():
        # A bare heading ("License:", "Licenses") names no licence: read on.
        if re.fullmatch(r"\s*licen[cs]es?:?\s*", line, re.I):
            continue
        if re.search(r"licen[cs]e|GPL|public domain|creative commons|CC-BY", line, re.I):
            return line.strip()
    return "unknown (see copyright)"


def _duration(path: Path) -> float | None:
    try:
        import soundfile

        info = soundfile.info(str(path))
        return round(float(info.frames) / float(info.samplerate), 3)
    except Exception:  # a format libsndfile does not read (modules, soundfonts, MIDI)
        return None


def _safe_member(name: str) -> PurePosixPath | None:
    """The relative path of a zip member, or None where it could escape its folder."""
    if not name or "\\" in name or "\x00" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        return None
    return path


def unpack_pk3(archive: Path, out: Path, source: Source, rejected: list[str]) -> list[Path]:
    """Unpack the wanted entries of a .pk3 (a zip) under ``out``; unsafe entries (absolute,
    ``..``, links, too large, too compressed) are skipped and named in ``rejected``."""
    kept: list[Path] = []
    total = 0
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        rejected.append(f"{archive.name}: not a readable zip ({error})")
        return kept
    with zipped:
        infos = zipped.infolist()
        if len(infos) > PK3_MAX_ENTRIES:
            rejected.append(f"{archive.name}: {len(infos)} entries (cap {PK3_MAX_ENTRIES})")
            return kept
        for info in infos:
            if info.is_dir():
                continue
            label = f"{archive.name}:{info.filename}"
            member = _safe_member(info.filename)
            if member is None:
                rejected.append(f"{label}: path escapes the archive")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                rejected.append(f"{label}: a link")
                continue
            if not source.wants(member.name):
                continue
            if info.file_size > PK3_ENTRY_MAX_BYTES or (
                    info.file_size > _CHUNK
                    and info.file_size > PK3_MAX_RATIO * max(info.compress_size, 1)):
                rejected.append(f"{label}: too large or too compressed")
                continue
            if total + info.file_size > PK3_TOTAL_MAX_BYTES:
                rejected.append(f"{label}: the archive passes its size cap")
                continue
            target = out.joinpath(*member.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with zipped.open(info) as stream, target.open("wb") as sink:
                while chunk := stream.read(_CHUNK):
                    written += len(chunk)
                    if written > info.file_size or written > PK3_ENTRY_MAX_BYTES:
                        break
                    sink.write(chunk)
            if written > info.file_size or written > PK3_ENTRY_MAX_BYTES:
                target.unlink()
                rejected.append(f"{label}: more bytes than it declares")
                continue
            total += written
            kept.append(target)
    return kept


def fetch_package(source: Source, dest: Path, cache: Path, download: Downloader,
                  force: bool = False) -> PackageReport:
    """Fetch one package into ``dest/<package>/`` (see the module's docstring)."""
    import time

    start = time.monotonic()
    package = refuse_reserved(source.name)
    state = dest / STATE
    marker = state / f"{package}.done.json"
    rows_file = state / f"{package}.rows.jsonl"
    if marker.is_file() and (dest / package).is_dir() and not force:
        return PackageReport(package, "already complete")
    # A re-fetch replaces the package's folder, and with it the files later steps derived
    # from it (prepare-abc's MIDI files): their rows go too.
    derived = [state / f"{package}.{step}.{end}" for step in DERIVED_STEPS
               for end in ("rows.jsonl", "done.json")]
    for path in (marker, rows_file, *derived):
        path.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    deb = download(package, cache)
    deb_sha = sha256_of(deb)
    version = deb_field(deb, "Version")
    staging = dest / STAGING / package
    shutil.rmtree(staging, ignore_errors=True)
    extracted, out = staging / "root", staging / "out"
    extracted.mkdir(parents=True)
    out.mkdir()
    _run(["dpkg-deb", "-x", str(deb), str(extracted)])

    copyright_file = extracted / "usr" / "share" / "doc" / package / "copyright"
    real_copyright = copyright_file if copyright_file.is_file() and not \
        copyright_file.is_symlink() else None
    licence = licence_line(real_copyright)
    if real_copyright is not None:
        shutil.copyfile(real_copyright, out / "copyright")

    rejected: list[str] = []
    kept: list[Path] = []
    for path in sorted(_files(extracted)):
        relative = path.relative_to(extracted)
        if source.pk3 and path.suffix.lower() == ".pk3":
            kept += unpack_pk3(path, out / relative.parent / (path.name + ".d"), source,
                               rejected)
        elif source.wants(path.name):
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            kept.append(target)

    final = dest / package
    rows = []
    for target in sorted(kept):
        relative = target.relative_to(out)
        rows.append({
            "path": f"{package}/{relative.as_posix()}",
            "package": package,
            "version": version,
            "licence": licence,
            "sha256": sha256_of(target),
            "bytes": target.stat().st_size,
            "seconds": _duration(target),
        })
    shutil.rmtree(final, ignore_errors=True)
    os.replace(out, final)
    shutil.rmtree(staging, ignore_errors=True)
    _remove_if_empty(dest / STAGING)
    state.mkdir(parents=True, exist_ok=True)
    write_atomic(rows_file, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    write_atomic(marker, json.dumps({
        "package": package, "version": version, "deb": deb.name, "deb_sha256": deb_sha,
        "files": len(rows), "licence": licence, "rejected": rejected}, indent=1) + "\n")
    return PackageReport(package, "fetched", files=len(rows),
                         bytes=sum(int(str(r["bytes"])) for r in rows),
                         seconds=time.monotonic() - start, rejected=rejected)


def _files(root: Path) -> Iterator[Path]:
    """Regular files under root (links are never followed nor kept)."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def write_atomic(path: Path, text: str) -> bool:
    """Write text unless the file already holds it; True when written."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return True


# --- the manifest --------------------------------------------------------------------------

def refresh_manifest(dest: Path) -> bool:
    """Rebuild ``dest/manifest.jsonl`` from the complete packages; True when it changed."""
    state = dest / STATE
    lines: list[str] = []
    for marker in sorted(state.glob("*.done.json")) if state.is_dir() else []:
        package = marker.name.removesuffix(".done.json")
        rows = state / f"{package}.rows.jsonl"
        if rows.is_file():
            lines += [ln for ln in rows.read_text(encoding="utf-8").splitlines() if ln]
    if not lines and not (dest / MANIFEST).exists():
        return False
    return write_atomic(dest / MANIFEST, "".join(ln + "\n" for ln in lines))


def read_manifest(dest: Path) -> Iterator[dict[str, object]]:
    """The rows of a fetched data folder's manifest. Every code path that reads fetched data
    goes through here: a row of a reserved package raises ReservedSourceError."""
    manifest = dest / MANIFEST
    if not manifest.is_file():
        return
    with manifest.open(encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                row = json.loads(line)
                refuse_reserved(str(row.get("package", "")))
                yield row


# --- many packages -------------------------------------------------------------------------

def check_request(packages: Iterable[str], sources: dict[str, Source]) -> list[Source]:
    """The sources asked for, in order; ReservedSourceError for a reserved name (checked for
    every name before anything else), KeyError naming those not in the table."""
    names = list(packages)
    for name in names:
        refuse_reserved(name)
    unknown = [n for n in names if canonical_name(n) not in sources]
    if unknown:
        raise KeyError(", ".join(unknown))
    seen: dict[str, Source] = {}
    for name in names:
        seen.setdefault(canonical_name(name), sources[canonical_name(name)])
    return list(seen.values())


def fetch(chosen: list[Source], dest: Path, cache: Path, download: Downloader | None = None,
          force: bool = False,
          progress: Callable[[PackageReport], None] | None = None) -> list[PackageReport]:
    """Fetch each chosen source (one failure does not stop the others), then refresh the
    manifest. ToolMissing stops everything (nothing else could succeed)."""
    for source in chosen:  # again, for callers that skip check_request
        refuse_reserved(source.name)
    download = apt_downloader if download is None else download
    dest.mkdir(parents=True, exist_ok=True)
    reports = []
    try:
        for source in chosen:
            try:
                report = fetch_package(source, dest, cache, download, force=force)
            except ToolMissing:
                raise
            except (FetchError, OSError) as error:
                report = PackageReport(source.name, "failed", error=str(error))
                shutil.rmtree(dest / STAGING / source.name, ignore_errors=True)
                _remove_if_empty(dest / STAGING)
            reports.append(report)
            if progress is not None:
                progress(report)
    finally:
        refresh_manifest(dest)
    return reports
