"""Where a clip is used: the words a finding on that clip carries, and who must hear it.

"used in 3 events of AGM_104_R2_v12 (record 01:02:03:04, 01:05:10:00, 01:07:22:12); VFX shot
AGM_104_065_010 pulls it". The state store keeps one :class:`Use` per matched event, indexed
by the clip's (volume, relpath); a finding on the clip looks its uses up and adds this text
and :func:`impact_roles` to its message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .match import Match
from .values import Event, Timeline


@dataclass(frozen=True, slots=True)
class Use:
    """One event of one timeline that uses a clip."""

    timeline: str
    """The cut list's name as its versions are named (``AGM_104_R2_v12``)."""
    purpose: str
    """``cut`` or ``vfx_pull``."""
    record_in: str
    """Record timecode of the event."""
    shot: str = ""
    """The VFX shot an event of a pull list stands for."""
    event: int = 0


def display_name(timeline: Timeline) -> str:
    """``AGM_104_R2_v12``: the cut list's file name without its extension (versions are by file name)."""
    name = timeline.path.replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem or timeline.name


def shot_of(event: Event, pattern: str | re.Pattern[str] | None = None) -> str:
    """The VFX shot an event of a pull list stands for: the first marker (``* LOC``) or clip
    name matching ``pattern``; without a pattern, the first word of the first marker, else the
    clip name as written without Avid's annotations."""
    texts = [*event.markers, event.clip_name]
    if pattern is not None:
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        for text in texts:
            m = rx.search(text)
            if m:
                return m.group(0)
        return ""
    for marker in event.markers:
        word = marker.split()[0] if marker.split() else ""
        if word:
            return word
    return re.sub(r"\s*\(.*$", "", event.clip_name).strip()


def uses_of(timeline: Timeline, matches: Sequence[Match], *, shot_pattern: str | None = None
            ) -> dict[tuple[str, str], list[Use]]:
    """Every matched copy (volume, relpath) with the events that use it. Ambiguous and unmatched
    events use nothing yet."""
    name = display_name(timeline)
    out: dict[tuple[str, str], list[Use]] = {}
    for m in matches:
        if m.status != "matched":
            continue
        shot = shot_of(m.event, shot_pattern) if timeline.purpose == "vfx_pull" else ""
        use = Use(name, timeline.purpose, timeline.tc(m.event.record_in), shot, m.event.number)
        for clip in m.clips:
            out.setdefault((clip.volume, clip.relpath), []).append(use)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def impact_text(uses: Iterable[Use], limit: int = 3) -> str:
    """One sentence: cuts first (by timeline, record timecodes in order, ``limit`` shown), then
    the VFX shots that pull the clip. Empty when the clip is in no cut."""
    cuts: dict[str, list[str]] = {}
    shots: list[str] = []
    for use in uses:
        if use.purpose == "vfx_pull":
            if use.shot and use.shot not in shots:
                shots.append(use.shot)
            elif not use.shot:
                cuts.setdefault(use.timeline, []).append(use.record_in)
        else:
            cuts.setdefault(use.timeline, []).append(use.record_in)
    parts = []
    for name, recs in cuts.items():
        recs = sorted(dict.fromkeys(recs))
        shown = ", ".join(recs[:limit]) + (f" and {len(recs) - limit} more" if len(recs) > limit else "")
        parts.append(f"{_plural(len(recs), 'event')} of {name} (record {shown})")
    text = ""
    if parts:
        text = "used in " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])
    if shots:
        shown = ", ".join(shots[:limit]) + (f" and {len(shots) - limit} more" if len(shots) > limit else "")
        pulls = f"VFX shot{'s' if len(shots) > 1 else ''} {shown} pull{'s' if len(shots) == 1 else ''} it"
        text = f"{text}; {pulls}" if text else pulls
    return text


def impact_roles(uses: Iterable[Use]) -> tuple[str, ...]:
    """Roles that must hear about a problem in a clip because of where it is used: editorial
    for a cut, VFX for a pull, even when the rule's own impacts would not name them."""
    roles: list[str] = []
    for use in uses:
        role = "vfx" if use.purpose == "vfx_pull" else "editorial"
        if role not in roles:
            roles.append(role)
    return tuple(roles)
