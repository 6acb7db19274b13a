"""Run effect chains (pedalboard) over the stems of a clip set, writing new clips.

A new clip keeps its source's length, sample rate, format and ACID/``smpl`` chunks, so a DAW
tempo-locks it exactly like the original. A loop is processed as if it had already played once,
so a reverb or delay tail from its end rings on into its start and the loop joins seamlessly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from plugin_host.clip_names import safe_component
from plugin_host.clips import Subtype, read_clip_info, write_clip
from plugin_host.effect_presets import VST3, EffectPreset, build_builtin, load_preset


class PluginLoadError(RuntimeError):
    """A user's plugin that cannot be loaded or cannot process audio."""


def build_chain(preset: EffectPreset) -> Any:
    """A ``pedalboard.Pedalboard`` running the preset's effects in order; user VST3 plugins
    are loaded here (PluginLoadError if one cannot be)."""
    import pedalboard

    return pedalboard.Pedalboard([
        load_user_plugin(step.path, dict(step.settings), step.plugin_name)
        if step.plugin == VST3 and step.path is not None else build_builtin(step)
        for step in preset.steps])


def load_user_plugin(path: str | os.PathLike[str], parameters: Mapping[str, Any] | None = None,
                     plugin_name: str | None = None) -> Any:
    """Load a VST3 effect (or, on macOS, an Audio Unit) from ``path`` with pedalboard.

    ``parameters`` set the plugin's parameters by pedalboard's names for them. Raises
    PluginLoadError with the reason when the file is missing, is not a plugin, fails to load,
    or is an instrument rather than an effect.
    """
    import pedalboard

    plugin_path = Path(path).expanduser()
    if not plugin_path.exists():
        raise PluginLoadError(f"plugin not found: {plugin_path}")
    try:
        plugin = pedalboard.load_plugin(os.fspath(plugin_path),
                                        parameter_values=dict(parameters or {}),
                                        plugin_name=plugin_name)
    except (ImportError, RuntimeError, ValueError, TypeError) as error:
        # load_plugin raises ImportError for a bad bundle, the others for bad parameters.
        raise PluginLoadError(f"cannot load plugin {plugin_path}: {error}") from error
    if getattr(plugin, "is_instrument", False):
        raise PluginLoadError(f"{plugin_path} is an instrument, not an effect")
    return plugin


def process(chain: Any, audio: np.ndarray, sample_rate: int, loop: bool = False) -> np.ndarray:
    """Run ``audio`` (frames, channels) through ``chain``; the result has the same shape.

    A ``loop`` is processed twice over and the second pass kept: the chain is then in the
    state it would be in after the loop had played once, so tails wrap into the start.
    """
    frames = audio.shape[0]
    source = np.concatenate([audio, audio]) if loop else audio
    # pedalboard wants (channels, frames); reset: no state from an earlier clip leaks in.
    output = chain(np.ascontiguousarray(source.T, dtype=np.float32), sample_rate, reset=True)
    return np.asarray(output).T[-frames:]


def apply_to_stems(stems: Mapping[str, str | os.PathLike[str]], chain: Any, tag: str,
                   only: Iterable[str] | None = None,
                   out_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Process the stems named in ``only`` (default: all) through ``chain`` into new clips
    named ``<clip>-<tag>.wav`` in ``out_dir`` (default: beside each source), written atomically.

    Returns the clip set with the processed stems' paths replaced by the new files. Raises
    ValueError for a stem name not in ``stems`` and for a source clip without an ACID chunk
    (its tempo would be lost).
    """
    chosen = list(stems) if only is None else list(only)
    missing = [name for name in chosen if name not in stems]
    if missing:
        raise ValueError(f"no stem {missing[0]!r} in this clip set "
                         f"(it has: {', '.join(stems)})")
    suffix = safe_component(tag, 32, lower=True)
    result = {name: Path(path) for name, path in stems.items()}
    for name in chosen:
        source = result[name]
        target_dir = Path(out_dir) if out_dir is not None else source.parent
        result[name] = apply_to_clip(chain, source, target_dir / f"{source.stem}-{suffix}.wav")
    return result


def apply_presets(clips: Mapping[str, str | os.PathLike[str]],
                  presets: Mapping[str, str]) -> dict[str, Path]:
    """Run each clip through the effect preset its stem has in ``presets`` (stem -> preset
    name; a variation ``drums.2`` takes the preset of ``drums``); the others are unchanged.
    Returns the clip set with the processed clips' paths replaced."""
    result = {name: Path(path) for name, path in clips.items()}
    for name in clips:
        chosen = presets.get(name.split(".")[0])
        if chosen:
            preset = load_preset(chosen)
            result = apply_to_stems(result, build_chain(preset), preset.name, only=[name])
    return result


def apply_to_clip(chain: Any, source: str | os.PathLike[str],
                  target: str | os.PathLike[str]) -> Path:
    """Process one clip file into ``target`` (atomically), keeping its ACID/``smpl`` chunks,
    sample rate and format (24-bit stays 24-bit, float stays float)."""
    import soundfile as sf

    info = read_clip_info(source)
    if info.acid is None:
        raise ValueError(f"{os.fspath(source)!r} has no ACID chunk, so its tempo would be lost")
    audio, sample_rate = sf.read(os.fspath(source), dtype="float32", always_2d=True)
    processed = process(chain, audio, sample_rate, loop=not info.acid.one_shot)
    subtype: Subtype = "FLOAT" if info.subtype in ("FLOAT", "DOUBLE") else "PCM_24"
    return write_clip(target, processed, sample_rate, info.acid, subtype=subtype)
