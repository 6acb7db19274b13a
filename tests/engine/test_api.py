"""Stemloom as a library (engine.api through ``import stemloom``), with the random-tiny model:
the same audio as the engine's old path, exact bars, words read as the CLI reads them,
nothing written unless asked, torch's global state left alone, streaming, regenerating one
stem, continuing a clip, and the engine serving the same audio."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import stemloom
from bridge.messages import Generate
from bridge.timing import clip_samples
from engine.api import Model, Result
from engine.request import RequestError

# Computed with the engine before engine.api existed (random-tiny's generate taking a
# bridge Generate(prompt="dusty lo-fi drums", bpm=84, bars=2, stems=drums,bass, key="")
# with seed 0, then the server's fit_clip): sha256 of the float32 bytes, first 16 hex digits.
GOLDEN_32K = {"drums": "dfb02e0cabd5d147", "bass": "b08fdc5a61d90ef1"}
GOLDEN_48K = {"drums": "1b8e2035142db99e", "bass": "9b53838ea61eddb9"}
GOLDEN_LAST_PREVIEW = "d5f372d503984a82"  # the whole mix at the last preview, (2, 160000)
GOLDEN_PLAN_PREFIX = "6205c863d01bde08"  # the plan random-tiny kept (as float32)
PROMPT = "dusty lo-fi drums"


def digest(audio: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()[:16]


@pytest.fixture(scope="module")
def model() -> Model:
    return stemloom.load("random-tiny")


@pytest.fixture(scope="module")
def take(model: Model) -> Result:
    return model.generate(PROMPT, bpm=84, bars=2, stems=["drums", "bass"], key="", seed=0)


def test_import_stemloom_loads_no_engine_and_no_torch() -> None:
    code = ("import sys, json, stemloom; stemloom.__version__; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'torch', 'engine', 'soxr', 'soundfile', 'plugin_host'})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert json.loads(out.stdout) == []
    assert stemloom.load is not None and stemloom.Model is Model
    with pytest.raises(AttributeError):
        stemloom.no_such_thing  # noqa: B018


def test_the_same_audio_as_before_the_api(model: Model, take: Result) -> None:
    assert take.sample_rate == 32000  # the model's own rate unless asked
    assert {name: digest(audio) for name, audio in take.stems.items()} == GOLDEN_32K
    assert digest(take.plan["prefix"]) == GOLDEN_PLAN_PREFIX
    assert take.key == "C major" and take.seed == 0 and take.model == model.name
    at_48k = model.generate(PROMPT, bpm=84, bars=2, stems=["drums", "bass"], key="", seed=0,
                            sample_rate=48000)
    assert {name: digest(audio) for name, audio in at_48k.stems.items()} == GOLDEN_48K


def test_clips_are_exactly_the_bars_and_typed(take: Result) -> None:
    length = clip_samples(84.0, 2, "4/4", 32000)
    for audio in take.stems.values():
        assert audio.dtype == np.float32 and audio.shape == (2, length)
    assert take.seconds == pytest.approx(2 * 4 * 60 / 84, abs=1e-4)
    assert take.mix.shape == (2, length)
    assert np.allclose(take.mix, take.stems["drums"] + take.stems["bass"])


def test_words_fill_the_fields_left_out(model: Model) -> None:
    result = model.generate("a bossa nova at 96 bpm in D minor, 1 bar, just bass", seed=3)
    request = result.request
    assert (request.bpm, request.bars, request.key, request.stems) == (96.0, 1, "D minor",
                                                                       ("bass",))
    assert result.resolved is not None and result.resolved.sources["bpm"] == "words"
    assert result.key == "D minor"
    explicit = model.generate("a bossa nova at 96 bpm", bpm=100, bars=1, stems=["mix"], seed=3)
    assert explicit.request.bpm == 100.0 and explicit.resolved.sources["bpm"] == "explicit"


def test_bad_settings_are_value_errors(model: Model) -> None:
    with pytest.raises(RequestError, match="stems: 'kazoo'"):
        model.generate(PROMPT, bars=1, stems=["kazoo"], seed=0)
    with pytest.raises(ValueError, match="bpm"):
        model.generate(PROMPT, bpm=1000, bars=1, seed=0)
    with pytest.raises(RequestError, match="melody"):
        model.generate(PROMPT, bars=1, melody="/no/such/tune.mid", seed=0)


def test_nothing_is_written_unless_asked_and_torch_is_left_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    torch.set_num_threads(3)
    rng = torch.get_rng_state()
    try:
        model = stemloom.load("random-tiny")
        result = model.generate(PROMPT, bpm=120, bars=1, stems=["keys"], seed=1)
        assert torch.get_num_threads() == 3
        assert torch.equal(torch.get_rng_state(), rng)
        assert list(tmp_path.iterdir()) == []
        paths = result.save(tmp_path / "take", format="float32")
    finally:
        torch.set_num_threads(1)
    assert set(paths) == {"keys"}
    audio, rate = sf.read(paths["keys"], dtype="float32")
    assert rate == 32000 and np.array_equal(audio.T, result.stems["keys"])


def test_streaming_yields_the_preview_then_the_result(model: Model, take: Result) -> None:
    stream = model.stream(PROMPT, bpm=84, bars=2, stems=["drums", "bass"], key="", seed=0)
    chunks = list(stream)
    assert len(chunks) >= 4 and [c.start for c in chunks][:2] == [0, chunks[0].audio.shape[1]]
    heard = np.concatenate([c.audio for c in chunks], axis=1)
    assert digest(heard) == GOLDEN_LAST_PREVIEW
    for name, audio in take.stems.items():
        assert np.array_equal(stream.result.stems[name], audio)
    early = model.stream(PROMPT, bpm=84, bars=8, stems=["mix"], seed=0)
    for _ in early:
        break  # leaving the loop cancels the rest
    with pytest.raises(RuntimeError, match="not finished"):
        early.result  # noqa: B018


def test_regenerate_one_stem_keeps_the_others(model: Model, take: Result) -> None:
    again = model.regenerate_stem(take, "bass", seed=5)
    assert list(again.stems) == ["drums", "bass"]
    assert again.stems["drums"] is take.stems["drums"]
    assert not np.array_equal(again.stems["bass"], take.stems["bass"])
    assert again.request.stems == ("bass",) and again.seed == 5
    assert np.array_equal(again.plan["prefix"][0], take.plan["prefix"][0])  # the same plan


def test_continue_a_take_or_an_array(model: Model, take: Result) -> None:
    more = model.continue_(take, bars=1, seed=2)
    assert set(more.stems) == {"drums", "bass"}
    assert more.stems["bass"].shape == (2, clip_samples(84.0, 1, "4/4", 32000))
    assert more.request.continue_from is not None and more.request.prompt == PROMPT
    tone = (0.1 * np.sin(np.arange(44100) / 10)).astype(np.float32)[None]
    from_array = model.continue_((tone, 44100), "warm keys", bpm=120, bars=1, stems=["keys"],
                                 seed=2, sample_rate=48000)
    assert from_array.stems["keys"].shape == (2, 96000)


def test_the_engine_serves_the_same_audio(engine, take: Result) -> None:
    """The OSC engine converts the message at its edge and renders through engine.api."""
    from bridge.client import EngineClient

    with EngineClient(port=engine.udp_port) as client:
        client.submit(Generate(request_id="api-same", prompt=PROMPT, bpm=84.0, bars=2,
                               stems=("drums", "bass"), key="", seed=0, sample_rate=32000,
                               format="float32"))
        done = client.wait("api-same", timeout=120)
    assert done.key == take.key
    for name, path in done.stems.items():
        audio, rate = sf.read(path, dtype="float32")
        assert rate == 32000 and np.array_equal(audio.T, take.stems[name])
    assert (Path(done.metadata).parent / "plan.npz").is_file()
