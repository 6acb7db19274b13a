"""Clip names: informative for normal prompts, safe for hostile ones, on every file system."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plugin_host.clip_names import clip_name, safe_component

SAFE = re.compile(r"[a-z0-9][a-z0-9-]*_[0-9.]+bpm_[A-Za-z0-9-]+_[0-9.]+bars_[a-z0-9-]+\.wav")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                    *(f"LPT{i}" for i in range(10))}

HOSTILE = [
    "../../etc/passwd",
    "..\\..\\Windows\\System32",
    "/absolute/path",
    "C:\\boot.ini",
    "CON",
    "nul",
    "com1",
    "LPT9",
    "con.txt",
    "a" * 5000,
    "日本語のプロンプト",
    "🔥🔥🔥",
    "   ",
    "",
    ".",
    "..",
    "-rf --no-preserve-root",
    'quote" star* pipe| lt< gt> colon: question?',
    "tab\tnew\nline\x00nul\x1bescape",
    "trailing dots and spaces... ",
    "Ünïcödé Çafé naïve",
    "\u202eevil right-to-left override",
]


@pytest.mark.parametrize("prompt", HOSTILE)
def test_hostile_prompts_give_safe_names(prompt: str, tmp_path: Path) -> None:
    name = clip_name(prompt, 120, "F#m", 8, "drums")
    assert SAFE.fullmatch(name), name
    assert len(name) <= 100
    assert name.split(".")[0].upper() not in WINDOWS_RESERVED
    # The name is one plain file inside the folder, and the file system accepts it.
    path = tmp_path / name
    path.write_bytes(b"x")
    assert path.resolve().parent == tmp_path.resolve()


def test_normal_prompt_reads_naturally() -> None:
    assert (clip_name("Deep house groove", 124, "F# minor", 8, "drums")
            == "deep-house-groove_124bpm_Fsharp-minor_8bars_drums.wav")
    assert (clip_name("Lo-fi chill", 87.5, None, 4, "Bass")
            == "lo-fi-chill_87.5bpm_nokey_4bars_bass.wav")
    assert clip_name("Café", 90, "B\u266d", 2, "lead") == "cafe_90bpm_Bb_2bars_lead.wav"


def test_long_prompts_are_bounded_and_stay_distinct() -> None:
    first = clip_name("x" * 300 + " one", 120, "C", 4, "bass", max_length=80)
    second = clip_name("x" * 300 + " two", 120, "C", 4, "bass", max_length=80)
    assert len(first) <= 80 and len(second) <= 80
    assert first != second
    assert first.endswith("_120bpm_C_4bars_bass.wav")


def test_prompts_without_ascii_stay_distinct() -> None:
    assert clip_name("日本", 120, "C", 4, "bass") != clip_name("中国", 120, "C", 4, "bass")


def test_names_are_deterministic() -> None:
    assert clip_name("a" * 999, 100, "E", 2, "pad") == clip_name("a" * 999, 100, "E", 2, "pad")


@pytest.mark.parametrize("kwargs", [
    {"bpm": 0}, {"bpm": float("nan")}, {"bars": -1}, {"bars": float("inf")},
    {"extension": "wav"}, {"extension": ".w/v"}, {"extension": "./../x"}, {"max_length": 30},
])
def test_bad_arguments_raise(kwargs: dict) -> None:
    arguments = {"prompt": "p", "bpm": 120, "key": "C", "bars": 4, "stem": "drums", **kwargs}
    with pytest.raises(ValueError):
        clip_name(**arguments)


@pytest.mark.parametrize("text", ["CON", "aux", "Com3", "lpt1"])
def test_safe_component_avoids_reserved_names(text: str) -> None:
    assert safe_component(text).upper() not in WINDOWS_RESERVED


def test_safe_component_bounds_and_fallback() -> None:
    assert safe_component("---", fallback="track") == "track"
    assert len(safe_component("word " * 100, 20)) <= 20
    assert not safe_component("word " * 100, 20).endswith("-")
