"""stemloom bench remote: real transfers over loopback TCP give figures that hold together."""

from __future__ import annotations

from bridge.timing import clip_samples
from stemloom.bench_remote import STEMS, run_remote_bench


def test_one_run_measures_every_figure() -> None:
    results = run_remote_bench(runs=1, bars=1)
    for name in ("upload_mb_per_s", "fetch_mb_per_s", "request_to_first_preview_chunk_ms",
                 "request_to_stems_placed_ms", "udp_paths_request_to_stems_placed_ms"):
        median = results[f"{name}_median"]
        assert median is not None and median > 0, name
        assert results[f"{name}_min"] <= median <= results[f"{name}_max"]
    assert results["request_to_first_preview_chunk_ms_median"] < (
        results["request_to_stems_placed_ms_median"])
    pcm24_stereo = clip_samples(120.0, 1, "4/4", 48000) * 2 * 3
    assert len(STEMS) * pcm24_stereo <= results["stem_bytes_per_job"] < (
        len(STEMS) * (pcm24_stereo + 1024))
