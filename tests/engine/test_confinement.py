"""Issue #19 item 6: the engine reads inputs only from its input folders, never through a
link out of them, and its refusals do not tell whether a path exists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from bridge.client import EngineClient
from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import Done, Generate
from stemloom.local_engine import LocalEngine

JOB: dict[str, Any] = {"prompt": "dusty drums", "bars": 1, "stems": ("drums", "bass")}


def _wav(path: Path, seconds: float = 1.0) -> Path:
    t = np.arange(int(32000 * seconds)) / 32000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 32000)
    return path


def _refusal(client: EngineClient, request: Generate) -> tuple[ErrorCode, str]:
    with pytest.raises(ProtocolError) as caught:
        client.submit(request)
    return caught.value.code, caught.value.message


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("confinement")
    allowed, outside = root / "allowed", root / "outside"
    allowed.mkdir()
    outside.mkdir()
    _wav(allowed / "take.wav")
    _wav(outside / "secret.wav")
    (outside / "secret.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0")
    (allowed / "shadow.wav").symlink_to("/etc/shadow")
    (allowed / "escape.wav").symlink_to(outside / "secret.wav")
    (allowed / "escape.mid").symlink_to(outside / "secret.mid")
    return {"root": root, "allowed": allowed, "outside": outside}


@pytest.fixture(scope="module")
def engine(folders: dict[str, Path]):
    with LocalEngine(folders["root"] / "library", model="random-tiny",
                     extra_args=("--input-folder", str(folders["allowed"]))) as running:
        yield running


@pytest.fixture()
def client(engine: LocalEngine):
    with EngineClient(port=engine.udp_port, timeout=10.0) as connected:
        yield connected


def test_a_path_outside_the_input_folders_gets_the_same_answer_as_a_missing_one(
        client: EngineClient, folders: dict[str, Path]) -> None:
    outside, allowed = folders["outside"], folders["allowed"]
    missing = _refusal(client, Generate(request_id="c-missing", melody=str(allowed / "no.mid"),
                                        **JOB))
    assert missing[0] == ErrorCode.BAD_ARGUMENT
    for n, path in enumerate([outside / "secret.mid", outside / "no-such.mid",
                              Path("/nonexistent/x.mid")]):
        answer = _refusal(client, Generate(request_id=f"c-out-{n}", melody=str(path), **JOB))
        assert answer == missing, path
    for n, name in enumerate(["secret.wav", "nothing-here.wav"]):
        answer = _refusal(client, Generate(request_id=f"c-ref-{n}",
                                           reference=str(outside / name), **JOB))
        assert answer == (ErrorCode.BAD_ARGUMENT, missing[1].replace("melody", "reference"))


def test_a_link_in_an_input_folder_to_a_file_outside_is_refused(
        client: EngineClient, folders: dict[str, Path]) -> None:
    allowed = folders["allowed"]
    expected = _refusal(client, Generate(request_id="l-missing",
                                         reference=str(allowed / "gone.wav"), **JOB))
    for n, name in enumerate(["shadow.wav", "escape.wav"]):
        assert _refusal(client, Generate(request_id=f"l-ref-{n}", reference=str(allowed / name),
                                         **JOB)) == expected
        assert _refusal(client, Generate(request_id=f"l-cont-{n}",
                                         continue_from=str(allowed / name), **JOB)) \
            == (expected[0], expected[1].replace("reference", "continue_from"))
    assert _refusal(client, Generate(request_id="l-mid", melody=str(allowed / "escape.mid"),
                                     **JOB)) == (expected[0],
                                                 expected[1].replace("reference", "melody"))


def test_an_input_in_an_input_folder_is_used_and_a_plan_behind_a_link_is_not(
        client: EngineClient, engine: LocalEngine, folders: dict[str, Path]) -> None:
    take = folders["allowed"] / "take.wav"
    client.submit(Generate(request_id="c-good", reference=str(take), **JOB))
    done = client.wait("c-good", timeout=60)
    assert isinstance(done, Done), done
    # Its own plan, a regular file in its own folder, may be kept.
    plan = engine.library / "c-good" / "plan.npz"
    assert plan.is_file()
    client.submit(Generate(request_id="c-keep", keep_from="c-good", prompt="x", bars=1,
                           stems=("bass",)))
    assert isinstance(client.wait("c-keep", timeout=60), Done)
    # The same plan behind a link (to a copy outside the library) is never followed.
    copy = folders["outside"] / "plan.npz"
    copy.write_bytes(plan.read_bytes())
    plan.unlink()
    os.symlink(copy, plan)
    code, message = _refusal(client, Generate(request_id="c-keep-link", keep_from="c-good",
                                              prompt="x", bars=1, stems=("bass",)))
    assert code == ErrorCode.BAD_ARGUMENT and "keep_from" in message
