"""Real music from Debian packages: the source table, the reserved evaluation set, and
`stemloom data fetch | list`.

Importing this package stays light (stdlib only); soundfile is imported when durations are
measured.
"""

from engine.data.reserved import (
    RESERVED_PACKAGES,
    RESERVED_PATTERNS,
    ReservedSourceError,
    is_reserved,
    refuse_reserved,
)

__all__ = [
    "RESERVED_PACKAGES",
    "RESERVED_PATTERNS",
    "ReservedSourceError",
    "is_reserved",
    "refuse_reserved",
]
