"""A minimal in-process binding to libfluidsynth (ctypes): one fresh synth per render.

In-process float rendering is about twice as fast as the fluidsynth command line, and a
synth that is created, used once and deleted carries no state from an earlier stem. The
soundfont is parsed once per process and lent to each fresh synth (loading it anew costs
~35 ms a stem; a lent one renders bit-identical audio). Bound here rather than through
pyFluidSynth, which renders interleaved 16-bit samples and gives each synth its own soundfont
load: the float output and the one shared soundfont are the reasons this module exists.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

import numpy as np

from engine.codec.config import SAMPLE_RATE

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
_P = ctypes.c_void_p
_SIGNATURES = {
    "new_fluid_settings": ([], _P),
    "delete_fluid_settings": ([_P], None),
    "fluid_settings_setnum": ([_P, ctypes.c_char_p, ctypes.c_double], ctypes.c_int),
    "fluid_settings_setint": ([_P, ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
    "new_fluid_synth": ([_P], _P),
    "delete_fluid_synth": ([_P], None),
    "fluid_synth_sfload": ([_P, ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
    "fluid_synth_get_sfont_by_id": ([_P, ctypes.c_int], _P),
    "fluid_synth_add_sfont": ([_P, _P], ctypes.c_int),
    "fluid_synth_remove_sfont": ([_P, _P], ctypes.c_int),
    "fluid_synth_program_select": ([_P, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int],
                                   ctypes.c_int),
    "fluid_synth_noteon": ([_P, ctypes.c_int, ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "fluid_synth_noteoff": ([_P, ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "fluid_synth_cc": ([_P, ctypes.c_int, ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "fluid_synth_write_float": ([_P, ctypes.c_int, _P, ctypes.c_int, ctypes.c_int, _P,
                                 ctypes.c_int, ctypes.c_int], ctypes.c_int),
    "fluid_set_log_function": ([ctypes.c_int, _P, _P], _P),
    "fluid_sfont_iteration_start": ([_P], None),
    "fluid_sfont_iteration_next": ([_P], _P),
    "fluid_preset_get_banknum": ([_P], ctypes.c_int),
    "fluid_preset_get_num": ([_P], ctypes.c_int),
}


class FluidSynthMissing(RuntimeError):
    """libfluidsynth is not installed (Debian: apt-get install libfluidsynth3)."""


@functools.cache
def library() -> ctypes.CDLL:
    """Load libfluidsynth once, declare the functions used and silence its log."""
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    try:
        lib = ctypes.CDLL(name)
    except OSError as err:
        raise FluidSynthMissing(f"cannot load {name}: {err}") from err
    for func, (args, result) in _SIGNATURES.items():
        getattr(lib, func).argtypes = args
        getattr(lib, func).restype = result
    for level in range(5):  # a missing preset is handled here, not printed to stderr
        lib.fluid_set_log_function(level, None, None)
    return lib


def _new_synth(lib: ctypes.CDLL, sample_rate: int, reverb: bool) -> tuple[int, int]:
    settings = lib.new_fluid_settings()
    lib.fluid_settings_setnum(settings, b"synth.sample-rate", float(sample_rate))
    lib.fluid_settings_setint(settings, b"synth.reverb.active", int(reverb))
    lib.fluid_settings_setint(settings, b"synth.polyphony", 256)
    return settings, lib.new_fluid_synth(settings)


@functools.cache
def soundfont(path: str) -> int:
    """The loaded soundfont at `path` (a fluid_sfont_t pointer), parsed once per process and
    owned by a synth that lives as long as the process."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"soundfont not found: {path}")
    lib = library()
    _, owner = _new_synth(lib, SAMPLE_RATE, False)
    font_id = lib.fluid_synth_sfload(owner, path.encode(), 1)
    if font_id < 0:
        raise RuntimeError(f"FluidSynth could not load the soundfont {path}")
    return lib.fluid_synth_get_sfont_by_id(owner, font_id)


@functools.cache
def presets(path: str) -> frozenset[tuple[int, int]]:
    """Every (bank, program) the soundfont at `path` defines (bank 128 holds drum kits)."""
    lib = library()
    sfont = soundfont(path)
    lib.fluid_sfont_iteration_start(sfont)
    found = set()
    while preset := lib.fluid_sfont_iteration_next(sfont):
        found.add((lib.fluid_preset_get_banknum(preset), lib.fluid_preset_get_num(preset)))
    return frozenset(found)


class Synth:
    """A fresh FluidSynth instance playing a shared soundfont, rendering float stereo."""

    def __init__(self, soundfont_path: str, sample_rate: int, reverb: bool = True) -> None:
        """Create the synth and lend it the soundfont at `soundfont_path`."""
        self._lib = library()
        self._sfont = soundfont(soundfont_path)
        self._settings, self._synth = _new_synth(self._lib, sample_rate, reverb)
        self._font = self._lib.fluid_synth_add_sfont(self._synth, self._sfont)

    def select(self, channel: int, program: int, drums: bool, bank: int | None = None) -> None:
        """Select a GM program (a kit in bank 128 for drums, unless `bank` names another),
        falling back to the first preset of the bank when the soundfont lacks it."""
        if bank is None:
            bank = 128 if drums else 0
        if self._lib.fluid_synth_program_select(self._synth, channel, self._font, bank,
                                                program) != 0:
            self._lib.fluid_synth_program_select(self._synth, channel, self._font, bank, 0)

    def note_on(self, channel: int, key: int, velocity: int) -> None:
        """Start a note."""
        self._lib.fluid_synth_noteon(self._synth, channel, key, velocity)

    def note_off(self, channel: int, key: int) -> None:
        """Release a note."""
        self._lib.fluid_synth_noteoff(self._synth, channel, key)

    def control(self, channel: int, number: int, value: int) -> None:
        """Send a MIDI control change."""
        self._lib.fluid_synth_cc(self._synth, channel, number, value)

    def write(self, out: np.ndarray) -> None:
        """Render into `out`, a C-contiguous float32 array of shape (2, frames)."""
        frames = out.shape[1]
        if frames:
            self._lib.fluid_synth_write_float(self._synth, frames, out[0].ctypes.data, 0, 1,
                                              out[1].ctypes.data, 0, 1)

    def close(self) -> None:
        """Hand the soundfont back (its owner frees it) and free the synth."""
        if self._synth:
            self._lib.fluid_synth_remove_sfont(self._synth, self._sfont)
            self._lib.delete_fluid_synth(self._synth)
            self._lib.delete_fluid_settings(self._settings)
            self._synth = None

    def __enter__(self) -> Synth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
