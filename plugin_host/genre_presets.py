"""Genre presets: a prompt and the settings that suit it (tempo, stems, keys, meter, length,
an effect chain per stem), kept as TOML so producers can read, copy and share them.

A preset file ``presets/genres/lofi-hiphop.toml`` is the preset "lofi-hiphop"::

    description = "Dusty, swung hip hop beats under mellow Rhodes."
    prompt = "lo-fi hip hop beat, dusty swung drums, round bass and mellow rhodes"
    bpm = 84                      # the default tempo, inside bpm_range
    bpm_range = [70, 90]          # the tempi the style lives in
    stems = ["drums", "bass", "keys"]
    keys = ["A minor", "D minor"] # suggestions; the first is the default
    time_signature = "4/4"
    bars = 8

    [effects]                     # stem = an effect preset of presets/effects/
    drums = "lofi tape"

Shipped presets live in the package's ``presets/genres``; the user's own are saved in the
platform's config folder (``~/.config/stemloom/presets`` on Linux). A user preset can never
replace a shipped one: saving under a shipped name is refused, and a user file that has a
shipped name anyway is skipped (and reported by :func:`find_presets`). Nothing here imports
torch, Qt or pedalboard.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from platformdirs import user_config_path

from bridge import limits
from bridge.atomic import atomic_write_bytes
from bridge.errors import ProtocolError
from bridge.messages import Generate
from plugin_host import effect_presets
from plugin_host.effect_presets import PRESETS_ROOT, PresetError

SHIPPED_DIR = PRESETS_ROOT / "genres"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_REQUIRED = ("prompt", "bpm", "bpm_range", "stems", "keys", "time_signature", "bars")
_KEYS = {"description", "effects", *_REQUIRED}

class PresetExists(PresetError):
    """Saving would replace a user preset, and replacing was not asked for."""


@dataclass(frozen=True)
class GenrePreset:
    """A checked genre preset; ``source`` is its file (None before it is saved)."""

    name: str
    prompt: str
    bpm: float
    bpm_range: tuple[float, float]
    stems: tuple[str, ...]
    keys: tuple[str, ...]
    time_signature: str
    bars: int
    effects: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    source: Path | None = None
    shipped: bool = False

    @property
    def key(self) -> str:
        """The default key: the first suggestion, or "" (the model chooses) if there is none."""
        return self.keys[0] if self.keys else ""

    def full_prompt(self, extra: str = "") -> str:
        """The preset's prompt with the user's ``extra`` words added after it."""
        extra = extra.strip()
        return f"{self.prompt}, {extra}" if extra else self.prompt


def user_preset_dir() -> Path:
    """Where the user's own presets are saved: the platform's config folder."""
    return user_config_path("stemloom", appauthor=False) / "presets"


def normalize_name(name: str) -> str:
    """A preset name as files spell it: lower case, spaces and underscores as hyphens."""
    return re.sub(r"[\s_-]+", "-", name.strip()).lower()


def find_presets(user_dir: Path | None = None,
                 shipped_dir: Path = SHIPPED_DIR) -> tuple[dict[str, Path], list[str]]:
    """Every preset name -> its file, shipped first, then the user's, sorted by name; and a
    line for each user file skipped because a shipped preset has its name."""
    found = {path.stem: path for path in sorted(shipped_dir.glob("*.toml"))}
    skipped = []
    for path in sorted((user_dir or user_preset_dir()).glob("*.toml")):
        if path.stem in found:
            skipped.append(f"{path} is ignored: a shipped preset is called {path.stem!r} "
                           "(rename the file to keep it)")
        else:
            found[path.stem] = path
    return dict(sorted(found.items())), skipped


def load_preset(name: str, user_dir: Path | None = None,
                shipped_dir: Path = SHIPPED_DIR) -> GenrePreset:
    """The preset called ``name`` (shipped, else the user's), or the file ``name`` if it ends
    in ``.toml``; PresetError lists the known names when there is no such preset."""
    if name.endswith(".toml"):
        return read_preset(Path(name).expanduser())
    presets, _ = find_presets(user_dir, shipped_dir)
    path = presets.get(normalize_name(name))
    if path is None:
        raise PresetError(f"no preset {name!r} (there are: {', '.join(presets) or 'none'}); "
                          "'stemloom presets list' shows them")
    return read_preset(path, shipped=path.parent == shipped_dir)


def read_preset(path: Path, shipped: bool = False) -> GenrePreset:
    """Parse and check one preset file; PresetError names the file and the key at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PresetError(f"{path}: cannot read the preset: {error}") from error
    try:
        preset = from_data(path.stem, data)
    except PresetError as error:
        raise PresetError(f"{path}: {error}") from None
    return replace(preset, source=path, shipped=shipped)


def from_data(name: str, data: Mapping[str, Any]) -> GenrePreset:
    """A checked preset called ``name`` from parsed TOML; PresetError names the bad key."""
    if not NAME_PATTERN.match(name):
        raise PresetError(f"bad preset name {name!r}: use lower-case letters, digits and "
                          "hyphens, e.g. 'my-lofi'")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise PresetError(f"unknown key {unknown[0]!r} (a preset has {', '.join(sorted(_KEYS))})")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise PresetError(f"missing key {missing[0]!r}")
    _expect(data, "prompt", str)
    _expect(data, "description", str)
    _expect(data, "time_signature", str)
    bpm = _number(data["bpm"], "bpm")
    bpm_range = data["bpm_range"]
    if not isinstance(bpm_range, list) or len(bpm_range) != 2:
        raise PresetError("'bpm_range' must be two numbers, [slowest, fastest]")
    low, high = (_number(value, "bpm_range") for value in bpm_range)
    if not limits.MIN_BPM <= low <= high <= limits.MAX_BPM:
        raise PresetError(f"'bpm_range' must run from low to high within "
                          f"{limits.MIN_BPM:g}-{limits.MAX_BPM:g}, not {bpm_range}")
    if not low <= bpm <= high:
        raise PresetError(f"'bpm' {bpm:g} is outside 'bpm_range' {low:g}-{high:g}")
    bars = data["bars"]
    if isinstance(bars, bool) or not isinstance(bars, int):
        raise PresetError(f"'bars' must be a whole number, not {bars!r}")
    stems, keys = _strings(data, "stems"), _strings(data, "keys")
    effects = _effects(data.get("effects", {}))
    # The protocol's own checks, so a preset always makes a request the engine accepts.
    for key in keys or ("",):
        _check_request(prompt=data["prompt"], bpm=bpm, bars=bars, stems=stems, key=key,
                       time_signature=data["time_signature"])
    return GenrePreset(name=name, prompt=data["prompt"], bpm=bpm, bpm_range=(low, high),
                       stems=stems, keys=keys, time_signature=data["time_signature"],
                       bars=bars, effects=effects, description=data.get("description", ""))


def _expect(data: Mapping[str, Any], key: str, kind: type) -> None:
    if key in data and not isinstance(data[key], kind):
        raise PresetError(f"'{key}' must be a {kind.__name__}, not {data[key]!r}")


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PresetError(f"'{key}' must be a number, not {value!r}")
    return float(value)


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PresetError(f"'{key}' must be a list of strings, not {value!r}")
    return tuple(value)


def _effects(effects: object) -> dict[str, str]:
    """Stem -> effect preset name, each checked against the shipped effect presets."""
    if not isinstance(effects, dict):
        raise PresetError("'effects' must be a table of stem = \"effect preset\"")
    known = effect_presets.list_presets()
    chains = {}
    for stem, chain in effects.items():
        if stem not in limits.STEM_NAMES:
            raise PresetError(f"effects.{stem}: unknown stem (known: "
                              f"{', '.join(limits.STEM_NAMES)})")
        name = chain.replace("_", " ").strip().lower() if isinstance(chain, str) else chain
        if name not in known:
            raise PresetError(f"effects.{stem}: no effect preset {chain!r} "
                              f"(there are: {', '.join(known)})")
        chains[stem] = name
    return chains


def _check_request(**fields: Any) -> None:
    try:
        Generate(request_id="preset", **fields).validate()
    except ProtocolError as error:  # its message names the field: "key: must be ..."
        raise PresetError(error.message) from None


def to_toml(preset: GenrePreset) -> str:
    """The preset as a TOML file that :func:`read_preset` reads back to the same preset."""

    def text(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string

    def number(value: float) -> str:
        return str(int(value)) if value == int(value) else repr(value)

    lines = [f"description = {text(preset.description)}",
             f"prompt = {text(preset.prompt)}",
             f"bpm = {number(preset.bpm)}",
             f"bpm_range = [{number(preset.bpm_range[0])}, {number(preset.bpm_range[1])}]",
             f"stems = [{', '.join(map(text, preset.stems))}]",
             f"keys = [{', '.join(map(text, preset.keys))}]",
             f"time_signature = {text(preset.time_signature)}",
             f"bars = {preset.bars}"]
    if preset.effects:
        lines += ["", "[effects]", *(f"{stem} = {text(chain)}"
                                     for stem, chain in preset.effects.items())]
    return "\n".join(lines) + "\n"


def save_user_preset(preset: GenrePreset, user_dir: Path | None = None,
                     shipped_dir: Path = SHIPPED_DIR, overwrite: bool = False) -> Path:
    """Write ``preset`` into the user's preset folder and return its file.

    Refused (PresetError) when a shipped preset has its name — shipped presets are never
    replaced or shadowed — and (PresetExists) when a user preset of that name exists, unless
    ``overwrite``.
    """
    name = normalize_name(preset.name)
    checked = from_data(name, tomllib.loads(to_toml(preset)))  # the same checks as loading
    if (shipped_dir / f"{name}.toml").is_file():
        raise PresetError(f"{name!r} is a shipped preset and cannot be replaced; save yours "
                          f"under another name, e.g. 'my-{name}'")
    folder = user_dir or user_preset_dir()
    path = folder / f"{name}.toml"
    if path.exists() and not overwrite:
        raise PresetExists(f"you already have a preset {name!r} ({path})")
    folder.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, to_toml(checked).encode("utf-8"))
