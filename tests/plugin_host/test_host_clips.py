"""Clip WAVs: audio read back by two other readers, ACID/smpl round trips, atomic writes."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from plugin_host.clips import (
    AcidInfo,
    SampleLoop,
    read_clip_info,
    root_note_from_key,
    write_clip,
)

RATES = [44100, 48000]


def stereo_noise(frames: int, seed: int = 0) -> np.ndarray:
    """Deterministic stereo test audio, different in each channel."""
    return np.random.default_rng(seed).uniform(-0.5, 0.5, size=(frames, 2))


def riff_chunks(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Walk a RIFF WAVE strictly: every chunk in bounds, pad bytes where sizes are odd."""
    chunks, offset = [], 12
    while offset < len(raw):
        ckid, size = raw[offset:offset + 4], struct.unpack("<I", raw[offset + 4:offset + 8])[0]
        assert offset + 8 + size + size % 2 <= len(raw), f"chunk {ckid!r} overruns the file"
        chunks.append((ckid, raw[offset + 8:offset + 8 + size]))
        offset += 8 + size + size % 2
    assert offset == len(raw)
    return chunks


def _wave_int24(path: Path) -> np.ndarray:
    """Samples of a 24-bit PCM WAV as int32, read with the stdlib ``wave`` module."""
    with wave.open(str(path), "rb") as reader:
        assert reader.getsampwidth() == 3
        channels = reader.getnchannels()
        raw = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.uint8)
    triples = raw.reshape(-1, 3).astype(np.int32)
    ints = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
    ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)  # sign-extend 24 bits
    return ints.reshape(-1, channels)


@pytest.mark.parametrize("sample_rate", RATES)
def test_pcm24_samples_match_soundfile_and_wave(tmp_path: Path, sample_rate: int) -> None:
    audio = stereo_noise(sample_rate // 10, seed=sample_rate)
    audio[0] = [1.0, -1.0]  # full scale both ways
    audio[1] = [1.5, -3.0]  # overs clip to full scale
    path = write_clip(tmp_path / "clip.wav", audio, sample_rate, AcidInfo(120.0, 8))

    expected = np.round(np.clip(audio, -1, 1) * (2**23 - 1)).astype(np.int32)
    np.testing.assert_array_equal(_wave_int24(path), expected)
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    assert rate == sample_rate
    assert sf.info(path).subtype == "PCM_24"
    np.testing.assert_allclose(data, np.clip(audio, -1, 1), atol=2.0 / 2**23)


@pytest.mark.parametrize("sample_rate", RATES)
def test_float_samples_match_soundfile(tmp_path: Path, sample_rate: int) -> None:
    audio = stereo_noise(sample_rate // 10, seed=1)
    audio[5] = [1.75, -2.5]  # float clips keep overs
    path = write_clip(tmp_path / "clip.wav", audio, sample_rate, AcidInfo(97.5, 4), "FLOAT")

    data, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == sample_rate
    assert sf.info(path).subtype == "FLOAT"
    np.testing.assert_array_equal(data, audio.astype(np.float32))


@pytest.mark.parametrize("subtype", ["PCM_24", "FLOAT"])
@pytest.mark.parametrize("sample_rate", RATES)
def test_acid_and_smpl_round_trip(tmp_path: Path, sample_rate: int, subtype: str) -> None:
    frames = sample_rate // 4
    acid = AcidInfo(tempo=123.5, beats=24, meter=(6, 8), root_note=root_note_from_key("A minor"))
    path = write_clip(tmp_path / "loop.wav", stereo_noise(frames), sample_rate, acid, subtype)

    info = read_clip_info(path)
    assert (info.sample_rate, info.channels, info.frames, info.subtype) == (
        sample_rate, 2, frames, subtype)
    assert info.acid == acid
    assert info.sampler is not None
    assert info.sampler.root_note == 69
    assert info.sampler.sample_period_ns == round(1e9 / sample_rate)
    assert info.sampler.loops == (SampleLoop(0, frames - 1),)
    assert info.seconds == pytest.approx(frames / sample_rate)


def test_acid_fields_sit_where_acid_readers_expect_them(tmp_path: Path) -> None:
    acid = AcidInfo(tempo=138.0, beats=16, meter=(3, 4), root_note=62)
    path = write_clip(tmp_path / "loop.wav", stereo_noise(100), 44100, acid)
    payload = dict(riff_chunks(path.read_bytes()))[b"acid"]
    flags, root, _, _, beats, denominator, numerator, tempo = struct.unpack("<IHHfIHHf", payload)
    assert flags & 0x01 == 0  # a loop, not a one-shot
    assert flags & 0x02  # root note set
    assert (root, beats, numerator, denominator, tempo) == (62, 16, 3, 4, 138.0)


def _libsndfile_command(path: Path, command: int, layout: str) -> tuple:
    """Ask libsndfile itself (through soundfile's private cffi handle) to parse a chunk."""
    size = struct.calcsize(layout)
    with sf.SoundFile(path) as handle:
        if not hasattr(sf, "_snd") or not hasattr(handle, "_file"):
            pytest.skip("this soundfile version hides its libsndfile handle")
        buffer = sf._ffi.new("char[]", size)
        assert sf._snd.sf_command(handle._file, command, buffer, size) == 1, "chunk not found"
        return struct.unpack(layout, sf._ffi.buffer(buffer)[:])


@pytest.mark.parametrize("one_shot", [False, True])
def test_libsndfile_parses_acid_and_smpl(tmp_path: Path, one_shot: bool) -> None:
    # A second, independent parser of both chunks: the C library most audio tools link.
    acid = AcidInfo(tempo=123.5, beats=16, meter=(6, 8), root_note=69, one_shot=one_shot)
    path = write_clip(tmp_path / "loop.wav", stereo_noise(1001), 48000, acid)
    loop_info = _libsndfile_command(path, 0x10E0, "<hhiifi6i")  # SFC_GET_LOOP_INFO
    sf_loop_none, sf_loop_forward = 800, 801
    numerator, denominator, mode, beats, bpm, root = loop_info[:6]
    assert (numerator, denominator, beats, bpm, root) == (6, 8, 16, 123.5, 69)
    assert mode == (sf_loop_none if one_shot else sf_loop_forward)
    instrument = _libsndfile_command(path, 0x10D0, "<i6b2xi" + "iIII" * 16)  # SFC_GET_INSTRUMENT
    base_note, loop_count, first_loop = instrument[1], instrument[7], instrument[8:12]
    assert base_note == 69
    if one_shot:
        assert loop_count == 0
    else:
        # libsndfile reports the end exclusive: it read our inclusive end, frame 1000.
        assert loop_count == 1
        assert first_loop == (sf_loop_forward, 0, 1001, 0)


def test_one_shot_has_no_loop_and_no_root(tmp_path: Path) -> None:
    acid = AcidInfo(tempo=90.0, beats=2, one_shot=True)
    path = write_clip(tmp_path / "hit.wav", stereo_noise(500), 48000, acid)
    info = read_clip_info(path)
    assert info.acid == acid
    assert info.acid.root_note is None
    assert info.sampler is not None and info.sampler.loops == ()


def test_riff_structure_sizes_and_alignment(tmp_path: Path) -> None:
    # An odd frame count makes no odd data size in stereo 24-bit, so check every chunk anyway.
    path = write_clip(tmp_path / "clip.wav", stereo_noise(1001), 44100, AcidInfo(120.0, 4))
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    assert struct.unpack("<I", raw[4:8])[0] == len(raw) - 8
    chunks = riff_chunks(raw)  # raises if any chunk overruns or misaligns
    assert [ckid for ckid, _ in chunks] == [b"fmt ", b"acid", b"smpl", b"data"]
    fmt = dict(chunks)[b"fmt "]
    tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", fmt)
    assert (tag, channels, rate, byte_rate, align, bits) == (1, 2, 44100, 44100 * 6, 6, 24)


def test_float_has_fact_chunk_and_ieee_format(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.wav", stereo_noise(333), 48000, AcidInfo(120.0, 4),
                      "FLOAT")
    chunks = dict(riff_chunks(path.read_bytes()))
    assert struct.unpack("<HH", chunks[b"fmt "][:4]) == (3, 2)
    assert struct.unpack("<I", chunks[b"fact"]) == (333,)


def test_mono_becomes_stereo(tmp_path: Path) -> None:
    mono = np.linspace(-0.5, 0.5, 1000)
    path = write_clip(tmp_path / "mono.wav", mono, 48000, AcidInfo(120.0, 4), "FLOAT")
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(data, np.stack([mono, mono], axis=1).astype(np.float32))


def test_reader_finds_chunks_after_data_and_skips_odd_chunks(tmp_path: Path) -> None:
    # A file laid out the way many other tools write it: data first, then an odd-sized
    # unknown chunk (with its pad byte), then acid.
    acid_payload = struct.pack("<IHHfIHHf", 0x02, 64, 0x8000, 0.0, 8, 4, 4, 100.0)
    data = b"\x01\x00" * 4
    body = (b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
            + b"data" + struct.pack("<I", len(data)) + data
            + b"junk" + struct.pack("<I", 3) + b"abc\0"
            + b"acid" + struct.pack("<I", 24) + acid_payload)
    path = tmp_path / "other.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    info = read_clip_info(path)
    assert (info.sample_rate, info.channels, info.frames, info.subtype) == (22050, 1, 4, "PCM_16")
    assert info.acid == AcidInfo(tempo=100.0, beats=8, meter=(4, 4), root_note=64)
    assert info.sampler is None


def test_reader_rejects_non_wav(tmp_path: Path) -> None:
    path = tmp_path / "fake.wav"
    path.write_bytes(b"ID3\x03not a wave file at all")
    with pytest.raises(ValueError):
        read_clip_info(path)


@pytest.mark.parametrize("audio", [
    np.array([[0.0, np.nan]] * 10),
    np.array([[0.0, np.inf]] * 10),
    np.zeros((0, 2)),
    np.zeros((10, 3)),
])
def test_invalid_audio_writes_nothing_and_keeps_old_file(tmp_path: Path,
                                                          audio: np.ndarray) -> None:
    path = write_clip(tmp_path / "clip.wav", stereo_noise(100), 48000, AcidInfo(120.0, 4))
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_clip(path, audio, 48000, AcidInfo(120.0, 4))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav"]


def test_failed_rename_removes_temp_file(tmp_path: Path) -> None:
    # The target is a folder: the temp file is fully written, then the rename fails.
    target = tmp_path / "taken.wav"
    target.mkdir()
    with pytest.raises(OSError):
        write_clip(target, stereo_noise(100), 48000, AcidInfo(120.0, 4))
    assert [p.name for p in tmp_path.iterdir()] == ["taken.wav"]
    assert list(target.iterdir()) == []


def test_missing_folder_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_clip(tmp_path / "nope" / "clip.wav", stereo_noise(10), 48000, AcidInfo(120.0, 4))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs", [
    {"tempo": 0.0, "beats": 4},
    {"tempo": float("nan"), "beats": 4},
    {"tempo": 120.0, "beats": -1},
    {"tempo": 120.0, "beats": 4, "meter": (0, 4)},
    {"tempo": 120.0, "beats": 4, "root_note": 128},
])
def test_acid_info_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AcidInfo(**kwargs)


def test_bad_sample_rate_and_subtype(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_clip(tmp_path / "a.wav", stereo_noise(10), 0, AcidInfo(120.0, 4))
    with pytest.raises(ValueError):
        write_clip(tmp_path / "a.wav", stereo_noise(10), 48000, AcidInfo(120.0, 4), "PCM_8")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("key", "note"), [
    ("C", 60), ("C major", 60), ("F# minor", 66), ("Gb", 66), ("Bb", 70), ("Am", 69),
    ("B minor", 71), ("E\u266d", 63), ("Cb", 71), ("", None), (None, None), ("minor", None),
])
def test_root_note_from_key(key: str | None, note: int | None) -> None:
    assert root_note_from_key(key) == note
