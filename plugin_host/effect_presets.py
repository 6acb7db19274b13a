"""Effect-chain presets: TOML files that list pedalboard effects and their settings, checked
on load so a typo names the file and the key instead of failing half way through a render.

A preset file ``presets/effects/lofi_tape.toml`` is the preset "lofi tape"::

    description = "Dull, wobbly and a little crushed, like a cassette dubbed twice."

    [[effects]]
    plugin = "HighpassFilter"
    cutoff_frequency_hz = 60.0

    [[effects]]
    plugin = "VST3"                      # a plugin of the user's, by path
    path = "~/.vst3/Tape.vst3"
    parameters = { saturation = 0.4 }    # its own parameter names, as pedalboard lists them

Parameters left out keep pedalboard's defaults. pedalboard is imported only to check and build
a chain, never when this module is imported.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The shipped presets: the repository's presets/ folder, which the wheel and the frozen bundles
# install beside the packages.
PRESETS_ROOT = Path(__file__).resolve().parents[1] / "presets"
PRESET_DIR = PRESETS_ROOT / "effects"
VST3 = "VST3"
# The built-in effects a preset may use: all of pedalboard's audio effects, not its containers
# (Pedalboard, Chain, Mix), its instrument hosts or its lossy codecs.
BUILT_INS = ("Bitcrush", "Chorus", "Clipping", "Compressor", "Delay", "Distortion", "Gain",
             "HighShelfFilter", "HighpassFilter", "Invert", "LadderFilter", "Limiter",
             "LowShelfFilter", "LowpassFilter", "NoiseGate", "PeakFilter", "Phaser",
             "PitchShift", "Reverb")
_VST3_KEYS = {"plugin", "path", "plugin_name", "parameters"}
_TOP_KEYS = {"description", "effects"}


class PresetError(ValueError):
    """A preset that is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class EffectStep:
    """One effect of a chain: a built-in by class name with its settings, or a VST3 by path."""

    plugin: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    plugin_name: str | None = None


@dataclass(frozen=True)
class EffectPreset:
    """A named chain of effects, read from ``source``."""

    name: str
    description: str
    steps: tuple[EffectStep, ...]
    source: Path


def preset_name(path: Path) -> str:
    """The name of the preset in ``path``: its file name, underscores as spaces."""
    return path.stem.replace("_", " ")


def list_presets(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the presets in ``folder`` (default: the shipped ones), sorted."""
    return sorted(preset_name(path) for path in Path(folder or PRESET_DIR).glob("*.toml"))


def load_preset(name: str, folder: str | os.PathLike[str] | None = None) -> EffectPreset:
    """Load and check the preset called ``name`` (``"lofi tape"``, ``"lofi_tape"`` or
    ``"Lofi-Tape"`` alike), or the preset file at ``name`` if it ends in ``.toml``."""
    if name.endswith(".toml"):
        return read_preset(Path(name).expanduser())
    directory = Path(folder or PRESET_DIR)
    stem = re.sub(r"[\s-]+", "_", name.strip()).lower()
    path = directory / f"{stem}.toml"
    if not path.is_file():
        known = ", ".join(list_presets(directory)) or "none"
        raise PresetError(f"no effect preset {name!r} in {directory} (there are: {known})")
    return read_preset(path)


def read_preset(path: Path) -> EffectPreset:
    """Parse and check one preset file; raise PresetError naming the file and key at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PresetError(f"{path}: cannot read the preset: {error}") from error
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise PresetError(f"{path}: unknown key {sorted(unknown)[0]!r} "
                          f"(a preset has {', '.join(sorted(_TOP_KEYS))})")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PresetError(f"{path}: 'description' must be a string")
    effects = data.get("effects", [])
    if not isinstance(effects, list) or not all(isinstance(item, dict) for item in effects):
        raise PresetError(f"{path}: 'effects' must be a list of [[effects]] tables")
    steps = tuple(_step(path, f"effects[{i}]", item) for i, item in enumerate(effects))
    return EffectPreset(preset_name(path), description, steps, path)


def _step(path: Path, where: str, item: dict[str, Any]) -> EffectStep:
    plugin = item.get("plugin")
    if plugin == VST3:
        return _vst3_step(path, where, item)
    if plugin not in BUILT_INS:
        raise PresetError(f"{path}: {where}.plugin: unknown plugin {plugin!r} "
                          f"(known: {', '.join(BUILT_INS)} and {VST3})")
    settings = {key: value for key, value in item.items() if key != "plugin"}
    allowed = _parameters(plugin)
    for key, value in settings.items():
        if key not in allowed:
            raise PresetError(f"{path}: {where}.{key}: {plugin} has no parameter {key!r} "
                              f"(it has: {', '.join(sorted(allowed)) or 'none'})")
        default = allowed[key]
        choices = getattr(type(default), "__members__", None)
        if choices is not None:
            if value not in choices:
                raise PresetError(f"{path}: {where}.{key}: must be one of "
                                  f"{', '.join(choices)}, not {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise PresetError(f"{path}: {where}.{key}: must be a number, not {value!r}")
    step = EffectStep(plugin, settings)
    try:
        build_builtin(step)  # pedalboard checks ranges (a room size over 1, ...) on creation
    except (ValueError, TypeError) as error:
        raise PresetError(f"{path}: {where} ({plugin}): {error}") from error
    return step


def _vst3_step(path: Path, where: str, item: dict[str, Any]) -> EffectStep:
    unknown = set(item) - _VST3_KEYS
    if unknown:
        raise PresetError(f"{path}: {where}.{sorted(unknown)[0]}: a VST3 entry has only "
                          f"{', '.join(sorted(_VST3_KEYS))}")
    plugin_path, name = item.get("path"), item.get("plugin_name")
    parameters = item.get("parameters", {})
    if not isinstance(plugin_path, str) or not plugin_path:
        raise PresetError(f"{path}: {where}.path: a VST3 entry needs the plugin's path")
    if name is not None and not isinstance(name, str):
        raise PresetError(f"{path}: {where}.plugin_name: must be a string")
    if not isinstance(parameters, dict) or not all(
            isinstance(value, str | int | float) for value in parameters.values()):
        raise PresetError(f"{path}: {where}.parameters: must be a table of names to "
                          "numbers, booleans or strings")
    # A relative path is relative to the preset file, so a preset and its plugin travel together.
    return EffectStep(VST3, parameters, path.parent / Path(plugin_path).expanduser(), name)


def build_builtin(step: EffectStep) -> Any:
    """The pedalboard effect of a built-in ``step``, with its settings."""
    import pedalboard

    plugin_class = getattr(pedalboard, step.plugin)
    defaults = _parameters(step.plugin)
    settings = {key: (getattr(type(defaults[key]), value)
                      if hasattr(type(defaults[key]), "__members__") else value)
                for key, value in step.settings.items()}
    return plugin_class(**settings)


def _parameters(plugin: str) -> dict[str, Any]:
    """The settable parameters of a built-in effect and their default values."""
    import pedalboard

    plugin_class = getattr(pedalboard, plugin)
    instance = plugin_class()
    return {name: getattr(instance, name) for name, member in inspect.getmembers(plugin_class)
            if isinstance(member, property) and member.fset is not None
            and not name.startswith("_")}
