"""Stemloom's thin DAW-side host: engine client, DAW adapters, clip files, hums, MIDI, effects.

It never imports torch or ``engine``: it must start in well under a second and freeze into a
small bundle. It reaches the engine only through ``bridge``.
"""
