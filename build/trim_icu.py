"""Make a small ICU data library for the host bundle.

Qt links ICU, whose data library (``libicudata.so.NN``, 32 MB) holds every locale's names,
currencies, units, time zones, calendars, break rules, collations and 200 legacy character
sets. The studio window needs almost none of it: Qt keeps its own locale tables and Unicode
codecs. This keeps what Qt can ask ICU for in a widgets window — the root locale, root
collation (sorting), normalization and the core tables (about 3 MB) — and drops the rest, so
the host bundle stays under 150 MB. What is lost: locale-tailored sorting (e.g. German
phone-book order falls back to the Unicode root order) and legacy 8-bit/CJK text codecs.

Needs ``icupkg`` (Debian/Ubuntu: icu-devtools) and a C compiler (gcc). Used by host.spec.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

# Items of the data package to keep: everything at its root that is not a locale or a legacy
# character set, and the root collation.
# Not Unicode character names, the spoof checker, stringprep or UTS #46 (Qt does its own
# IDNA), or the locale matcher's data: Qt asks ICU for none of them.
_KEEP_AT_ROOT = re.compile(r"^(?!unames|confusables|uts46)[^/]+\.(icu|nrm)$")
_KEEP_RES = {"root", "pool", "res_index", "supplementalData", "likelySubtags", "metadata",
             "keyTypeData", "icuver", "icustd", "timezoneTypes",
             "numberingSystems", "plurals", "pluralRanges", "dayPeriods", "genderList",
             "grammaticalFeatures", "windowsZones", "units"}
_KEEP_COLLATION = {"coll/root.res", "coll/ucadata.icu", "coll/res_index.res"}
_ASSEMBLY = """\
    .section .rodata
    .globl {symbol}
    .type {symbol}, @object
    .balign 16
{symbol}:
    .incbin "{data}"
    .size {symbol}, . - {symbol}
    .section .note.GNU-stack,"",@progbits
"""


class TrimError(RuntimeError):
    """A tool is missing or the library is not the ICU data library this expects."""


def keep(item: str) -> bool:
    """Whether the data package item ``item`` (e.g. ``coll/de.res``) stays."""
    if "/" not in item:
        return bool(_KEEP_AT_ROOT.match(item)) or item.removesuffix(".res") in _KEEP_RES
    return item in _KEEP_COLLATION


def trim(library: Path, work: Path) -> Path:
    """Build the trimmed copy of the ICU data ``library`` in ``work``; returns its path."""
    match = re.fullmatch(r"libicudata\.so\.(\d+)", library.name)
    if match is None:
        raise TrimError(f"{library} is not an ICU data library (libicudata.so.NN)")
    for tool in ("icupkg", "gcc", "objcopy"):
        if shutil.which(tool) is None:
            raise TrimError(f"{tool} not found: apt-get install icu-devtools gcc binutils")
    package = f"icudt{match.group(1)}l"
    work.mkdir(parents=True, exist_ok=True)
    full, small = work / "full" / f"{package}.dat", work / "small" / f"{package}.dat"
    full.parent.mkdir(exist_ok=True)
    small.parent.mkdir(exist_ok=True)
    # The library is nothing but the data package in .rodata, under the symbol icudtNN_dat.
    _run("objcopy", "-O", "binary", "--only-section=.rodata", str(library), str(full))
    if full.read_bytes()[2:4] != b"\xda\x27":
        raise TrimError(f"{library}: its .rodata is not an ICU data package")
    items = _run("icupkg", "-l", str(full)).split()
    dropped = work / "dropped.txt"
    dropped.write_text("".join(f"{item}\n" for item in items if not keep(item)))
    # icupkg names the items after the output file, which must keep the package's name.
    _run("icupkg", "-r", str(dropped), str(full), str(small))
    assembly = work / "icudata.S"
    assembly.write_text(_ASSEMBLY.format(symbol=f"icudt{match.group(1)}_dat", data=small))
    output = work / library.name
    _run("gcc", "-shared", "-nostdlib", f"-Wl,-soname,{library.name}", "-o", str(output),
         str(assembly))
    return output


def _run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise TrimError(f"{' '.join(command)} failed: {result.stderr.strip()[-800:]}")
    return result.stdout
