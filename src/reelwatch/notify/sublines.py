"""The lines under a finding in a message: where the clip is used in the cuts, the other copies
with the same problem, what else was found in the file, and how to acknowledge it.

Split from :mod:`.render` to keep each module short; every string from a finding is untrusted
and goes through :mod:`.channels` here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .channels import Line, Span, clip, code, line, visible

PROSE_MAX = 500
PATH_MAX = 300
NAME_MAX = 80


def prose(value: Any, limit: int = PROSE_MAX) -> str:
    return clip(visible(value), limit) if value not in (None, "") else ""


def finding_ids(fs: Sequence[Mapping[str, Any]]) -> list[str]:
    ids = (str(f.get("id")) for f in fs if not isinstance(f.get("id"), bool))
    return [str(int(i)) for i in ids if i.isascii() and i.isdigit() and int(i) > 0]


def in_the_cut(f: Mapping[str, Any]) -> list[Line]:
    """Where a clip is used in the cuts, and a cut list's summary (docs/timelines.md)."""
    raw = f.get("details")
    details: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    return [line(label, prose(details[k], PROSE_MAX)) for k, label in (("used_in", "In the cut: "),
                                                                       ("summary", "Cut list: ")) if details.get(k)]


def other_copies(f: Mapping[str, Any]) -> list[Line]:
    """The other places of a finding that is the same problem on several copies."""
    places = f.get("locations")
    if not isinstance(places, list | tuple) or len(places) < 2:
        return []
    here = (f.get("volume"), f.get("relpath"))
    others = [p for p in places if isinstance(p, Mapping) and (p.get("volume"), p.get("relpath")) != here]
    shown = [code(clip(visible(f"{p.get('volume')}: {p.get('path') or p.get('relpath')}"), PATH_MAX))
             for p in others[:4]]
    spans: list[Span | str] = ["Also on: "]
    for i, s in enumerate(shown):
        spans += [", " if i else "", s]
    if len(others) > 4:
        spans.append(f" and {len(others) - 4} more")
    return [line(*spans)]


def also_found(f: Mapping[str, Any]) -> list[str]:
    """What other rules found in the same file, listed under the root cause (see reelwatch.checking.fold)."""
    details = f.get("details")
    found = details.get("also") if isinstance(details, Mapping) else None
    if not isinstance(found, list | tuple):
        return []
    return [f"{a.get('rule')}: {a.get('message')}" for a in found if isinstance(a, Mapping)]


def ack_line(rule: str, ids: Sequence[str]) -> Line:
    parts: list[Span | str] = ["Rule ", code(clip(visible(rule), NAME_MAX))]
    if len(ids) == 1:
        parts += [f", finding {ids[0]}. Ack with: ", code(f"reelwatch ack {ids[0]}")]
    elif 1 < len(ids) <= 5:
        parts += [f", findings {', '.join(ids)}. Ack with: ", code("reelwatch ack " + " ".join(ids))]
    elif ids:
        parts += [f", findings {', '.join(ids[:3])} and {len(ids) - 3} more. Ack one with: ",
                  code(f"reelwatch ack {ids[0]}")]
    return line(*parts)
