"""The Bitwig controller extension, run by node against a recording fake ``host``.

Bitwig Studio cannot run here (licence, GUI); the fake (``fakes/bitwig_host.js``) answers the
API calls the extension makes and records them, and feeds it engine replies, so the tests
check the OSC request, the reply handling and the tracks and files it inserts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE = shutil.which("node")
SCRIPT = Path(__file__).parents[2] / "plugin_host" / "daw" / "bitwig" / "Stemloom.control.js"
FAKE = Path(__file__).parent / "fakes" / "bitwig_host.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="needs node (apt package nodejs)")

Call = list[Any]
SETTINGS = {"prompt": "  warm tape pads ", "stems": "pads, bass", "bars": 4}
TRANSPORT = {"tempo": 96.5, "numerator": 7, "denominator": 8, "position": 18.25}
DONE = ["/stemloom/done", "$job", "bpm", 96.5, "bars", 4, "time_signature", "7/8",
        "stems.pads", "/lib/job/pads.wav", "stems.bass", "/lib/job/bass.wav"]


def _run(scenario: dict[str, Any]) -> list[Call]:
    done = subprocess.run([NODE, str(FAKE), str(SCRIPT), json.dumps(scenario)],
                          capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _named(calls: list[Call], name: str) -> list[Call]:
    return [call[1:] for call in calls if call[0] == name]


def test_init_declares_the_extension_settings_and_osc() -> None:
    calls = _run({})
    assert _named(calls, "loadAPI") == [[18]]
    ((vendor, name, _, uuid, _),) = _named(calls, "defineController")
    assert (vendor, name, len(uuid)) == ("Stemloom", "Stemloom", 36)
    assert _named(calls, "defineMidiPorts") == [[0, 0]]
    assert [c[0] for c in _named(calls, "getStringSetting")] == ["Prompt", "Stems"]
    assert _named(calls, "getNumberSetting") == [["Bars", "Stemloom", 1, 64, 1, "bars", 8]]
    assert _named(calls, "getSignalSetting") == [["Generate", "Stemloom", "Generate"]]
    assert _named(calls, "OscModule.createUdpServer") == [[7790]]
    assert _named(calls, "OscModule.connectToUdpServer") == [["127.0.0.1", 7770, None]]
    assert "tempo.markInterested" in [c[0] for c in calls]


def test_generate_sends_the_prompt_at_the_project_tempo_and_places_the_stems() -> None:
    calls = _run({"settings": SETTINGS, "transport": TRANSPORT, "tracks": 3,
                  "steps": [{"signal": "Generate"},
                            {"reply": ["/stemloom/progress", "$job", "fraction", 0.5,
                                       "stage", "coarse"]},
                            {"reply": ["/stemloom/progress", "someone-else", "fraction", 0.9,
                                       "stage", "decode"]},
                            {"reply": DONE}, {"runTasks": True}]})

    ((address, job, *fields),) = _named(calls, "OscConnection.sendMessage")
    assert address == "/stemloom/generate" and job.startswith("bitwig-")
    assert dict(zip(fields[::2], fields[1::2], strict=True)) == {
        "prompt": "warm tape pads", "bpm": 96.5, "bars": 4, "time_signature": "7/8",
        "stems": "pads,bass", "reply_port": 7790}
    notes = [text for (text,) in _named(calls, "showPopupNotification")]
    assert "Stemloom: coarse 50%" in notes and not any("decode" in n for n in notes)

    assert _named(calls, "Application.createAudioTrack") == [[3], [4]]
    assert _named(calls, "Track.name.set") == [[3, "pads"], [4, "bass"]]
    assert _named(calls, "InsertionPoint.insertFile") == [[3, 0, "/lib/job/pads.wav"],
                                                          [4, 0, "/lib/job/bass.wav"]]
    assert "18.25 beats" in notes[-1]
    assert not _named(calls, "Track.deleteObject")


def test_tracks_that_never_appear_are_removed_and_nothing_is_inserted() -> None:
    calls = _run({"settings": SETTINGS, "createTracks": False,
                  "steps": [{"signal": "Generate"}, {"reply": DONE}, {"runTasks": True}]})
    assert len(_named(calls, "scheduleTask")) == 20  # waited, then gave up
    assert not _named(calls, "InsertionPoint.insertFile")
    assert "nothing placed" in _named(calls, "showPopupNotification")[-1][0]


def test_a_fail_reply_ends_the_job_and_a_new_prompt_can_go() -> None:
    calls = _run({"settings": SETTINGS,
                  "steps": [{"signal": "Generate"}, {"signal": "Generate"},
                            {"reply": ["/stemloom/fail", "$job", "code", "no_model",
                                       "message", "no trained model"]},
                            {"signal": "Generate"}]})
    notes = [text for (text,) in _named(calls, "showPopupNotification")]
    assert "Stemloom: still working on the last prompt" in notes
    assert "Stemloom failed: no trained model" in notes
    assert len(_named(calls, "OscConnection.sendMessage")) == 2
    assert not _named(calls, "Application.createAudioTrack")


def test_an_empty_prompt_sends_nothing() -> None:
    calls = _run({"settings": {"prompt": "   "}, "steps": [{"signal": "Generate"}]})
    assert not _named(calls, "OscConnection.sendMessage")
    assert "type a prompt" in _named(calls, "showPopupNotification")[0][0]
