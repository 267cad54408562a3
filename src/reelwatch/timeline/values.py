"""The values of a cut list: events, timelines and the problems found in them (no I/O).

An :class:`Event` is one use of source media in a cut, as an assistant editor reads it from
an EDL line and its comments: record in/out, source in/out, the source file or clip name,
the reel or tape, and for sound the scene and take. Frame counts are exact integers at
exact rates; timecode text is derived, never stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from reelwatch.core.model import Asset, Finding, Severity, freeze, thaw

from .timecode import frames_to_tc, label_seconds

PURPOSES = ("cut", "vfx_pull")
"""What a timeline is for: an edit (``cut``) or a VFX pull list (``vfx_pull``), whose events are shots."""


@dataclass(frozen=True, slots=True)
class SeqRef:
    """An image sequence named by an event: ``ZZ100_501.take_1.`` + frames + ``.exr``."""

    base: str
    """Everything before the frame number, separator included (``plate.``)."""
    ext: str
    """The extension with its dot, as written (``.exr``)."""
    first: int | None = None
    """First frame the event uses, when the cut list says (image sequence references do)."""
    last: int | None = None
    """Last frame the event uses (inclusive)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One clip in a timeline: where it sits in the cut and what source it uses."""

    number: int
    """1-based position in the timeline (tracks in order, each by record time)."""
    track: str
    """Track name as the cut list gives it, or ``V1``, ``A2`` ..."""
    kind: str
    """``video`` or ``audio``."""
    record_in: int
    """Record in, in frames at the timeline's rate (absolute: 01:00:00:00 at 24 is 86400)."""
    record_out: int
    """Record out (exclusive)."""
    source_in: int
    """First source frame used, at ``source_rate`` (transition handles included)."""
    source_out: int
    """Source frame after the last one used (exclusive)."""
    source_rate: Fraction
    clip_name: str = ""
    reel: str = ""
    """Reel or tape name as written (EDLs cut it to 8 characters)."""
    source_path: str = ""
    """Source file path as written in the cut list (``S:\\path\\to\\x.exr`` kept as is)."""
    sequence: SeqRef | None = None
    scene: str = ""
    take: str = ""
    speed: Fraction = Fraction(1)
    """Source frames per record frame: 2 for double speed, 0 for a freeze frame."""
    markers: tuple[str, ...] = ()
    """Marker and locator texts on the event (EDL ``* LOC``), e.g. a VFX shot name."""

    @property
    def source_name(self) -> str:
        """The file name of ``source_path``, split at ``/`` or ``\\`` whichever the path uses."""
        return re.split(r"[\\/]", self.source_path.rstrip("\\/"))[-1] if self.source_path else ""

    def source_span(self) -> tuple[Fraction, Fraction]:
        """Source in and out in timecode seconds (see :func:`~.timecode.label_seconds`)."""
        return label_seconds(self.source_in, self.source_rate), label_seconds(self.source_out, self.source_rate)

    def source_tc(self, drop: bool = False) -> str:
        """``01:00:04:05-01:00:05:12``: the source frames used, first to last inclusive."""
        last = max(self.source_in, self.source_out - 1)
        return (f"{frames_to_tc(self.source_in, self.source_rate, drop)}-"
                f"{frames_to_tc(last, self.source_rate, drop)}")

    @property
    def label(self) -> str:
        """What an editor calls the source: clip name, else file name, else reel."""
        return self.clip_name or self.source_name or self.reel or f"event {self.number}"


@dataclass(frozen=True, slots=True)
class Timeline:
    """One sequence read from a cut list."""

    name: str
    """The sequence's own name (EDL TITLE, XML/AAF sequence name)."""
    path: str
    """The cut list file it came from."""
    format: str
    """``CMX 3600 EDL``, ``Final Cut Pro 7 XML``, ``FCPXML``, ``AAF`` or ``OpenTimelineIO``."""
    rate: Fraction
    start: int = 0
    """Record start, in frames at ``rate`` (01:00:00:00 at 24 is 86400)."""
    drop_frame: bool = False
    events: tuple[Event, ...] = ()
    purpose: str = "cut"
    skipped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Items that are not source media, by kind (``black``, ``disabled``, ``nested gap``), counted."""

    def tc(self, frames: int) -> str:
        """Record timecode of a frame count at the timeline's rate."""
        return frames_to_tc(frames, self.rate, self.drop_frame)

    def to_json(self) -> str:
        """Plain JSON (exact rates as ``"24000/1001"``), for a child process or the state store."""
        def enc(value: Any) -> Any:
            if isinstance(value, Fraction):
                return f"{value.numerator}/{value.denominator}"
            if isinstance(value, Mapping):
                return {k: enc(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [enc(v) for v in value]
            return value
        data = {"name": self.name, "path": self.path, "format": self.format, "rate": self.rate,
                "start": self.start, "drop_frame": self.drop_frame, "purpose": self.purpose,
                "skipped": dict(self.skipped),
                "events": [{k: v for k, v in asdict(e).items() if v not in ("", (), None)} for e in self.events]}
        return json.dumps(enc(data), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Timeline:
        data = json.loads(text)
        events = []
        for e in data.get("events", ()):
            seq = e.get("sequence")
            events.append(Event(
                number=e["number"], track=e["track"], kind=e["kind"], record_in=e["record_in"],
                record_out=e["record_out"], source_in=e["source_in"], source_out=e["source_out"],
                source_rate=Fraction(e["source_rate"]), clip_name=e.get("clip_name", ""), reel=e.get("reel", ""),
                source_path=e.get("source_path", ""), sequence=SeqRef(**seq) if seq else None,
                scene=e.get("scene", ""), take=e.get("take", ""), speed=Fraction(e.get("speed", "1")),
                markers=tuple(e.get("markers", ()))))
        return cls(name=data["name"], path=data["path"], format=data["format"], rate=Fraction(data["rate"]),
                   start=data.get("start", 0), drop_frame=data.get("drop_frame", False), events=tuple(events),
                   purpose=data.get("purpose", "cut"), skipped=MappingProxyType(dict(data.get("skipped", {}))))


@dataclass(frozen=True, slots=True)
class Issue:
    """One conform problem in one timeline (or its cut list file), in plain words.

    It becomes a :class:`~reelwatch.core.model.Finding` on the cut list's asset with :meth:`finding`.
    """

    rule: str
    severity: Severity
    message: str
    owner: str | None
    impacts: tuple[str, ...]
    expected: str
    impact: str
    fix: str
    events: tuple[int, ...] = ()
    """Numbers of the events concerned."""
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def finding(self, asset: Asset) -> Finding:
        return Finding(rule=self.rule, severity=self.severity, asset=asset, message=self.message,
                       owner=self.owner, impacts=self.impacts, expected=self.expected, impact=self.impact,
                       fix=self.fix, plugin="timeline",
                       details=freeze({**thaw(self.details), "events": list(self.events)}))


_VERSION = re.compile(r"(?:(?<=[_.\- ])|^)[vV](\d+)(?=$|[_.\- ])")


def version_of(name: str) -> tuple[str, int | None]:
    """The line a timeline name belongs to and its version: ``AGM_104_R2_v12.edl`` is line
    ``agm_104_r2_v#`` version 12. The extension is not part of the line (an EDL and an AAF of
    one version are the same version); a name with no ``v<digits>`` is its own line, version None.
    """
    stem = name.rsplit("/", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    found = list(_VERSION.finditer(stem))
    if not found:
        return stem.casefold(), None
    m = found[-1]
    return (stem[: m.start()] + "v#" + stem[m.end():]).casefold(), int(m[1])


def purpose_of(name: str) -> str:
    """Guess from a cut list's name whether it is a VFX pull list (``..._VFX_pull_v03.edl``);
    a config entry can say so instead."""
    words = set(re.split(r"[^a-z0-9]+", name.casefold()))
    return "vfx_pull" if words & {"pull", "pulls", "pulllist", "vfxpull"} else "cut"
