"""The studio window (Qt): prompt, melody reference, jobs with live progress, preview, drag out.

Only ``stemloom studio`` imports this package; ``import plugin_host`` never pulls in PySide6.
"""
