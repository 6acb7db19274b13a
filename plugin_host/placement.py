"""Put a finished job's stems on tracks: named, tempo-tagged clips placed through an adapter."""

from __future__ import annotations

import tempfile
from pathlib import Path

import soundfile as sf

from bridge.messages import Done
from plugin_host.clip_names import clip_name
from plugin_host.clips import AcidInfo, root_note_from_key, write_clip
from plugin_host.daw import ClipRef, get_adapter

# Unpitched stems carry no root note in their ACID chunk, so a DAW never transposes them.
_UNPITCHED = {"drums"}


def place_job(
    done: Done, prompt: str, daw: str, destination: Path, bar: float | None = None
) -> dict[str, ClipRef]:
    """Write each stem of ``done`` as a clip DAWs tempo-lock (ACID and smpl chunks, a name
    that says prompt, bpm, key, bars and stem) and place them all on new tracks at ``bar``
    (default: the session cursor). All or nothing: on failure no track is left behind."""
    numerator, denominator = (int(part) for part in done.time_signature.split("/"))
    beats = round(done.bars * numerator * 4 / denominator)
    adapter = get_adapter(
        daw,
        path=destination,
        bpm=done.bpm,
        time_signature=(numerator, denominator),
        sample_rate=done.sample_rate,
    )
    with tempfile.TemporaryDirectory(prefix="stemloom-clips-") as staging:
        clips = {}
        for stem, path in done.stems.items():
            audio, rate = sf.read(path, always_2d=True, dtype="float32")
            pitched = stem.split(".")[0] not in _UNPITCHED
            acid = AcidInfo(
                tempo=done.bpm,
                beats=beats,
                meter=(numerator, denominator),
                root_note=root_note_from_key(done.key) if pitched else None,
            )
            name = clip_name(prompt, done.bpm, done.key, done.bars, stem)
            clips[stem] = write_clip(
                Path(staging) / name,
                audio,
                rate,
                acid,
                subtype="FLOAT" if done.format == "float32" else "PCM_24",
            )
        return adapter.place_stems(clips, bar)
