"""The prefetching thread behind codec training batches."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.codec.data import prefetch


class _Steps:
    """A batch source whose batch of a step is filled with the step number."""

    def batch(self, step: int, size: int) -> np.ndarray:
        return np.full((size, 2, 4), step, dtype=np.float32)


class _Broken:
    def batch(self, step: int, size: int) -> np.ndarray:
        raise OSError("corrupt shard")


def test_batches_come_in_step_order_from_the_start_step() -> None:
    source = prefetch(_Steps(), start=5, size=3)
    firsts = [int(next(source)[0, 0, 0]) for _ in range(6)]
    source.close()
    assert firsts == [5, 6, 7, 8, 9, 10]


def test_closing_stops_and_joins_the_worker() -> None:
    """A worker left decoding while the interpreter exits aborted a DDP rank (SIGABRT)."""
    before = set(threading.enumerate())
    source = prefetch(_Steps(), start=0, size=2, depth=2)
    next(source)
    assert len(set(threading.enumerate()) - before) == 1  # the worker, now blocked on a full queue
    source.close()
    assert set(threading.enumerate()) - before == set()


def test_a_failing_source_raises_in_the_consumer() -> None:
    source = prefetch(_Broken(), start=0, size=1)
    with pytest.raises(OSError, match="corrupt shard"):
        next(source)
