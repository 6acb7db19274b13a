"""``stemloom presets`` and ``stemloom generate --preset`` as a user runs them."""

from __future__ import annotations

import json

from plugin_host.clips import read_clip_info
from tests.test_cli import stemloom


def test_list_show_and_save_presets(tmp_path) -> None:
    listing = stemloom("presets", "list", home=tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) >= 24 and any(line.startswith("lofi-hiphop ") for line in lines)
    shown = stemloom("presets", "show", "lofi-hiphop", home=tmp_path)
    assert "tempo    84 bpm (range 70-90)" in shown.stdout
    assert "effects  drums: lofi tape" in shown.stdout

    refused = stemloom("presets", "save", "lofi-hiphop", "--from", "lofi-hiphop", home=tmp_path)
    assert refused.returncode == 2
    assert "shipped preset and cannot be replaced" in refused.stderr
    saved = stemloom("presets", "save", "my-lofi", "--from", "lofi-hiphop", "--bpm", "96",
                     "--effect", "drums=", "--effect", "lead=wide reverb", "--stems",
                     "drums,bass,lead", home=tmp_path)
    assert saved.returncode == 0, saved.stderr
    path = tmp_path / ".config" / "stemloom" / "presets" / "my-lofi.toml"
    assert str(path) in saved.stdout and path.is_file()
    mine = stemloom("presets", "show", "my-lofi", home=tmp_path).stdout
    assert "(yours)" in mine and "96 bpm (range 70-96)" in mine
    assert "effects  bass: warm bass, keys: lofi tape, lead: wide reverb" in mine
    again = stemloom("presets", "save", "my-lofi", "--prompt", "x", home=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert "my-lofi" in stemloom("presets", "list", home=tmp_path).stdout

    path.write_text(path.read_text().replace("bars = 8", "bars = many"))
    broken = stemloom("presets", "show", "my-lofi", home=tmp_path)
    assert broken.returncode == 2 and str(path) in broken.stderr
    assert "cannot read the preset" in broken.stderr


def test_generate_with_a_preset_fills_what_is_left_out_and_applies_its_effects(tmp_path) -> None:
    session = tmp_path / "session"
    made = stemloom("generate", "--preset", "lofi-hiphop", "with a flute", "--bars", "1",
                    "--model", "random-tiny", "--daw", "folder", "--dest", str(session),
                    home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "1 bars at 84 BPM (4/4), key A minor" in made.stdout
    assert "keys through effect preset 'lofi tape'" in made.stdout
    placed = json.loads((session / "session.json").read_text())
    assert placed["session"]["bpm"] == 84.0
    # "with a flute" adds a lead to the preset's stems (words added to a preset add to it).
    assert [track["name"] for track in placed["tracks"]] == ["drums", "bass", "keys", "lead"]
    job = next((tmp_path / "data" / "stemloom" / "library").glob("gen-*/job.json"))
    assert json.loads(job.read_text())["request"]["prompt"].endswith("vinyl warmth, with a flute")
    # The placed clips are the processed ones: effect-tagged names, still tempo-tagged.
    clips = sorted((tmp_path / "data" / "stemloom" / "clips").glob("gen-*/*.wav"))
    processed = [clip for clip in clips if clip.stem.endswith(("-lofi-tape", "-warm-bass"))]
    assert len(processed) == 3
    assert all(read_clip_info(clip).acid.tempo == 84.0 for clip in processed)
    placed_bytes = {f.read_bytes() for f in session.glob("*.wav")}
    # The lead has no effect in the preset: it is placed as made.
    assert len(placed_bytes) == 4
    assert {clip.read_bytes() for clip in processed} <= placed_bytes

    # An existing session keeps its own tempo; explicit options beat the preset's.
    again = stemloom("generate", "--preset", "trap", "--bars", "1", "--stems", "drums",
                     "--key", "C minor", "--no-effects", "--model", "random-tiny",
                     "--daw", "folder", "--dest", str(session), home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "1 bars at 84 BPM (4/4), key C minor" in again.stdout
    assert "through effect preset" not in again.stdout


def test_generate_needs_a_prompt_or_a_preset(tmp_path) -> None:
    nothing = stemloom("generate", home=tmp_path)
    assert nothing.returncode == 2 and "--preset" in nothing.stderr
    unknown = stemloom("generate", "--preset", "polka-fusion", home=tmp_path)
    assert unknown.returncode == 2 and "no preset 'polka-fusion'" in unknown.stderr
