"""The Bitwig controller extension, run by node against a recording fake ``host``.

Bitwig Studio cannot run here (licence, GUI); the fake (``fakes/bitwig_host.js``) answers the
API calls the extension makes and records them, and feeds it engine replies, so the tests
check the OSC request (bars and stems left out when unset, so the engine reads them from the
prompt), the reply handling and the tracks and files it inserts.
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
        "key", "D minor", "stems.pads", "/lib/job/pads.wav", "stems.bass", "/lib/job/bass.wav"]


def _run(scenario: dict[str, Any]) -> list[Call]:
    done = subprocess.run([NODE, str(FAKE), str(SCRIPT), json.dumps(scenario)],
                          capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _named(calls: list[Call], name: str) -> list[Call]:
    return [call[1:] for call in calls if call[0] == name]


def _sent(calls: list[Call]) -> dict[str, Any]:
    """The fields of the one /stemloom/generate the extension sent."""
    ((address, job, *fields),) = _named(calls, "OscConnection.sendMessage")
    assert address == "/stemloom/generate" and job.startswith("bitwig-")
    return dict(zip(fields[::2], fields[1::2], strict=True))


def test_init_declares_the_extension_settings_and_osc() -> None:
    calls = _run({})
    assert _named(calls, "loadAPI") == [[18]]
    ((vendor, name, _, uuid, _),) = _named(calls, "defineController")
    assert (vendor, name, len(uuid)) == ("Stemloom", "Stemloom", 36)
    assert _named(calls, "defineMidiPorts") == [[0, 0]]
    assert _named(calls, "getStringSetting") == [
        ["Prompt", "Stemloom", 200, ""], ["Stems (empty: from the prompt)", "Stemloom", 80, ""]]
    assert _named(calls, "getNumberSetting") == [
        ["Bars (0: from the prompt)", "Stemloom", 0, 64, 1, "bars", 0]]
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

    assert _sent(calls) == {
        "prompt": "warm tape pads", "bpm": 96.5, "bars": 4, "time_signature": "7/8",
        "stems": "pads,bass", "reply_port": 7790}
    notes = [text for (text,) in _named(calls, "showPopupNotification")]
    assert "Stemloom: coarse 50%" in notes and not any("decode" in n for n in notes)

    assert _named(calls, "Application.createAudioTrack") == [[3], [4]]
    assert _named(calls, "Track.name.set") == [[3, "pads"], [4, "bass"]]
    assert _named(calls, "InsertionPoint.insertFile") == [[3, 0, "/lib/job/pads.wav"],
                                                          [4, 0, "/lib/job/bass.wav"]]
    assert notes[-1] == ("Stemloom: 2 stems in scene 1 at 96.5 BPM, 7/8, 4 bars, D minor "
                         "(play position 18.25 beats)")
    assert not _named(calls, "Track.deleteObject")


def test_bars_and_stems_left_unset_are_left_to_the_prompt() -> None:
    """Bars 0 and empty stems (the defaults) are not sent, so the engine reads them from the
    prompt; the session's tempo and meter always go, and win over the words."""
    prompt = "acid house, 132 bpm, Gm, 16 bars, 303 line, crisp hats"
    cases = [({}, {}),
             ({"bars": 0, "stems": "  "}, {}),
             ({"bars": 16}, {"bars": 16}),
             ({"stems": " drums , bass"}, {"stems": "drums,bass"}),
             ({"bars": 7.6, "stems": "pads"}, {"bars": 8, "stems": "pads"})]
    for settings, expected in cases:
        calls = _run({"settings": {"prompt": prompt, **settings},
                      "transport": {"tempo": 120, "numerator": 4, "denominator": 4},
                      "steps": [{"signal": "Generate"}]})
        sent = _sent(calls)
        assert sent == {"prompt": prompt, "bpm": 120, "time_signature": "4/4",
                        **expected, "reply_port": 7790}, settings
        assert list(sent)[-1] == "reply_port"


def test_the_done_notification_says_what_the_words_gave() -> None:
    done = ["/stemloom/done", "$job", "bpm", 120.0, "bars", 16, "time_signature", "4/4",
            "key", "G minor", "stems.bass", "/lib/job/bass.wav",
            "stems.drums", "/lib/job/drums.wav"]
    calls = _run({"settings": {"prompt": "acid house, 16 bars, Gm, 303 line, crisp hats"},
                  "steps": [{"signal": "Generate"}, {"reply": done}, {"runTasks": True}]})
    assert "bars" not in _sent(calls) and "stems" not in _sent(calls)
    assert _named(calls, "Track.name.set") == [[0, "bass"], [1, "drums"]]
    assert _named(calls, "showPopupNotification")[-1] == [
        "Stemloom: 2 stems in scene 1 at 120 BPM, 4/4, 16 bars, G minor "
        "(play position 0.00 beats)"]


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
