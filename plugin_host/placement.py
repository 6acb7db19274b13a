"""Put a finished job's stems on tracks: named, tempo-tagged clips placed through an adapter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import soundfile as sf
from platformdirs import user_data_path

from bridge.atomic import atomic_write_bytes
from bridge.limits import FORMAT_SUBTYPES
from bridge.messages import Done
from bridge.takes import by_take, take_of
from plugin_host.clip_names import clip_name
from plugin_host.clips import AcidInfo, Subtype, root_note_from_key, write_clip
from plugin_host.daw import LIVE_DAWS, ClipRef, DawAdapter, get_adapter
from plugin_host.loudness import TakeLevel, take_level

# Unpitched stems carry no root note in their ACID chunk, so a DAW never transposes them.
_UNPITCHED = {"drums"}
MELODY_TRACK = "melody"  # the track the transcribed melody's MIDI clip goes on


@dataclass(frozen=True)
class Placement:
    """What ``place_job`` put where."""

    clips: dict[str, ClipRef]  # track name -> clip, the stems and (if placed) the melody
    melody_file: Path | None  # the melody's MIDI clip file, placed or not; None without one
    # Per take, the one gain its stems got, when placed at a loudness (else empty).
    levels: dict[int, TakeLevel] = field(default_factory=dict)


def default_clips_root() -> Path:
    """Where the host keeps the clips it hands to DAWs (DAWs that reference files need them
    to stay put)."""
    return user_data_path("stemloom", appauthor=False) / "clips"


def write_clips(done: Done, prompt: str, folder: Path,
                gains_db: Mapping[str, float] | None = None) -> dict[str, Path]:
    """Write each stem of ``done`` into ``folder`` as a clip DAWs tempo-lock: ACID and smpl
    chunks, and a name that says prompt, bpm, key, bars and stem; a stem named in
    ``gains_db`` raised or lowered by its gain. Returns stem -> file."""
    numerator, denominator = (int(part) for part in done.time_signature.split("/"))
    beats = done.bars * numerator  # ACID counts the meter's note values: 4 bars of 6/8 = 24
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}
    for stem, path in done.stems.items():
        audio, rate = sf.read(path, always_2d=True, dtype="float32")
        if gain := (gains_db or {}).get(stem, 0.0):
            audio *= np.float32(10 ** (gain / 20))
        pitched = stem.split(".")[0] not in _UNPITCHED
        acid = AcidInfo(
            tempo=done.bpm,
            beats=beats,
            meter=(numerator, denominator),
            root_note=root_note_from_key(done.key) if pitched else None,
        )
        clips[stem] = write_clip(
            folder / clip_name(prompt, done.bpm, done.key, done.bars, stem),
            audio,
            rate,
            acid,
            subtype=cast(Subtype, FORMAT_SUBTYPES[done.format]),
        )
    return clips


def levels_for(done: Done, loudness: float) -> dict[int, TakeLevel]:
    """Per take of ``done`` (``bridge.takes``), the one gain for all its stems that places
    the take's mix at ``loudness`` LUFS without any clip peaking over -1 dBTP
    (``plugin_host.loudness.take_level``)."""
    levels = {}
    for take, stems in by_take(list(done.stems)).items():
        audio, rates = {}, set()
        for stem in stems:
            samples, rate = sf.read(done.stems[stem], always_2d=True, dtype="float32")
            audio[stem] = samples.T
            rates.add(rate)
        if len(rates) != 1:
            raise ValueError(f"the stems of job {done.request_id} have different sample rates")
        levels[take] = take_level(audio, rates.pop(), loudness)
    return levels


def stem_gains(done: Done, levels: Mapping[int, TakeLevel]) -> dict[str, float]:
    """Each stem's gain in dB: its take's (none for a take ``levels`` leaves out)."""
    return {stem: levels[take].gain_db for stem in done.stems
            if (take := take_of(stem)) in levels}


def write_melody_clip(done: Done, prompt: str, folder: Path) -> Path | None:
    """Copy the job's melody MIDI clip into ``folder``, named like its stems (``..._melody.mid``);
    None when the request had no melody."""
    if not done.melody_midi:
        return None
    data = Path(done.melody_midi).read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / clip_name(prompt, done.bpm, done.key, done.bars, MELODY_TRACK, ".mid")
    atomic_write_bytes(target, data)
    return target


def melody_track(adapter: DawAdapter, melody: Path | None) -> dict[str, Path]:
    """The MIDI track (name -> clip) to place beside the stems: the melody's clip where there
    is one and the adapter places MIDI, else none."""
    return {MELODY_TRACK: melody} if melody is not None and adapter.places_midi else {}


def open_adapter(
    daw: str,
    destination: Path | None,
    *,
    bpm: float | None = None,
    time_signature: tuple[int, int] | None = None,
    sample_rate: int | None = None,
) -> DawAdapter:
    """The adapter for ``daw``: a running DAW, or a session file/folder at ``destination``.

    Facts left as None keep an existing session's own tempo, meter and rate (a new session
    gets the adapter's defaults); given facts shape a new session and, where the adapter
    allows it, override an existing one's.
    """
    if daw in LIVE_DAWS:
        return get_adapter(daw)
    if destination is None:
        raise ValueError(f"placing into {daw} needs a destination (session file or folder)")
    facts = {"bpm": bpm, "time_signature": time_signature, "sample_rate": sample_rate}
    return get_adapter(daw, path=destination, **{k: v for k, v in facts.items() if v})


def place_job(
    done: Done,
    prompt: str,
    adapter: DawAdapter,
    bar: float | None = None,
    clips_root: Path | None = None,
    effects: Mapping[str, str] | None = None,
    loudness: float | None = None,
) -> Placement:
    """Write the job's clips (kept under ``clips_root``/job id), run the stems named in
    ``effects`` through their effect presets (stem -> preset name), and place them all on new
    tracks at ``bar`` (default: the session cursor), with the melody's MIDI clip on a MIDI
    track of its own where the adapter places MIDI. With ``loudness`` (LUFS) the take is
    placed at that loudness (one gain for every stem, peak-safe). All or nothing: on
    failure no track is left behind."""
    folder = (clips_root or default_clips_root()) / done.request_id
    levels = levels_for(done, loudness) if loudness is not None else {}
    clips = write_clips(done, prompt, folder, stem_gains(done, levels))
    if effects:
        from plugin_host.effects import apply_presets

        clips = apply_presets(clips, effects)
    melody = write_melody_clip(done, prompt, folder)
    return Placement(adapter.place_stems(clips, bar, melody_track(adapter, melody)), melody,
                     levels)
