"""Real drum kits: Hydrogen names map to drum roles, layers follow velocity, hats choke, and
a tiny kit made here plays the composer's GM notes."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from engine.corpus import drumkits
from engine.corpus.drums import DRUM_KEYS

RATE = 32000
def test_hydrogen_names_map_to_roles() -> None:
    names = {"Pearl Kick": "kick", "BassDrum": "kick", "c3 - bass drum 1": "kick",
             "Pearl Side Stick": "rim", "Snare Jazz": "snare", "Snare Roll": None,
             "Hand Clap": "clap", "Sabian Hat Closed": "hat", "Closed HH": "hat",
             "Hi Hat Opened": "open", "VariBreaks Hat 1 Op": "open", "Pedal HH": "pedal",
             "Pearl Tom Floor": "tom_floor", "Tom Low": "tom_low", "Tom Hi": "tom_high",
             "Paiste Ride": "ride", "ride-cup": "bell", "Cowbell": "cowbell",
             "crash16inch": "crash", "Sabian Crash": "crash", "Maraca": "shaker"}
    assert {n: drumkits.role_of(n) for n in names} == names


def test_a_tiny_kit_plays_gm_notes_by_velocity_and_chokes_the_open_hat(tmp_path: Path,
                                                                       tiny_kit) -> None:
    kit = drumkits.load_hydrogen(str(tiny_kit(tmp_path)), RATE)
    assert set(kit.roles) == {"kick", "snare", "hat", "open"}
    assert kit.resolve("rim") == "snare" and kit.resolve("pedal") == "hat"
    track = mido.MidiTrack()
    hits = [(0, "kick", 127), (8000, "kick", 30), (16000, "snare", 100), (24000, "open", 127),
            (30000, "hat", 127)]
    now = 0
    for frame, drum, velocity in hits:  # at 120 bpm and 960 ticks a beat: 1 tick = 1/60 frame
        tick = frame * 960 * 2 // RATE
        track.append(mido.Message("note_on", channel=9, note=DRUM_KEYS[drum],
                                  velocity=velocity, time=tick - now))
        now = tick
    played = drumkits.track_hits(track, 960, 120.0, RATE)
    assert [at for at, _, _ in played] == [h[0] for h in hits]
    audio = drumkits.render_hits(kit, played, RATE, RATE)
    assert audio.shape == (2, RATE)
    assert audio[0, 100] == pytest.approx(0.8, rel=1e-3)  # hard layer at full velocity
    assert audio[0, 8100] == pytest.approx(0.1 * 30 / 127, rel=1e-3)  # soft layer, scaled
    assert audio[0, 16100] == pytest.approx(0.6 * 0.5 * 100 / 127, rel=1e-3)  # volume 0.5
    assert audio[0, 28000] == pytest.approx(0.3, rel=1e-3)  # the open hat rings...
    after = 30000 + int(drumkits.CHOKE_SECONDS * RATE) + 10
    assert audio[0, after] == pytest.approx(0.05, rel=1e-3)  # ...until the closed hat cuts it


def test_a_kit_without_a_snare_is_refused(tmp_path: Path, tiny_kit) -> None:
    folder = tiny_kit(tmp_path)
    xml = tiny_kit.xml.replace("<name>Snare</name>", "<name>Gong</name>")
    (folder / "drumkit.xml").write_text(xml)
    with pytest.raises(ValueError, match="snare"):
        drumkits.load_hydrogen(str(folder), RATE + 1)  # another rate: not the cached kit


def test_locate_lists_missing_kits_and_kits_for_fits_the_genre(tmp_path: Path,
                                                               tiny_kit) -> None:
    found, missing = drumkits.locate(tmp_path)
    assert found == {} and len(missing) == len(drumkits.KITS)
    hydrogen = tmp_path / "hydrogen-data" / drumkits.HYDROGEN_DIR
    for name in ("TR808EmulationKit", "GMRockKit"):
        (hydrogen / name).mkdir(parents=True)
        (hydrogen / name / "drumkit.xml").write_text(tiny_kit.xml)
    found, _ = drumkits.locate(tmp_path)
    assert set(found) == {"TR808EmulationKit", "GMRockKit"}
    assert drumkits.kits_for("808 kit", found) == ["TR808EmulationKit"]
    assert drumkits.kits_for("power kit", found) == ["GMRockKit"]
    assert drumkits.kits_for("orchestra kit", found) == []
