"""Strip symbols from a bundle's shared libraries, but never break one.

The interpreter's own libraries (libpython, lib-dynload) often carry 20 MB of symbols. Wheels'
vendored libraries, though, were rewritten by patchelf, and ``strip`` can move their segments
so the dynamic loader refuses them ("ELF load command address/offset not page-aligned"). So
each library is stripped as a copy, and the copy is used only when it is smaller and every
loadable segment still maps onto a page boundary. Used by host.spec.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

PAGE = 4096
_PT_LOAD = 1


def loadable(path: Path) -> bool:
    """Whether each PT_LOAD segment of the 64-bit little-endian ELF ``path`` has an offset
    congruent to its address modulo the page size (what the dynamic loader insists on)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    entry_size, count = struct.unpack_from("<HH", data, 0x36)
    for index in range(count):
        kind, _, offset, address = struct.unpack_from("<IIQQ", data, phoff + index * entry_size)
        if kind == _PT_LOAD and (address - offset) % PAGE:
            return False
    return True


def stripped(source: Path, work: Path) -> Path:
    """A stripped copy of the library ``source`` in ``work``, or ``source`` itself when
    stripping gains nothing or would leave a library the loader refuses."""
    if shutil.which("strip") is None:
        return source
    key = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:12]
    target = work / key / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    result = subprocess.run(["strip", "--strip-unneeded", str(target)], capture_output=True)
    if (result.returncode != 0 or target.stat().st_size >= source.stat().st_size
            or not loadable(target)):
        return source
    return target
