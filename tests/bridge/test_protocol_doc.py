"""docs/protocol.md documents every address, field, error code and limit, as the code has them."""

from __future__ import annotations

from pathlib import Path

from bridge.docgen import BEGIN, END, render_reference
from bridge.errors import ErrorCode
from bridge.schema import describe, registered

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_generated_reference_is_up_to_date() -> None:
    text = DOC.read_text()
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert generated.strip() == render_reference().strip(), (
        "run: python -m bridge.docgen docs/protocol.md"
    )


def test_every_address_field_and_code_appears() -> None:
    text = DOC.read_text()
    for address, cls in registered().items():
        assert f"`{address}`" in text
        for name, *_ in describe(cls):
            assert f"`{name}`" in text
    for code in ErrorCode:
        assert f"`{code.value}`" in text
