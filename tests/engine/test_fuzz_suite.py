"""Issue #19's bounded hostile-client suite: 10,000 fuzzed messages per transport against a
real engine process on loopback, then 16 concurrent clients submitting jobs.

``stemloom bench fuzz`` runs the same code longer (100,000 messages, 64 clients).
"""

from __future__ import annotations

import time

from stemloom.bench_fuzz import HostileMessages, run_fuzz, summary_ok


def test_hostile_messages_are_reproducible_and_varied() -> None:
    one, again = HostileMessages(7), HostileMessages(7)
    assert [one.packet() for _ in range(50)] == [again.packet() for _ in range(50)]
    gen = HostileMessages(1)
    packets = [gen.packet() for _ in range(2000)]
    assert any(p.startswith(b"#bundle\x00") for p in packets)
    assert any(p.startswith(b"/stemloom/done") for p in packets)  # replies sent to the engine
    assert any(b"../" in p for p in packets)
    assert any(len(p) > 8192 for p in packets)
    frames = [gen.frame() for _ in range(2000)]
    assert any(closing for _, closing in frames) and not all(closing for _, closing in frames)


def test_ten_thousand_fuzzed_messages_per_transport_then_sixteen_clients(tmp_path) -> None:
    started = time.monotonic()
    result = run_fuzz(10_000, 16, seed=19, library=tmp_path)
    elapsed = time.monotonic() - started
    assert result["sent"] == {"udp": 10_000, "tcp": 10_000}, result
    assert result["crashes"] == 0, result
    assert result["hangs"] == 0, result
    assert result["unanswered_ids"] == 0 and result["tcp_unanswered"] == 0, result
    assert result["bad_replies"] == 0, result
    assert result["client_errors"] == 0 and result["stuck_clients"] == 0, result
    assert result["accepted"] > 0, result
    assert result["done"] + result["failed"] + result["cancelled"] == result["accepted"], result
    assert not result["files_outside_library"], result
    assert result["rss_growth_mib"] < 100, result
    assert summary_ok(result), result
    assert elapsed < 170, f"the suite took {elapsed:.0f} s"
