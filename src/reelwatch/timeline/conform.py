"""Conform checks: pure functions from a timeline, its matches and the open findings of the
clips, to ``conform.*`` issues and a per-timeline summary an assistant editor can read.

- offline: no clip matched, or the matched clip has no copy on a mounted volume;
- ambiguous: several different clips fit (listed, never guessed);
- media_error: the clip has open findings at or above ``fail_at`` (the clip's own finding is
  the root cause; this lists the events it breaks);
- source_range: the event uses frames outside the clip's timecode or frame range;
- frame_rate: a picture clip's rate differs from the timeline's, exactly.

Problems are grouped per clip (one issue for a clip used in three events), except
ambiguous and range problems, which are per event because each needs its own decision.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from reelwatch.core.model import Severity, format_rate

from .catalog import Clip
from .match import Match, fit
from .names import arri_tape
from .rules import RULES
from .timecode import nominal
from .values import Event, Issue, Timeline

OpenFindings = Callable[[str, str], Sequence[tuple[str, "Severity | str | int"]]]
"""(volume, relpath) -> (rule id, severity) of the findings still open on that asset, as
:meth:`reelwatch.core.hookspecs.History.open_findings` answers."""

STATES = ("offline", "ambiguous", "failing", "source_range", "frame_rate")


@dataclass(frozen=True, slots=True)
class EventState:
    """The conform state of one event: ``ok`` or one or more of :data:`STATES`."""

    match: Match
    states: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.states


@dataclass(frozen=True, slots=True)
class ReelCount:
    events: int = 0
    offline: int = 0
    failing: int = 0
    ambiguous: int = 0


@dataclass(frozen=True, slots=True)
class Summary:
    """``812 events, 3 offline, 2 failing, 1 ambiguous`` and the same by reel."""

    timeline: str
    events: int
    counts: Mapping[str, int]
    by_reel: Mapping[str, ReelCount] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def offline(self) -> int:
        return self.counts.get("offline", 0)

    @property
    def failing(self) -> int:
        """Events whose media has open errors, runs short or is at another rate."""
        return self.counts.get("failing_any", 0)

    @property
    def ambiguous(self) -> int:
        return self.counts.get("ambiguous", 0)

    def text(self) -> str:
        parts = [f"{self.events} event{'s' if self.events != 1 else ''}", f"{self.offline} offline",
                 f"{self.failing} failing"]
        if self.ambiguous:
            parts.append(f"{self.ambiguous} ambiguous")
        detail = [f"{self.counts[k]} {w}" for k, w in (("failing", "with media errors"),
                                                        ("source_range", "past the clip's end"),
                                                        ("frame_rate", "at another frame rate")) if self.counts.get(k)]
        tail = f" ({', '.join(detail)})" if detail else ""
        return f"{self.timeline}: {', '.join(parts)}{tail}"

    def reel_lines(self) -> list[str]:
        out = []
        for reel, c in sorted(self.by_reel.items(), key=lambda kv: (-(kv[1].offline + kv[1].failing), kv[0])):
            bits = [f"{c.offline} offline" if c.offline else "", f"{c.failing} failing" if c.failing else "",
                    f"{c.ambiguous} ambiguous" if c.ambiguous else ""]
            extra = ", ".join(b for b in bits if b)
            out.append(f"{reel}: {c.events} event{'s' if c.events != 1 else ''}" + (f" ({extra})" if extra else ""))
        return out


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``reelwatch timeline`` prints for one timeline."""

    timeline: Timeline
    events: tuple[EventState, ...]
    issues: tuple[Issue, ...]
    summary: Summary

    @property
    def worst(self) -> Severity | None:
        return max((i.severity for i in self.issues), default=None)


def _severity(value: Severity | str | int) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError:
        return Severity.ERROR  # an unknown severity is not a reason to call media fine


def reel_of(match: Match) -> str:
    """The reel an event is counted under: its own reel, else its clip's tape name."""
    if match.event.reel and match.event.reel.upper() not in ("AX", "BL", "BLACK"):
        return match.event.reel
    clip = match.clip
    if clip is not None:
        return next(iter(clip.reels), "") or arri_tape(clip.name) or clip.roll or "(no reel)"
    return "(no reel)"


def _records(timeline: Timeline, events: Iterable[Event], limit: int = 5) -> str:
    recs = sorted(events, key=lambda e: e.record_in)
    shown = ", ".join(timeline.tc(e.record_in) for e in recs[:limit])
    return shown + (f" and {len(recs) - limit} more" if len(recs) > limit else "")


def _used(timeline: Timeline, events: Sequence[Event]) -> str:
    n = len(events)
    return f"used in {n} event{'s' if n != 1 else ''} (record {_records(timeline, events)})"


def _range_problem(clip: Clip, event: Event) -> str | None:
    """Plain words for an event that runs outside its clip, or None when it fits (or cannot be told)."""
    how = fit(clip, event)
    if how in ("inside", "unknown"):
        return None
    seq = event.sequence
    if seq is not None and seq.first is not None and seq.last is not None and clip.frames:
        a, b = clip.frames
        short = max(0, a - seq.first) + max(0, seq.last - b)
        return (f"event {event.number} uses frames {seq.first}-{seq.last} of {clip.name}, which holds frames "
                f"{a}-{b}: {short} frame{'s' if short != 1 else ''} have no media")
    span = clip.span()
    assert span is not None and clip.rate is not None
    # count the event's own frames that lie wholly before the clip's first or at/after its end
    nom = nominal(event.source_rate)
    lo, hi = event.source_in, event.source_out
    head = max(0, min(hi, math.floor(span[0] * nom)) - lo)
    tail = max(0, hi - max(lo, math.ceil(span[1] * nom)))
    frames = head + tail
    if frames == 0:
        return None
    return (f"event {event.number} uses {event.source_tc()} of {clip.name}, which runs {clip.tc_range()}: "
            f"{frames} frame{'s' if frames != 1 else ''} have no media"
            + (" (the event lies wholly outside the clip)" if how == "outside" else ""))


def conform(timeline: Timeline, matches: Sequence[Match], open_findings: OpenFindings | None = None, *,
            fail_at: Severity = Severity.ERROR) -> Report:
    """Check one timeline's events against their matches. ``open_findings`` answers per asset;
    None means no findings are known (nothing failing)."""
    issues: list[Issue] = []
    states: dict[int, list[str]] = {m.event.number: [] for m in matches}
    offline: dict[str, list[Match]] = {}
    failing: dict[tuple[str, str], tuple[Clip, list[Event], list[str]]] = {}
    rates: dict[tuple[str, str], tuple[Clip, list[Event]]] = {}
    for m in matches:
        ev = m.event
        if m.status == "ambiguous":
            states[ev.number].append("ambiguous")
            issues.append(RULES["conform.ambiguous"].issue(
                f"event {ev.number} ({ev.label}, record {timeline.tc(ev.record_in)}) could be {m.note}",
                (ev.number,), details={"candidates": [c.where for c in m.clips]}))
            continue
        clip = m.clip
        if m.status != "matched" or clip is None or not clip.present:
            states[ev.number].append("offline")
            label = clip.name if clip is not None else ev.label
            offline.setdefault(label, []).append(m)
            continue
        bad: list[str] = []
        for copy in m.clips:
            if not copy.present:
                continue
            for rule, sev in (open_findings(copy.volume, copy.relpath) if open_findings else ()):
                if _severity(sev) >= fail_at:
                    bad.append(f"{rule} ({_severity(sev).label}) on {copy.where}")
        if bad:
            states[ev.number].append("failing")
            entry = failing.setdefault((clip.volume, clip.relpath), (clip, [], []))
            entry[1].append(ev)
            entry[2].extend(b for b in bad if b not in entry[2])
        problem = _range_problem(clip, ev)
        if problem:
            states[ev.number].append("source_range")
            issues.append(RULES["conform.source_range"].issue(problem, (ev.number,), details={"clip": clip.where}))
        if ev.kind == "video" and clip.kind != "sound" and clip.rate and clip.rate != timeline.rate:
            states[ev.number].append("frame_rate")
            rates.setdefault((clip.volume, clip.relpath), (clip, []))[1].append(ev)
    for label, ms in offline.items():
        evs = [m.event for m in ms]
        gone = [c for m in ms for c in m.clips]
        if gone:
            why = ("its copies are gone or their volumes are not mounted: "
                   + ", ".join(dict.fromkeys(c.where for c in gone[:4])))
        else:
            why = ms[0].note or "no file of that name is on any volume"
        issues.append(RULES["conform.offline"].issue(f"{label} is offline: {_used(timeline, evs)}; {why}",
                                                     tuple(e.number for e in evs)))
    for clip, evs, bad in failing.values():
        n = len(evs)
        issues.append(RULES["conform.media_error"].issue(
            f"{n} event{'s' if n != 1 else ''} (record {_records(timeline, evs)}) use{'s' if n == 1 else ''} "
            f"{clip.name}, which has open problems: {'; '.join(bad[:6])}", tuple(e.number for e in evs),
            details={"clip": clip.where}))
    for clip, evs in rates.values():
        n = len(evs)
        assert clip.rate is not None
        issues.append(RULES["conform.frame_rate"].issue(
            f"{n} event{'s' if n != 1 else ''} (record {_records(timeline, evs)}) use{'s' if n == 1 else ''} "
            f"{clip.name} at {format_rate(clip.rate)} fps in a {format_rate(timeline.rate)} fps timeline",
            tuple(e.number for e in evs), details={"clip": clip.where}))
    events = tuple(EventState(m, tuple(states[m.event.number])) for m in matches)
    return Report(timeline, events, tuple(issues), summarize(timeline, events))


def summarize(timeline: Timeline, events: Sequence[EventState]) -> Summary:
    counts: Counter[str] = Counter()
    reels: dict[str, Counter[str]] = {}
    for st in events:
        reel = reel_of(st.match)
        rc = reels.setdefault(reel, Counter())
        rc["events"] += 1
        for s in st.states:
            counts[s] += 1
            rc[s] += 1
        if {"failing", "source_range", "frame_rate"} & set(st.states):
            counts["failing_any"] += 1
            rc["failing_any"] += 1
    by_reel = {r: ReelCount(c["events"], c["offline"], c["failing_any"], c["ambiguous"]) for r, c in reels.items()}
    name = timeline.path.replace("\\", "/").rsplit("/", 1)[-1] or timeline.name
    return Summary(name, len(events), MappingProxyType(dict(counts)), MappingProxyType(by_reel))

