"""The window's look: Fusion with a few accents, the same on every platform."""

from __future__ import annotations

STYLE_SHEET = """
QMainWindow, QScrollArea, #formColumn { background: #f6f6f8; }
QGroupBox { font-weight: 600; border: 1px solid #d6d6dc; border-radius: 6px;
            margin-top: 10px; padding: 8px 6px 6px 6px; background: #ffffff; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; }
QGroupBox QCheckBox, QGroupBox QLabel, QGroupBox QPushButton { font-weight: normal; }
#engineBanner { border-radius: 6px; }
#engineBanner[state="ok"] { background: #e6f4ea; border: 1px solid #a8d5b5; }
#engineBanner[state="down"] { background: #fdecea; border: 1px solid #f1b0aa; }
#engineBanner[state="checking"] { background: #fff8e1; border: 1px solid #f0dc9a; }
#hint { color: #6b6b76; }
QListWidget::item { padding: 3px 2px; }
QLabel[problem="true"], #hint[problem="true"] { color: #c62828; }
#fieldHint { color: #8a8a94; font-size: 11px; font-weight: normal; }
#fieldHint[source="words"], QLabel[source="words"], QGroupBox[source="words"]::title,
#fieldHint[source="genre"], QLabel[source="genre"], QGroupBox[source="genre"]::title
    { color: #6d3fc4; }
QLabel[source="words"], QGroupBox[source="words"]::title { font-weight: 600; }
#fieldHint[source="session"], QLabel[source="session"] { color: #2e7d4f; }
#fieldHint[source="explicit"] { color: #4a4a55; }
#wordsNote { color: #8a5a00; background: #fff8e1; border: 1px solid #f0dc9a;
             border-radius: 4px; padding: 2px 6px; }
#wordsNote[problem="true"] { color: #c62828; background: #fdecea; border-color: #f1b0aa; }
QPushButton#primary { background: #3559e0; color: white; font-weight: 600;
                      padding: 7px 18px; border-radius: 5px; border: none; }
QPushButton#primary:disabled { background: #a9b6e8; }
QPushButton#primary:hover { background: #2a48c0; }
"""
