"""A clip's waveform overview: its peak level per column, computed once per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Columns kept per clip: wider than any stem row, narrowed to the row's pixels when painted.
OVERVIEW_COLUMNS = 1024
_CACHE_SIZE = 256
_cache: dict[tuple[str, int, int], np.ndarray] = {}


def peaks(audio: np.ndarray, columns: int) -> np.ndarray:
    """Peak absolute sample (over channels) in each of ``columns`` equal slices of ``audio``
    ((frames,) or (frames, channels)); float32 in 0..1 (louder clips clip at 1)."""
    if columns <= 0:
        raise ValueError(f"columns must be positive, not {columns}")
    level = np.abs(audio.reshape(len(audio), -1)).max(axis=1) if audio.size else np.zeros(0)
    if not len(level):
        return np.zeros(columns, dtype=np.float32)
    starts = np.minimum(np.linspace(0, len(level), columns + 1)[:-1].astype(int), len(level) - 1)
    return np.minimum(np.maximum.reduceat(level, starts), 1.0).astype(np.float32)


def narrow(overview: np.ndarray, width: int) -> np.ndarray:
    """``overview`` shown in ``width`` pixel columns: the peak of the columns each covers."""
    if width <= 0 or not len(overview):
        return np.zeros(max(width, 0), dtype=np.float32)
    return peaks(overview, width)


def clip_overview(path: Path, columns: int = OVERVIEW_COLUMNS) -> np.ndarray:
    """The overview of the audio file ``path`` (read once; again only if the file changes);
    all zeros for a file that cannot be read."""
    import soundfile as sf

    try:
        stat = path.stat()
    except OSError:
        return np.zeros(columns, dtype=np.float32)
    key = (str(path), stat.st_mtime_ns, columns)
    if key not in _cache:
        try:
            audio, _ = sf.read(str(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, OSError):
            audio = np.zeros((0, 1), dtype=np.float32)
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = peaks(audio, columns)
    return _cache[key]
