"""Effect chains: every shipped preset run through real pedalboard on real clip files, preset
validation, and user plugins that cannot load."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from plugin_host.clips import AcidInfo, read_clip_info, write_clip
from plugin_host.effect_presets import PresetError, list_presets, load_preset, read_preset
from plugin_host.effects import (
    PluginLoadError,
    apply_to_stems,
    build_chain,
    load_user_plugin,
    process,
)

RATE = 48000
SHIPPED = ["clean", "lofi tape", "punchy drums", "warm bass", "wide reverb"]


def chain(name: str) -> object:
    return build_chain(load_preset(name))


def sine(hz: float, amplitude: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.repeat((amplitude * np.sin(2 * np.pi * hz * t))[:, None], 2, axis=1).astype(
        np.float32)


def rms_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + 1e-12))


def gain_db(name: str, hz: float, amplitude: float) -> float:
    """Steady-state gain of a preset for a sine (the first 0.25 s, settling, is skipped)."""
    tone = sine(hz, amplitude)
    out = process(chain(name), tone, RATE)
    return rms_db(out[RATE // 4:]) - rms_db(tone[RATE // 4:])


def drum_loop(bars: int = 1, bpm: float = 120.0) -> np.ndarray:
    """Kick on beats 1 and 3, a noise snare on 2 and 4: sparse, peaky, like a drum stem."""
    rng = np.random.default_rng(1)
    beat = round(60 / bpm * RATE)
    out = np.zeros(bars * 4 * beat)
    t = np.arange(round(0.3 * RATE)) / RATE
    kick = 0.4 * np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-t / 0.03)) / RATE) * np.exp(
        -t / 0.12)
    for k in range(bars * 4):
        hit = kick if k % 2 == 0 else 0.25 * rng.normal(0, 1, len(t)) * np.exp(-t / 0.06)
        out[k * beat:k * beat + len(t)] += hit
    return np.repeat(out[:, None], 2, axis=1).astype(np.float32)


def test_the_shipped_presets_are_listed_and_load() -> None:
    assert set(SHIPPED) <= set(list_presets())
    for name in list_presets():
        preset = load_preset(name)
        assert preset.description and preset.steps, name
    assert load_preset("Lofi-Tape") == load_preset("lofi_tape") == load_preset("lofi tape")


@pytest.mark.parametrize("name", SHIPPED)
def test_each_preset_processes_a_clip_set_keeping_its_chunks(name: str, tmp_path: Path) -> None:
    acid = AcidInfo(tempo=120.0, beats=8, root_note=57)
    drums = write_clip(tmp_path / "song_120bpm_Am_2bars_drums.wav", drum_loop(bars=2), RATE,
                       acid)
    bass = write_clip(tmp_path / "song_120bpm_Am_2bars_bass.wav", sine(55.0, 0.3, 4.0), RATE,
                      acid, subtype="FLOAT")
    out = tmp_path / "fx"
    out.mkdir()
    result = apply_to_stems({"drums": drums, "bass": bass}, chain(name), name, only=["drums"],
                            out_dir=out)
    assert result["bass"] == bass  # not chosen: untouched
    assert result["drums"] == out / f"song_120bpm_Am_2bars_drums-{name.replace(' ', '-')}.wav"
    before, after = read_clip_info(drums), read_clip_info(result["drums"])
    assert (after.acid, after.sampler, after.frames, after.sample_rate, after.subtype) == (
        before.acid, before.sampler, before.frames, before.sample_rate, before.subtype)
    processed, _ = sf.read(result["drums"])
    original, _ = sf.read(drums)
    assert np.isfinite(processed).all() and not np.allclose(processed, original, atol=1e-3)
    assert [path.name for path in out.iterdir()] == [result["drums"].name]  # no temp files
    float_out = apply_to_stems({"bass": bass}, chain(name), name, out_dir=out)["bass"]
    assert read_clip_info(float_out).subtype == "FLOAT"


def test_clean_changes_nothing_audible_but_removes_dc() -> None:
    assert gain_db("clean", 440.0, 0.5) == pytest.approx(0.0, abs=0.1)
    offset = sine(440.0, 0.2) + 0.1
    out = process(chain("clean"), offset, RATE)
    assert abs(float(out[RATE // 2:].mean())) < 0.002


def test_lofi_tape_takes_the_highs_away() -> None:
    assert gain_db("lofi tape", 12000.0, 0.1) < -30
    assert -8 < gain_db("lofi tape", 1000.0, 0.1) < 0


def test_warm_bass_lifts_the_lows_and_darkens_the_top() -> None:
    low, high = gain_db("warm bass", 60.0, 0.03), gain_db("warm bass", 6000.0, 0.03)
    assert low > 3 and low - high > 12


def test_punchy_drums_are_denser_and_held_under_full_scale() -> None:
    loop = drum_loop(bars=2)
    out = process(chain("punchy drums"), loop, RATE, loop=True)
    assert rms_db(out) > rms_db(loop) + 3
    assert 20 * np.log10(np.abs(out).max()) <= -0.9


def test_wide_reverb_adds_a_wide_tail_that_wraps_round_a_loop() -> None:
    rng = np.random.default_rng(2)
    clip = np.zeros((3 * RATE, 2), dtype=np.float32)
    clip[:RATE // 10] = rng.normal(0, 0.3, (RATE // 10, 1))  # the same in both channels
    one_shot = process(chain("wide reverb"), clip, RATE)
    tail = one_shot[RATE // 2:RATE]  # silent in the source
    assert rms_db(tail) > -40
    assert np.corrcoef(tail[:, 0], tail[:, 1])[0, 1] < 0.5  # mono in, wide out
    # A loop with the burst at its end: the tail comes back round into the start.
    looped = process(chain("wide reverb"), np.roll(clip, -RATE // 10, axis=0), RATE, loop=True)
    assert rms_db(looped[:RATE // 2]) > -40


def test_a_clip_without_tempo_or_an_unknown_stem_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.wav"
    sf.write(plain, sine(440.0, 0.1), RATE)
    with pytest.raises(ValueError, match="has no ACID chunk"):
        apply_to_stems({"lead": plain}, chain("clean"), "clean")
    with pytest.raises(ValueError, match="no stem 'vocals' in this clip set"):
        apply_to_stems({"lead": plain}, chain("clean"), "clean", only=["vocals"])


@pytest.mark.parametrize(("body", "message"), [
    ('[[effects]]\nplugin = "Reverbb"\n', r"effects\[0\]\.plugin: unknown plugin 'Reverbb'"),
    ('[[effects]]\nplugin = "Gain"\n[[effects]]\nplugin = "Reverb"\nroom = 0.5\n',
     r"effects\[1\]\.room: Reverb has no parameter 'room' \(it has: damping, dry_level"),
    ('[[effects]]\nplugin = "Gain"\ngain_db = "loud"\n',
     r"effects\[0\]\.gain_db: must be a number, not 'loud'"),
    ('[[effects]]\nplugin = "LadderFilter"\nmode = "LPF48"\n',
     r"effects\[0\]\.mode: must be one of LPF12, HPF12"),
    ('[[effects]]\nplugin = "Reverb"\nroom_size = 2.0\n',
     r"effects\[0\] \(Reverb\): Room Size value must be between 0.0 and 1.0"),
    ('colour = "red"\n', r"unknown key 'colour'"),
    ('[[effects]]\nplugin = "VST3"\n', r"effects\[0\]\.path: a VST3 entry needs"),
    ('[[effects\nplugin = "Gain"\n', r"cannot read the preset"),
])
def test_bad_presets_name_the_file_and_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(body)
    with pytest.raises(PresetError, match=f"{re.escape(str(path))}: {message}"):
        read_preset(path)


def test_an_unknown_preset_name_lists_the_presets_there_are() -> None:
    with pytest.raises(PresetError,
                       match=r"no effect preset 'disco' .*\(there are: clean, lofi tape, "):
        load_preset("disco")


def test_user_plugins_that_cannot_load_say_why(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match=r"plugin not found: .*Nowhere\.vst3"):
        load_user_plugin(tmp_path / "Nowhere.vst3")
    fake = tmp_path / "Fake.vst3"
    fake.write_text("not a plugin")
    with pytest.raises(PluginLoadError,
                       match=r"(?s)cannot load plugin .*Fake\.vst3: .*Unable to scan"):
        load_user_plugin(fake)
    # In a preset, the path is relative to the preset file; the chain fails to build.
    preset = tmp_path / "mine.toml"
    preset.write_text('[[effects]]\nplugin = "VST3"\npath = "Missing.vst3"\n'
                      'parameters = { mix = 0.5 }\n')
    missing = re.escape(str(tmp_path / "Missing.vst3"))
    with pytest.raises(PluginLoadError, match=f"plugin not found: {missing}"):
        build_chain(read_preset(preset))
