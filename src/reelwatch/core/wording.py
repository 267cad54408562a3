"""Plain-words helpers shared by the rule plugins: file sizes and short lists of names.

Messages are read by people on a set or in a cutting room, so sizes use decimal units the way
file browsers show them (``1.2 MB``) and long lists of files are cut to a few names and a count.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["human_size", "listed"]


def human_size(size: float) -> str:
    """``999 bytes``, ``57.0 KB``, ``1.4 MB``, ``2.1 GB`` (decimal units; GB is the largest)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:,.1f} GB"  # pragma: no cover


def listed(names: Sequence[str], limit: int = 5) -> str:
    """``a, b, c`` or, past ``limit`` names, ``a, b, c, d, e and 3 more``."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
