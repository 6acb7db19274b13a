"""Genre presets: every shipped one loads and makes a valid request; user presets are saved
beside them without ever replacing one; bad files are refused with the file and key named."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from bridge import limits
from bridge.messages import Generate
from plugin_host import effect_presets
from plugin_host.genre_presets import (
    SHIPPED_DIR,
    PresetError,
    PresetExists,
    find_presets,
    load_preset,
    read_preset,
    save_user_preset,
    to_toml,
)

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
prompt = "dusty drums"
bpm = 84
bpm_range = [70, 90]
stems = ["drums", "bass"]
keys = ["A minor"]
time_signature = "4/4"
bars = 8
"""


def test_at_least_24_shipped_presets_load_and_make_valid_requests(tmp_path) -> None:
    names, skipped = find_presets(tmp_path)
    assert len(names) >= 24 and not skipped
    effect_names = set(effect_presets.list_presets())
    for name in names:
        preset = load_preset(name, tmp_path)
        assert preset.shipped and preset.source == SHIPPED_DIR / f"{name}.toml"
        assert set(preset.stems) <= set(limits.STEM_NAMES)
        assert set(preset.effects.values()) <= effect_names
        assert preset.bpm_range[0] <= preset.bpm <= preset.bpm_range[1]
        Generate(request_id="t", prompt=preset.full_prompt("extra words"), bpm=preset.bpm,
                 bars=preset.bars, time_signature=preset.time_signature, key=preset.key,
                 stems=preset.stems).validate()
    # More than one meter, so 3/4 and 6/8 producers have a starting point too.
    assert {load_preset(n, tmp_path).time_signature for n in names} >= {"4/4", "3/4", "6/8"}


def test_names_are_forgiving_and_unknown_ones_list_the_known(tmp_path) -> None:
    assert load_preset("Lofi HipHop", tmp_path).name == "lofi-hiphop"
    assert load_preset("lofi_hiphop", tmp_path).name == "lofi-hiphop"
    with pytest.raises(PresetError, match=r"no preset 'nope' \(there are: .*lofi-hiphop"):
        load_preset("nope", tmp_path)


def test_a_saved_preset_reads_back_the_same_and_appears_in_the_list(tmp_path) -> None:
    base = load_preset("lofi-hiphop", tmp_path)
    mine = replace(base, name="my-lofi", bpm=95.0, bpm_range=(70.0, 95.0),
                   description='with "quotes" — é')
    path = save_user_preset(mine, tmp_path)
    assert path == tmp_path / "my-lofi.toml"
    again = load_preset("my-lofi", tmp_path)
    assert not again.shipped and again.source == path
    assert to_toml(again) == to_toml(mine)
    assert "my-lofi" in find_presets(tmp_path)[0]
    with pytest.raises(PresetExists):
        save_user_preset(mine, tmp_path)
    changed = replace(mine, bars=4)
    save_user_preset(changed, tmp_path, overwrite=True)
    assert load_preset("my-lofi", tmp_path).bars == 4


def test_a_shipped_preset_is_never_replaced_or_shadowed(tmp_path) -> None:
    shipped = (SHIPPED_DIR / "trap.toml").read_bytes()
    trap = load_preset("trap", tmp_path)
    with pytest.raises(PresetError, match=r"shipped preset .*'my-trap'"):
        save_user_preset(replace(trap, bars=2), tmp_path)
    assert not (tmp_path / "trap.toml").exists()
    assert (SHIPPED_DIR / "trap.toml").read_bytes() == shipped
    # A user file with a shipped name, put there by hand, is skipped and said to be.
    (tmp_path / "trap.toml").write_text(GOOD)
    names, skipped = find_presets(tmp_path)
    assert names["trap"] == SHIPPED_DIR / "trap.toml"
    assert len(skipped) == 1 and "trap.toml is ignored" in skipped[0]
    assert load_preset("trap", tmp_path).bars == trap.bars


@pytest.mark.parametrize(("text", "message"), [
    ("prompt = ", "cannot read the preset"),
    (GOOD + "tempo = 3\n", "unknown key 'tempo'"),
    (GOOD.replace('prompt = "dusty drums"\n', ""), "missing key 'prompt'"),
    (GOOD.replace("bpm = 84", "bpm = 95"), "'bpm' 95 is outside 'bpm_range' 70-90"),
    (GOOD.replace("bpm = 84", 'bpm = "fast"'), "'bpm' must be a number"),
    (GOOD.replace("[70, 90]", "[90, 70]"), "'bpm_range' must run from low to high"),
    (GOOD.replace('"bass"', '"kazoo"'), "stems: unknown stem 'kazoo'"),
    (GOOD.replace("A minor", "H major"), "key: must be empty or like"),
    (GOOD.replace("4/4", "4/5"), "time_signature: must look like 4/4"),
    (GOOD.replace("bars = 8", "bars = 100"), "bars: must be between 1 and 64"),
    (GOOD.replace("bars = 8", "bars = 8.5"), "'bars' must be a whole number"),
    (GOOD + '[effects]\ndrums = "tape hiss"\n', "effects.drums: no effect preset 'tape hiss'"),
    (GOOD + '[effects]\ncowbell = "clean"\n', "effects.cowbell: unknown stem"),
])
def test_bad_files_name_the_file_and_the_key(tmp_path, text, message) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(PresetError) as caught:
        read_preset(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_effect_names_are_normalized_to_the_effect_presets_names(tmp_path) -> None:
    path = tmp_path / "fx.toml"
    path.write_text(GOOD + '[effects]\ndrums = "Lofi_Tape"\n')
    assert read_preset(path).effects == {"drums": "lofi tape"}
    assert tomllib.loads(to_toml(read_preset(path)))["effects"] == {"drums": "lofi tape"}


def test_loading_imports_neither_torch_nor_qt_nor_pedalboard() -> None:
    code = ("import sys; from plugin_host.genre_presets import find_presets, load_preset;"
            "[load_preset(n) for n in find_presets()[0]];"
            "print(sorted(m for m in ('torch', 'PySide6', 'pedalboard', 'engine')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPO)
    assert result.stdout.strip() == "[]"


def test_the_wheel_ships_the_presets_where_the_loaders_find_them(tmp_path) -> None:
    """Build the real wheel, unpack it as site-packages would, and load from there."""
    config = tmp_path / "build.cfg"  # setuptools' scratch folders outside the work tree
    config.write_text(f"[build]\nbuild_base = {tmp_path / 'build'}\n"
                      f"[bdist_wheel]\nbdist_dir = {tmp_path / 'bdist'}\n")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(REPO)],
                   check=True, capture_output=True, env={"DIST_EXTRA_CONFIG": str(config),
                                                         "PATH": "/usr/bin:/bin"})
    (wheel,) = (tmp_path / "dist").glob("stemloom-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "zipfile", "-e", str(wheel), str(site)], check=True)
    code = ("import plugin_host.genre_presets as g, plugin_host.effect_presets as e;"
            "print(g.__file__); print(len(g.find_presets()[0]));"
            "print(g.load_preset('lofi-hiphop').source); print(len(e.list_presets()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=tmp_path, env={"PYTHONPATH": str(site),
                                                           "HOME": str(tmp_path)})
    module, count, source, effects = result.stdout.split("\n")[:4]
    assert Path(module).is_relative_to(site)
    assert int(count) == len(find_presets(tmp_path)[0]) >= 24
    assert Path(source) == site / "presets" / "genres" / "lofi-hiphop.toml"
    assert int(effects) == len(effect_presets.list_presets())
