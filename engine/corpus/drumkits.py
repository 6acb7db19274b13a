"""Real drum kits for the v2 recipe: Hydrogen kits (multi-velocity samples) played from the
drum track's GM notes, and SF2 kits (avldrums) played through FluidSynth.

A kit is chosen by the class of the GM kit the composer asked for (standard → acoustic,
jazz/brush → jazz, electronic, 808), so a trap beat gets an 808 and a jazz trio a jazz kit.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from engine.corpus.drums import DRUM_KEYS

HYDROGEN_DIR = "usr/share/hydrogen/data/drumkits"
SF2_DIR = "usr/share/sounds/sf2"
# The kit class each GM kit of instruments.INSTRUMENTS calls for (orchestra: none fits).
KIT_CLASS = {"standard kit": "acoustic", "room kit": "acoustic", "power kit": "rock",
             "jazz kit": "jazz", "brush kit": "jazz", "electronic kit": "electronic",
             "808 kit": "808"}
REQUIRED_ROLES = ("kick", "snare", "hat")
# A role the kit lacks is played by the nearest one it has.
FALLBACK = {"kick2": "kick", "snare2": "snare", "rim": "snare", "clap": "snare",
            "pedal": "hat", "open": "hat", "bell": "ride", "ride": "hat", "crash": "ride",
            "tom_floor": "tom_low", "tom_low": "tom_mid", "tom_mid": "tom_high",
            "tom_high": "tom_mid", "conga_lo": "tom_low", "conga_hi": "tom_high",
            "tamb": "shaker", "shaker": "hat", "cabasa": "shaker", "claves": "rim",
            "cowbell": "rim"}
CHOKERS = ("hat", "pedal")  # a closed hat cuts a ringing open hat
CHOKE_SECONDS = 0.012
ROLE_OF_KEY = {key: role for role, key in DRUM_KEYS.items()}


@dataclass(frozen=True)
class Kit:
    """A real kit: name, Debian package, path inside it, format and the classes it fits."""

    name: str
    package: str
    path: str
    format: str  # 'hydrogen' (a folder with drumkit.xml) or 'sf2' (bank 0, program 0)
    classes: tuple[str, ...]


def _h(name: str, *classes: str, package: str = "hydrogen-drumkits") -> Kit:
    return Kit(name, package, f"{HYDROGEN_DIR}/{name}", "hydrogen", classes)


KITS: tuple[Kit, ...] = (
    _h("The Black Pearl 1.0", "acoustic", "rock", "jazz"),
    _h("ForzeeStereo", "acoustic", "rock"),
    _h("ColomboAcousticDrumkit", "acoustic", "rock"),
    _h("Millo_MultiLayered2", "acoustic", "jazz"),
    _h("Millo_MultiLayered3", "acoustic"),
    _h("Millo-Drums_v.1", "jazz"),
    _h("Audiophob", "jazz", "acoustic"),
    _h("VariBreaks", "acoustic", "electronic"),
    _h("ElectricEmpireKit", "electronic"),
    _h("HardElectro1", "electronic", "808"),
    _h("GMRockKit", "rock", "acoustic", package="hydrogen-data"),
    _h("TR808EmulationKit", "808", "electronic", package="hydrogen-data"),
    Kit("avl black pearl", "avldrums.lv2-soundfont", f"{SF2_DIR}/Black_Pearl_4_LV2.sf2", "sf2",
        ("acoustic", "rock", "jazz")),
    Kit("avl red zeppelin", "avldrums.lv2-soundfont", f"{SF2_DIR}/Red_Zeppelin_4_LV2.sf2",
        "sf2", ("rock", "acoustic")),
)


def locate(root: Path | None) -> tuple[dict[str, str], list[Kit]]:
    """The kits present under `root` ({name: path}) and those missing."""
    found, missing = {}, []
    for kit in KITS:
        path = Path(root) / kit.package / kit.path if root is not None else None
        ok = path is not None and (path.is_file() if kit.format == "sf2"
                                   else (path / "drumkit.xml").is_file())
        if ok:
            found[kit.name] = str(path)
        else:
            missing.append(kit)
    return found, missing


def kits_for(instrument: str, found: dict[str, str]) -> list[str]:
    """The kits found that fit the GM kit `instrument` of the composer (may be empty)."""
    wanted = KIT_CLASS.get(instrument)
    return [k.name for k in KITS if k.name in found and wanted in k.classes]


def kit_format(name: str) -> str:
    """'hydrogen' or 'sf2'."""
    return next(k.format for k in KITS if k.name == name)


def role_of(name: str) -> str | None:
    """The drum role (a key of drums.DRUM_KEYS) a Hydrogen instrument name plays, if any."""
    words = set(re.findall(r"[a-z]+", name.lower()))
    hat = bool(words & {"hat", "hh", "hihat", "hi"}) and "tom" not in words
    rules = (
        ("open", hat and bool(words & {"open", "opened", "op", "semi"})),
        ("pedal", hat and bool(words & {"pedal", "pd"})),
        ("hat", hat and not words & {"swish", "choke", "free", "ring"}),
        ("kick", bool(words & {"kick", "bassdrum"}) or {"bass", "drum"} <= words),
        ("rim", bool(words & {"stick", "rim", "rimshot"}) and "snare" not in words),
        ("clap", "clap" in words),
        ("snare", "snare" in words and "roll" not in words),
        ("tom_floor", "floor" in words),
        ("tom_low", "tom" in words and bool(words & {"low", "lo"})),
        ("tom_mid", "tom" in words and bool(words & {"mid", "middle"})),
        ("tom_high", "tom" in words and bool(words & {"hi", "high"})),
        ("cowbell", "cowbell" in words),
        ("bell", bool(words & {"bell", "cup"}) and "cowbell" not in words),
        ("crash", bool(words & {"crash", "cymbal", "splash"})),
        ("ride", "ride" in words),
        ("shaker", bool(words & {"shaker", "maraca"})),
        ("tamb", "tambourine" in words),
        ("claves", bool(words & {"clave", "claves"})),
        ("conga_hi", "conga" in words),
    )
    return next((role for role, hit in rules if hit), None)


@dataclass(frozen=True)
class Layer:
    """One sample of an instrument, played for velocities in [low, high] (0..1)."""

    low: float
    high: float
    gain: float
    audio: np.ndarray  # float32 (2, frames) at the render rate


@dataclass(frozen=True)
class SampleKit:
    """A loaded Hydrogen kit: the layers of each role it plays."""

    name: str
    roles: dict[str, tuple[Layer, ...]]

    def resolve(self, role: str) -> str | None:
        """The role that plays `role`: itself, or the nearest fallback the kit has."""
        seen = set()
        while role not in self.roles:
            if role in seen or role not in FALLBACK:
                return None
            seen.add(role)
            role = FALLBACK[role]
        return role


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str, default: str = "") -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or default).strip()
    return default


def _load_sample(path: Path, sample_rate: int) -> np.ndarray:
    import soundfile as sf
    import soxr

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate)
    audio = audio[:, :2] if audio.shape[1] >= 2 else np.repeat(audio, 2, axis=1)
    return np.ascontiguousarray(audio.T, dtype=np.float32)


@functools.cache
def load_hydrogen(folder: str, sample_rate: int) -> SampleKit:
    """Parse DIR/drumkit.xml and load the first instrument of each role (once per process).

    Raises ValueError when the kit cannot play a kick, a snare and a hi-hat.
    """
    root = ET.parse(Path(folder) / "drumkit.xml").getroot()
    roles: dict[str, tuple[Layer, ...]] = {}
    for inst in root.iter():
        if _local(inst.tag) != "instrument":
            continue
        role = role_of(_child(inst, "name"))
        if role is None or role in roles:
            continue
        level = float(_child(inst, "volume", "1")) * float(_child(inst, "gain", "1"))
        # Newer kits list <layer>s; the oldest name one <filename> in the instrument itself.
        sources = [x for x in inst.iter() if _local(x.tag) == "layer"] or [inst]
        layers = []
        for layer in sources:
            sample = Path(folder) / _child(layer, "filename")
            if _child(layer, "filename") and sample.is_file():
                layers.append(Layer(float(_child(layer, "min", "0")),
                                    float(_child(layer, "max", "1")),
                                    level * float(_child(layer, "gain", "1")),
                                    _load_sample(sample, sample_rate)))
        if layers:
            roles[role] = tuple(sorted(layers, key=lambda x: x.low))
    kit = SampleKit(Path(folder).name, roles)
    lacking = [r for r in REQUIRED_ROLES if kit.resolve(r) is None]
    if lacking:
        raise ValueError(f"drum kit {folder} has no {', '.join(lacking)}")
    return kit


def _layer(layers: tuple[Layer, ...], velocity: float) -> Layer:
    for layer in layers:
        if layer.low <= velocity <= layer.high:
            return layer
    return min(layers, key=lambda x: min(abs(x.low - velocity), abs(x.high - velocity)))


def track_hits(track: mido.MidiTrack, ticks_per_beat: int, bpm: float,
               sample_rate: int) -> list[tuple[int, int, int]]:
    """The (frame, GM key, velocity) of every note-on in a drum track."""
    samples_per_tick = 60.0 / bpm / ticks_per_beat * sample_rate
    hits, tick = [], 0
    for message in track:
        tick += message.time
        if message.type == "note_on" and message.velocity > 0:
            hits.append((round(tick * samples_per_tick), message.note, message.velocity))
    return hits


def render_hits(kit: SampleKit, hits: list[tuple[int, int, int]], frames: int,
                sample_rate: int) -> np.ndarray:
    """Play (frame, GM key, velocity) hits on a sample kit: float32 (2, frames)."""
    out = np.zeros((2, frames), dtype=np.float32)
    played = [(at, kit.resolve(ROLE_OF_KEY.get(key, "snare")), velocity)
              for at, key, velocity in sorted(hits) if at < frames]
    choke_at = [at for at, role, _ in played if role in CHOKERS]
    fade = max(1, round(CHOKE_SECONDS * sample_rate))
    for at, role, velocity in played:
        if role is None:
            continue
        layer = _layer(kit.roles[role], velocity / 127.0)
        sound = layer.audio * np.float32(layer.gain * velocity / 127.0)
        end = min(frames, at + sound.shape[1])
        if role == "open":  # the next closed hat chokes it
            later = [c for c in choke_at if c > at]
            if later and later[0] < end:
                end = min(end, later[0] + fade)
                sound = sound[:, :end - at].copy()
                ramp = min(fade, end - at)
                sound[:, -ramp:] *= np.linspace(1.0, 0.0, ramp, dtype=np.float32)
        out[:, at:end] += sound[:, :end - at]
    return out
