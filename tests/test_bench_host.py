"""stemloom bench host: the placement timings are of real placements."""

from __future__ import annotations

import json
from pathlib import Path

from plugin_host.daw.folder import MANIFEST
from stemloom.bench_host import STEMS, _fake_done, _placement


def test_placement_is_timed_into_new_and_existing_sessions(tmp_path: Path) -> None:
    done = _fake_done(tmp_path / "engine")
    results = _placement("folder", done, tmp_path / "folder", runs=1)
    assert set(results) == {"place_folder_new_session_s_median",
                            "place_folder_existing_session_s_median"}
    assert all(isinstance(v, float) and v > 0 for v in results.values())
    new = json.loads((tmp_path / "folder" / "new-0" / "session" / MANIFEST).read_text())
    merged = json.loads((tmp_path / "folder" / "merge-0" / "session" / MANIFEST).read_text())
    assert [t["name"] for t in new["tracks"]] == list(STEMS)
    assert [t["name"] for t in merged["tracks"]] == [*STEMS, *STEMS]  # placed into it again
