"""Values in the words and units people on a production read: sizes, times, exact frame rates,
the MediaInfo fields that matter. Shared by the pages and the HTML reports."""

from __future__ import annotations

import os
import time
from datetime import datetime
from fractions import Fraction
from typing import Any

from ..core.model import Facts
from ..spec.fields import exact_rate, timecode_start


def size(n: Any) -> str:
    try:
        value = float(n)
    except (TypeError, ValueError):
        return "-"
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if value < 1000 or unit == "PB":
            return f"{int(value):,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return str(n)


def when(ts: Any) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S")


def ago(ts: Any) -> str:
    if not ts:
        return "-"
    s = max(0.0, time.time() - float(ts))
    for limit, div, unit in ((90, 1, "s"), (5400, 60, "min"), (172800, 3600, "h")):
        if s < limit:
            return f"{s / div:.0f} {unit} ago"
    return f"{s / 86400:.0f} days ago"


def rate_text(rate: Fraction | None) -> str:
    """``24000/1001 (23.976)``: the exact rational first, as the production writes it."""
    if rate is None:
        return "unknown"
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{rate.numerator}/{rate.denominator} ({float(rate):.3f})"


def _first(track: Any, *keys: str) -> Any:
    for k in keys:
        v = track.get(k) if isinstance(track, dict) else None
        if v not in (None, ""):
            return v
    return None


def facts_table(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """The MediaInfo fields that matter for a workflow, in order, as (label, value)."""
    if not raw:
        return []
    facts = Facts.from_mapping(raw)
    g = raw.get("general") or {}
    v = (raw.get("video") or raw.get("image") or [{}])[0] or {}
    a = raw.get("audio") or []
    rate, stored = exact_rate(v) if v else (None, "")
    tc, tc_from = timecode_start(facts, rate)
    rows: list[tuple[str, Any]] = [
        ("kind", raw.get("kind")),
        ("container", " ".join(str(x) for x in (_first(g, "format"), f"({g['format_profile']})" if
                                                 g.get("format_profile") else None) if x) or None),
        ("duration", f"{float(g['duration']) / 1000:.3f} s" if _first(g, "duration") else None),
        ("codec", " ".join(str(x) for x in (_first(v, "format"), _first(v, "format_profile")) if x) or None),
        ("codec id", _first(v, "codec_id")),
        ("resolution", f"{v.get('width')} x {v.get('height')}" if v.get("width") else None),
        ("frame rate", rate_text(rate) + (f" (stored as {stored})" if stored and rate and stored != f"{rate.numerator}/{rate.denominator}" else "") if v else None),
        ("scan", _first(v, "scan_type")),
        ("chroma", _first(v, "chroma_subsampling")),
        ("bit depth", _first(v, "bit_depth")),
        ("colour", " / ".join(str(x) for x in (v.get("color_primaries"), v.get("transfer_characteristics"),
                                                v.get("matrix_coefficients")) if x) or None),
        ("timecode", f"{tc} ({tc_from})" if tc else None),
        ("audio", "; ".join(f"{_first(t, 'format')} {_first(t, 'channel_s')} ch {_first(t, 'sampling_rate')} Hz "
                            f"{_first(t, 'bit_depth') or ''} bit".replace(" None", "") for t in a) or None),
        ("truncated", "YES: " + str(g.get("general_compliance") or "") if g.get("istruncated") == "Yes" else None),
        ("probe", raw.get("probe") or None),
        ("probe error", raw.get("error")),
    ]
    return [(k, str(val)) for k, val in rows if val not in (None, "")]


def shown_name(text: str) -> str:
    """A file name with control characters made visible (the page still escapes it)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def basename(path: str) -> str:
    return os.path.basename(str(path).rstrip("/")) or str(path)
