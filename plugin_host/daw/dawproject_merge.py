"""Adding tracks to an existing DAWproject file and leaving everything else in it as it was.

``project.xml`` is edited as text: the new ``Track`` elements go at the end of ``Structure``
and the new track ``Lanes`` at the end of the arrangement's ``Lanes``, and not one other byte
of the document changes (an XML library round trip would drop comments, namespace prefixes
and formatting). Every other ZIP entry (metadata, audio, plugin states, unknown files) is
copied as its raw compressed bytes.
"""

from __future__ import annotations

import math
import struct
import time
import xml.parsers.expat
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree as ET

PROJECT_ENTRY = "project.xml"
_CHUNK = 1 << 20


class FreshIds:
    """XML IDs (``id1``, ``id2``…; xs:ID must not start with a digit) not in ``taken``."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken = set(taken)
        self._next = 0

    def new(self) -> str:
        """An ID no element of the document has yet."""
        while True:
            self._next += 1
            candidate = f"id{self._next}"
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate


@dataclass(frozen=True)
class ExistingProject:
    """What adding to a DAWproject file needs to know about it."""

    path: Path
    xml: bytes
    bpm: float
    time_signature: tuple[int, int]
    other_meters: tuple[tuple[int, int], ...]  # where its meter automation changes the meter
    sample_rate: int | None  # the commonest rate of its audio; the format has no project rate
    ids: frozenset[str]
    master_channel: str | None
    entries: frozenset[str]  # ZIP entry names, lower-cased


def read_project(path: Path) -> ExistingProject:
    """Read the DAWproject file ``path``; ValueError naming it if it is not one."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = frozenset(name.lower() for name in archive.namelist())
            if PROJECT_ENTRY not in archive.NameToInfo:
                raise ValueError(f"{path} is not a DAWproject file: it holds no {PROJECT_ENTRY}")
            document = archive.read(PROJECT_ENTRY)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
            RuntimeError) as error:
        raise ValueError(f"{path} is not a readable DAWproject file (ZIP): {error}") from None
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise ValueError(f"{path}: its {PROJECT_ENTRY} is not well-formed XML: {error}") from None
    if root.tag != "Project":
        raise ValueError(f"{path} is not a DAWproject file: {PROJECT_ENTRY} holds a "
                         f"<{root.tag}>, not a <Project>")
    _Layout.of(document, path)  # refuse now what could not be edited at commit
    tempo = root.find("Transport/Tempo")
    meter = root.find("Transport/TimeSignature")
    try:
        # A project without them plays at the importing DAW's defaults: 120 BPM, 4/4.
        bpm = 120.0 if tempo is None else float(tempo.get("value", "120"))
        signature = (4, 4) if meter is None else (int(meter.get("numerator", "")),
                                                   int(meter.get("denominator", "")))
        changes = {(int(point.get("numerator", "")), int(point.get("denominator", "")))
                   for point in root.iterfind(
                       "Arrangement/TimeSignatureAutomation/TimeSignaturePoint")}
    except ValueError as error:
        raise ValueError(f"{path}: unreadable tempo or time signature: {error}") from None
    numerator, denominator = signature
    if not (math.isfinite(bpm) and bpm > 0) or numerator < 1 or denominator < 1 \
            or denominator & (denominator - 1):
        raise ValueError(f"{path}: unusable tempo {bpm:g} BPM or time signature "
                         f"{numerator}/{denominator}")
    rates = Counter(audio.get("sampleRate") for audio in root.iter("Audio"))
    rate = next((int(r) for r, _ in rates.most_common() if r and r.isdigit() and int(r)), None)
    master = next((c.get("id") for c in root.iterfind("Structure//Channel")
                   if c.get("role") == "master" and c.get("id")), None)
    ids = frozenset(e.get("id", "") for e in root.iter() if e.get("id"))
    return ExistingProject(path, document, bpm, signature, tuple(sorted(changes - {signature})),
                           rate, ids, master, entries)


def add_to_project(project: ExistingProject, tracks: list[ET.Element], lanes: list[ET.Element],
                   ids: FreshIds) -> bytes:
    """``project``'s ``project.xml`` with ``tracks`` appended to ``Structure`` and ``lanes`` to
    the arrangement's ``Lanes`` (each made where missing); no other byte changes."""
    layout = _Layout.of(project.xml, project.path)
    edits: list[tuple[int, int, str]] = []
    if tracks:
        if layout.structure is not None:
            edits.append(layout.append_to(layout.structure, "Structure", tracks))
        else:
            wrapper = ET.Element("Structure")
            wrapper.extend(tracks)
            at = layout.arrangement or layout.scenes
            edits.append(layout.insert_before(at[0], wrapper) if at
                         else layout.append_to(layout.project, "Project", [wrapper]))
    if lanes:
        timeline = ET.Element("Lanes", id=ids.new(), timeUnit="beats")
        timeline.extend(lanes)
        if layout.lanes is not None:
            edits.append(layout.append_to(layout.lanes, "Lanes", lanes))
        elif layout.arrangement is not None:
            first = layout.arrangement_child
            edits.append(layout.insert_before(first, timeline) if first is not None
                         else layout.append_to(layout.arrangement, "Arrangement", [timeline]))
        else:
            arrangement = ET.Element("Arrangement", id=ids.new())
            arrangement.append(timeline)
            edits.append(layout.insert_before(layout.scenes[0], arrangement) if layout.scenes
                         else layout.append_to(layout.project, "Project", [arrangement]))
    document = project.xml
    # From the last position to the first; a stable sort keeps the Structure edit before the
    # arrangement's where both go to the same place (the end of <Project>).
    for start, end, text in reversed(sorted(edits, key=lambda edit: edit[0])):
        data = text.encode(layout.encoding, "xmlcharrefreplace")
        document = document[:start] + data + document[end:]
    return document


# (start of the start tag, start of the end tag or None where the element is <empty/>)
_Span = tuple[int, int | None]


@dataclass
class _Layout:
    """Where the elements that receive new children are in the document's bytes."""

    xml: bytes
    encoding: str
    unit: str  # one level of indentation, "" where the document is not indented
    project: _Span
    structure: _Span | None = None
    arrangement: _Span | None = None
    arrangement_child: int | None = None  # start of the arrangement's first child
    lanes: _Span | None = None
    scenes: _Span | None = None

    @classmethod
    def of(cls, document: bytes, path: Path) -> _Layout:
        """Find the elements in ``document`` (the ``project.xml`` of ``path``)."""
        parser = xml.parsers.expat.ParserCreate()
        found: dict[tuple[str, ...], list[int | None]] = {}  # first element at each path
        firsts: dict[tuple[str, ...], int] = {}  # start of the first child at each path
        path_now: list[str] = []
        open_spots: list[list[int | None]] = []
        declared: list[str] = []

        def start(name: str, _attributes: object) -> None:
            at = parser.CurrentByteIndex
            firsts.setdefault(tuple(path_now), at)
            path_now.append(name)
            empty = document[_tag_end(document, at) - 1:].startswith(b"/")
            spot: list[int | None] = [at, None if empty else -1]
            open_spots.append(spot)
            found.setdefault(tuple(path_now), spot)

        def end(_name: str) -> None:
            spot = open_spots.pop()
            if spot[1] is not None:
                spot[1] = parser.CurrentByteIndex
            path_now.pop()

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.XmlDeclHandler = lambda _version, encoding, _alone: declared.append(encoding or "")
        try:
            parser.Parse(document, True)
        except xml.parsers.expat.ExpatError as error:
            raise ValueError(f"{path}: its {PROJECT_ENTRY} is not well-formed XML: "
                             f"{error}") from None
        encoding = (declared[0] if declared and declared[0] else "utf-8").lower()
        try:
            ascii_based = "<>".encode(encoding) == b"<>"
        except LookupError:
            ascii_based = False
        if not ascii_based or document.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ValueError(f"{path}: cannot add to a {PROJECT_ENTRY} in encoding {encoding!r}")

        def span(*names: str) -> _Span | None:
            spot = found.get(("Project", *names))
            return None if spot is None else (int(spot[0] or 0), spot[1])

        project = span()
        application = span("Application")
        assert project is not None  # the caller checked the root is a <Project>
        layout = cls(document, encoding, "", project, span("Structure"), span("Arrangement"),
                     firsts.get(("Project", "Arrangement")), span("Arrangement", "Lanes"),
                     span("Scenes"))
        if application is not None:
            layout.unit = layout._indent(application[0]) or ""
        return layout

    def append_to(self, element: _Span, name: str, children: list[ET.Element]
                  ) -> tuple[int, int, str]:
        """The edit that appends ``children`` to ``element``, whose tag is ``name``."""
        start, end = element
        if end is None:  # <name .../>: open it, add the children, close it
            slash = _tag_end(self.xml, start) - 1
            outer = self._indent(start)
            if outer is None or not self.unit:
                return slash, slash + 2, f">{''.join(map(self._text, children))}</{name}>"
            inner = outer + self.unit
            body = "".join(f"\n{inner}{self._text(child, inner)}" for child in children)
            return slash, slash + 2, f">{body}\n{outer}</{name}>"
        outer = self._indent(end)
        if outer is None or not self.unit:
            return end, end, "".join(map(self._text, children))
        inner = outer + self.unit
        body = f"\n{inner}".join(self._text(child, inner) for child in children)
        return end, end, f"{self.unit}{body}\n{outer}"

    def insert_before(self, position: int, element: ET.Element) -> tuple[int, int, str]:
        """The edit that puts ``element`` just before the tag at ``position``."""
        own = self._indent(position)
        if own is None or not self.unit:
            return position, position, self._text(element)
        return position, position, f"{self._text(element, own)}\n{own}"

    def _text(self, element: ET.Element, indent: str | None = None) -> str:
        """``element`` as XML text, its inner lines indented under ``indent``."""
        element.tail = None
        if indent is None or not self.unit:
            return ET.tostring(element, encoding="unicode")
        ET.indent(element, space=self.unit)
        return ET.tostring(element, encoding="unicode").replace("\n", f"\n{indent}")

    def _indent(self, position: int) -> str | None:
        """The spaces and tabs before ``position`` if only they precede it on its line."""
        line_start = self.xml.rfind(b"\n", 0, position) + 1
        before = self.xml[line_start:position]
        if line_start == 0 or before.strip(b" \t"):
            return None
        return before.decode("ascii")


def _tag_end(document: bytes, start: int) -> int:
    """Index of the ``>`` closing the tag that starts at ``start`` (quotes may hold ``>``)."""
    quote = 0
    for index in range(start, len(document)):
        byte = document[index]
        if quote:
            quote = 0 if byte == quote else quote
        elif byte in b"\"'":
            quote = byte
        elif byte == ord(">"):
            return index
    raise ValueError("unterminated tag")


def write_zip(source: Path, handle: BinaryIO, replace: Mapping[str, bytes],
              add: Mapping[str, Path]) -> None:
    """Write to ``handle`` the ZIP ``source`` with the entries in ``replace`` given new
    contents, every other entry copied as its raw bytes, and the files of ``add`` (entry name
    -> file) appended, stored uncompressed."""
    with zipfile.ZipFile(source) as old, open(source, "rb") as raw, \
            zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as new:
        new.comment = old.comment
        for info in old.infolist():
            if info.filename in replace:
                fresh = zipfile.ZipInfo(info.filename, time.localtime()[:6])
                fresh.external_attr = info.external_attr
                new.writestr(fresh, replace[info.filename], zipfile.ZIP_DEFLATED)
            else:
                _copy_raw(raw, info, new)
        for entry, path in add.items():
            # WAV barely compresses; storing keeps writing fast.
            new.write(path, entry, compress_type=zipfile.ZIP_STORED)


def _copy_raw(raw: BinaryIO, info: zipfile.ZipInfo, out: zipfile.ZipFile) -> None:
    """Append the entry ``info`` of the ZIP file ``raw`` to ``out`` without recompressing it.

    zipfile has no public call for this; it is done as ``ZipFile.mkdir`` writes its entries
    (header at ``start_dir``, then registered in ``filelist`` for the central directory).
    """
    raw.seek(info.header_offset)
    header = raw.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise ValueError(f"damaged ZIP entry {info.filename!r}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    raw.seek(info.header_offset + 30 + name_length + extra_length)
    copy = zipfile.ZipInfo(info.filename, info.date_time)
    for field in ("compress_type", "comment", "create_system", "create_version",
                  "extract_version", "flag_bits", "volume", "internal_attr", "external_attr",
                  "CRC", "compress_size", "file_size"):
        setattr(copy, field, getattr(info, field))
    copy.flag_bits &= ~0x08  # sizes go in the header: no data descriptor after the data
    copy.extra = _without_zip64(info.extra)
    assert out.fp is not None
    with out._lock:  # type: ignore[attr-defined]
        out.fp.seek(out.start_dir)
        copy.header_offset = out.fp.tell()
        out.fp.write(copy.FileHeader(None))
        left = info.compress_size
        while left:
            chunk = raw.read(min(left, _CHUNK))
            if not chunk:
                raise ValueError(f"truncated ZIP entry {info.filename!r}")
            out.fp.write(chunk)
            left -= len(chunk)
        out.filelist.append(copy)
        out.NameToInfo[copy.filename] = copy
        out.start_dir = out.fp.tell()
        out._didModify = True  # type: ignore[attr-defined]


def _without_zip64(extra: bytes) -> bytes:
    """``extra`` without its ZIP64 field (header id 1), which zipfile writes afresh."""
    kept, index = [], 0
    while index + 4 <= len(extra):
        kind, size = struct.unpack("<HH", extra[index:index + 4])
        if kind != 1:
            kept.append(extra[index:index + 4 + size])
        index += 4 + size
    return b"".join(kept)
