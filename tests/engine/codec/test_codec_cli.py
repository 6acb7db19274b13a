"""``stemloom codec encode|decode`` on real files with the shipped codec, and bad input."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.codec import io, level
from engine.codec.eval_sets import REAL_CANDIDATES
from engine.codec.metrics import log_mel_distance
from engine.codec.model import Codec, CodecConfig
from tests.engine.codec.conftest import TINY_MODEL, song

ROOT = Path(__file__).resolve().parents[3]


def stemloom(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stemloom", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return io.export(Codec(CodecConfig(**TINY_MODEL)), tmp_path_factory.mktemp("w"), 0).parent


@pytest.fixture(scope="module")
def real_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real recording when the machine has one (a plucked string from CPython's test data,
    11.025 kHz), else a synthetic song; either way a WAV the codec must resample."""
    for candidate in REAL_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    path = tmp_path_factory.mktemp("wav") / "song.wav"
    sf.write(path, song(np.random.default_rng(5), 2.0)["mix"].T, 44100)
    return path


def test_round_trip_with_the_shipped_codec(tmp_path: Path, real_wav: Path) -> None:
    tokens, out = tmp_path / "x.npz", tmp_path / "y.wav"
    assert stemloom("codec", "encode", str(real_wav), str(tokens)).returncode == 0
    with np.load(tokens) as data:
        codes = data["codes"]
    assert codes.shape[:2] == (2, io.load_codec().cfg.n_q)
    result = stemloom("codec", "decode", str(tokens), str(out))
    assert result.returncode == 0, result.stderr
    decoded, rate = sf.read(out, dtype="float32", always_2d=True)
    original = io.read_audio(real_wav, 32000)
    assert rate == 32000 and decoded.shape == (original.shape[1], 2)
    # The decode comes back at the level it was encoded from (the gains in the token file).
    assert abs(level.level_error_db(original, decoded.T)) < 0.5
    # At that level the 0.3 s pluck scores 1.15; white noise at its level scores 2.4 and
    # silence 2.1 (the decode at the decoder's own level, 11 dB quiet, scored 0.84).
    assert log_mel_distance(original, decoded.T, 32000) < 1.5
    # Streaming decode writes the same file within the stated tolerance.
    streamed = tmp_path / "s.wav"
    assert stemloom("codec", "decode", str(tokens), str(streamed), "--chunk", "0.1"
                    ).returncode == 0
    assert np.abs(sf.read(streamed, dtype="float32")[0] - decoded).max() < 1e-4
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_fewer_levels_reconstruct_worse_in_order() -> None:
    """Quantizer dropout: the shipped model decodes every level count; each added level makes
    the quantized latents strictly closer to the encoder's, and the decoded audio never
    measurably worse (the audio gains from levels 2+ are small in this model: MODEL_CARD)."""
    codec = io.load_codec()
    audio = song(np.random.default_rng(7), 2.0)["mix"]
    x = torch.from_numpy(audio)[None]
    z = codec.encoder(codec._fold(x)[0]).detach()
    latent_errors, distances = [], []
    for n_q in range(1, codec.cfg.n_q + 1):
        zq = codec.quantizer.decode(codec.quantizer.encode(z, n_q))
        latent_errors.append(float((z - zq).square().mean()))
        y = codec.decode(codec.encode(x, n_q))[0, :, :audio.shape[1]].numpy()
        assert np.isfinite(y).all() and y.shape == audio.shape
        distances.append(log_mel_distance(audio, y, 32000))
    assert all(a > b for a, b in itertools.pairwise(latent_errors)), latent_errors
    assert all(b <= a + 2e-3 for a, b in itertools.pairwise(distances)), distances
    assert distances[-1] < distances[0]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"this is not audio", "not a readable audio file"),
])
def test_bad_audio_input(tmp_path: Path, tiny_weights: Path, content: bytes | None,
                         message: str) -> None:
    source = tmp_path / "in.wav"
    if content is not None:
        source.write_bytes(content)
    out = tmp_path / "out.npz"
    result = stemloom("codec", "encode", str(source), str(out), "--weights", str(tiny_weights))
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_bad_token_input(tmp_path: Path, tiny_weights: Path) -> None:
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"PK\x03\x04 broken zip")
    out = tmp_path / "out.wav"
    result = stemloom("codec", "decode", str(garbage), str(out), "--weights", str(tiny_weights))
    assert result.returncode == 2 and "not a codec token file" in result.stderr
    cfg = CodecConfig(**TINY_MODEL)
    wrong = tmp_path / "w.npz"
    io.save_tokens(wrong, np.full((2, 2, 5), cfg.bins + 7), 3200, cfg)  # codes out of range
    result = stemloom("codec", "decode", str(wrong), str(out), "--weights", str(tiny_weights))
    assert result.returncode == 2 and "do not fit" in result.stderr
    assert not out.exists()


def test_empty_audio_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2), np.float32), 32000)
    with pytest.raises(io.CodecFileError, match="no audio"):
        io.read_audio(empty, 32000)


def test_eval_codec_scores_a_folder_of_real_music_beside_opus(tiny_weights: Path,
                                                              tmp_path: Path) -> None:
    import json

    music = tmp_path / "my music"
    (music / "album").mkdir(parents=True)
    mix = song(np.random.default_rng(3), 3.0)["mix"]
    sf.write(music / "album" / "track.flac", mix.T, 44100)  # another rate: resampled
    (music / "cover.jpg").write_bytes(b"not audio, skipped")
    base = ["eval", "codec", "--weights", str(tiny_weights), "--corpus",
            str(tmp_path / "no-corpus"), "--real", str(music), "--seconds", "1"]
    result = stemloom(*base, "--levels", "1,2", "--opus", "6", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    real = report["sets"]["real_recordings"]
    assert real["clips"] == 1 and real["files"][0].endswith("track.flac")
    assert list(real["rows"]) == ["codec_1q", "codec_1q_gains", "codec_2q", "codec_2q_gains",
                                  "opus_6k"]
    assert all(row["log_mel"]["mean"] > 0 and row["bitrate_bps"] > 0
               for row in real["rows"].values())
    assert "skipped" in report["sets"]["heldout_corpus"]
    assert report["decode_speed"]["offline_x_realtime"] > 0
    missing = stemloom("eval", "codec", "--real", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    for levels, message in (("1,x", "comma-separated list"), ("5", "decodes 1 to 4 levels")):
        bad = stemloom(*base, "--levels", levels)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_gains_from_another_decoder_are_flagged(tmp_path: Path, tiny_weights: Path,
                                                real_wav: Path) -> None:
    """A token file's level gains hold for the decoder that measured them: decoding with
    another one still works, and says so."""
    tokens, out = tmp_path / "t.npz", tmp_path / "o.wav"
    assert stemloom("codec", "encode", str(real_wav), str(tokens), "--weights",
                    str(tiny_weights)).returncode == 0
    same = stemloom("codec", "decode", str(tokens), str(out), "--weights", str(tiny_weights))
    assert same.returncode == 0 and "another decoder" not in same.stderr
    torch.manual_seed(1)
    other = io.export(Codec(CodecConfig(**TINY_MODEL)), tmp_path / "other", 0).parent
    moved = stemloom("codec", "decode", str(tokens), str(out), "--weights", str(other))
    assert moved.returncode == 0 and "another decoder" in moved.stderr
