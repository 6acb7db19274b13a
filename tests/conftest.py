"""Shared fixtures: a real engine subprocess on free loopback ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stemloom.local_engine import LocalEngine


@pytest.fixture(scope="session", autouse=True)
def private_user_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Per-user settings (the client id above all) go to a folder of the test run's own,
    never the real user's; engines started by the tests inherit it."""
    saved = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if saved is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = saved


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """An engine process with the tiny random model, UDP and TCP, a small queue."""
    root = tmp_path_factory.mktemp("engine")
    with LocalEngine(
        root / "library",
        model="random-tiny",
        tcp=True,
        queue_size=3,
        log_path=root / "engine.log",
    ) as running:
        yield running
        assert running.process is not None and running.process.poll() is None, (
            "the engine died during the tests: " + (root / "engine.log").read_text()[-3000:]
        )


def library_files(library: Path) -> set[Path]:
    """Every file under the library."""
    return {p for p in library.rglob("*") if p.is_file()}
