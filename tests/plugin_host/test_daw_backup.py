"""keep_backup: a byte-for-byte copy beside the session, never overwriting an older one."""

from __future__ import annotations

from pathlib import Path

from plugin_host.daw.backup import BACKUP_TAG, keep_backup


def test_a_backup_is_a_copy_beside_the_session_with_its_extension(tmp_path: Path) -> None:
    session = tmp_path / "song.RPP"
    session.write_bytes(b"<REAPER_PROJECT\n>\n")
    backup = keep_backup(session, now=0)
    assert backup.parent == tmp_path and backup.suffix == ".RPP"
    assert backup.name.startswith(f"song.{BACKUP_TAG}-")
    assert backup.read_bytes() == session.read_bytes()


def test_backups_made_in_the_same_second_never_replace_each_other(tmp_path: Path) -> None:
    session = tmp_path / "song.dawproject"
    made = []
    for version in range(3):
        session.write_bytes(f"version {version}".encode())
        made.append(keep_backup(session, now=1_000_000))
    assert len(set(made)) == 3
    assert [p.read_bytes() for p in made] == [b"version 0", b"version 1", b"version 2"]
