"""Stemloom for Ableton Live 12: a MIDI Remote Script that puts generated stems on new tracks.

Copy this ``Stemloom`` folder into Live's ``Remote Scripts`` folder and pick "Stemloom" as a
Control Surface (Settings > Link, Tempo & MIDI); see docs/daws/ableton-live.md.
"""

from .surface import Stemloom


def create_instance(c_instance):
    """Live's entry point: the control surface for this script instance."""
    return Stemloom(c_instance)
