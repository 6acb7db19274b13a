"""Render the protocol's reference tables from the schemas, for ``docs/protocol.md``.

``python -m bridge.docgen docs/protocol.md`` rewrites the part of the file between the
generated-section markers; a test fails when the file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bridge import limits
from bridge.errors import ERROR_MEANINGS
from bridge.messages import Request
from bridge.schema import describe, registered

BEGIN = "<!-- BEGIN GENERATED REFERENCE (python -m bridge.docgen docs/protocol.md) -->"
END = "<!-- END GENERATED REFERENCE -->"


def render_reference() -> str:
    """Markdown tables: every address with its fields, every error code, every limit."""
    lines: list[str] = []
    messages = registered()
    for title, want_request in (("Requests", True), ("Replies", False)):
        lines += [f"### {title}", ""]
        for address in sorted(messages):
            cls = messages[address]
            if issubclass(cls, Request) != want_request:
                continue
            doc = " ".join((cls.__doc__ or "").split())
            lines += [f"#### `{address}`", "", doc, "",
                      "| key | type | default | meaning |", "|---|---|---|---|"]
            for name, kind, default, meaning in describe(cls):
                lines.append(f"| `{name}` | {kind} | `{default}` | {meaning} |")
            lines.append("")
    lines += ["### Error codes", "", "| code | meaning |", "|---|---|"]
    lines += [f"| `{code.value}` | {meaning} |" for code, meaning in ERROR_MEANINGS.items()]
    lines += ["", "### Limits", "", "| limit | value |", "|---|---|"]
    for name in sorted(vars(limits)):
        if name.isupper():
            lines.append(f"| `{name}` | `{getattr(limits, name)!r}` |")
    return "\n".join(lines) + "\n"


def update(path: Path) -> bool:
    """Rewrite the generated section of ``path``; True if it changed."""
    text = path.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    updated = f"{head}{BEGIN}\n\n{render_reference()}\n{END}{tail}"
    if updated != text:
        path.write_text(updated)
    return updated != text


if __name__ == "__main__":
    changed = update(Path(sys.argv[1]))
    print("updated" if changed else "up to date")
