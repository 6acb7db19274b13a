"""A JSONL training log: one JSON object a line, appended and flushed as it goes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class JsonlLog:
    """Appends records (with wall-clock time) to a .jsonl file."""

    def __init__(self, path: Path) -> None:
        """Open `path` for appending (a resumed run continues the same log)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", buffering=1)

    def write(self, **record: Any) -> None:
        """Append one record."""
        self._file.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """All records of a log."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
