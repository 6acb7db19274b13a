"""user_client_id: one secret per user, kept private, replaced when damaged."""

from __future__ import annotations

import stat
from pathlib import Path

from bridge.identity import FILE_NAME, user_client_id


def test_the_id_is_made_once_kept_private_and_replaced_when_damaged(tmp_path: Path) -> None:
    first = user_client_id(tmp_path)
    assert len(first) == 32 and int(first, 16) >= 0
    assert user_client_id(tmp_path) == first  # the same user, the same jobs
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600
    (tmp_path / FILE_NAME).write_text("not an id\n")
    second = user_client_id(tmp_path)
    assert second != first and user_client_id(tmp_path) == second
    assert user_client_id(tmp_path / "another user") != second
