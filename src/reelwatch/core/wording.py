"""Plain-words helpers shared by the rule plugins: file sizes and short lists of names.

Messages are read by people on a set or in a cutting room, so sizes use decimal units the way
file browsers show them (``1.2 MB``; the one size formatter of reelwatch) and long lists of files are cut to a few names and a count.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["did_you_mean", "human_size", "listed"]


def human_size(size: float) -> str:
    """``999 bytes``, ``57.0 kB``, ``1.4 MB``, ``2.1 GB``, ``1.1 TB`` (decimal SI units; TB is the largest)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:,.1f} TB"  # pragma: no cover


def listed(names: Sequence[str], limit: int = 5) -> str:
    """``a, b, c`` or, past ``limit`` names, ``a, b, c, d, e and 3 more``."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """`` (did you mean 'ingest'?)`` for the closest of ``choices`` to a misspelt ``word``, or ``""``."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
