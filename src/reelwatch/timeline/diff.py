"""Versions of a timeline: which one is current, and what changed between two.

Cut lists are versioned by name like other deliveries: ``AGM_104_R2_v12`` replaces
``AGM_104_R2_v11`` (:func:`~.values.version_of`). Events are renumbered by every re-export,
so two versions are compared by what each event uses: the same source (file, clip or reel)
with the same source range is the same shot, moved if its record time changed; the same
source with an overlapping range is a trim; everything else was added or removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .names import clip_names, key, path_name
from .values import Event, Timeline, version_of


def supersedes(new: str, old: str) -> bool:
    """Whether cut list ``new`` is a later version of the same line as ``old``."""
    (nline, nver), (oline, over) = version_of(new), version_of(old)
    return nline == oline and nver is not None and over is not None and nver > over


def current(names: Iterable[str]) -> dict[str, str]:
    """The latest version of each line among these cut list names: line -> name."""
    best: dict[str, tuple[int, str]] = {}
    for name in names:
        line, ver = version_of(name)
        v = -1 if ver is None else ver
        if line not in best or v > best[line][0]:
            best[line] = (v, name)
    return {line: name for line, (_, name) in best.items()}


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    """``added``, ``removed``, ``moved`` (same source range, another record time) or ``trimmed``."""
    old: Event | None
    new: Event | None
    what: str


@dataclass(frozen=True, slots=True)
class Diff:
    old: str
    new: str
    changes: tuple[Change, ...]
    unchanged: int

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def text(self) -> str:
        counts = [f"{self.count(k)} {k}" for k in ("added", "removed", "trimmed", "moved") if self.count(k)]
        body = ", ".join(counts) if counts else "no change in events"
        return f"{self.new} against {self.old}: {body}; {self.unchanged} unchanged"


def _source(event: Event) -> tuple[str, str]:
    if event.source_path:
        name = path_name(event.source_path)
    elif event.clip_name:
        name = clip_names(event.clip_name)[-1]
    else:
        name = event.reel
    return event.kind, key(name)


def diff(old: Timeline, new: Timeline) -> Diff:
    """Events added, removed, moved and trimmed from ``old`` to ``new``."""
    left = {e.number: e for e in old.events}
    right = {e.number: e for e in new.events}
    changes: list[Change] = []
    unchanged = 0

    def pair(keyf, on_pair) -> None:  # type: ignore[no-untyped-def]
        pool: dict[object, list[Event]] = {}
        for e in sorted(left.values(), key=lambda e: e.record_in):
            pool.setdefault(keyf(e), []).append(e)
        for e in sorted(right.values(), key=lambda e: e.record_in):
            bucket = pool.get(keyf(e))
            if bucket:
                o = bucket.pop(0)
                del left[o.number], right[e.number]
                on_pair(o, e)

    def same(o: Event, n: Event) -> None:
        nonlocal unchanged
        unchanged += 1

    def moved(o: Event, n: Event) -> None:
        changes.append(Change("moved", o, n, f"{n.label}: record {old.tc(o.record_in)} became {new.tc(n.record_in)}"))

    pair(lambda e: (_source(e), e.source_in, e.source_out, e.record_in, e.record_out), same)
    pair(lambda e: (_source(e), e.source_in, e.source_out), moved)
    # trims: same source, overlapping source ranges, nearest record time first
    by_source: dict[tuple[str, str], list[Event]] = {}
    for e in sorted(left.values(), key=lambda e: e.record_in):
        by_source.setdefault(_source(e), []).append(e)
    for n in sorted(right.values(), key=lambda e: e.record_in):
        cands = [o for o in by_source.get(_source(n), ()) if o.number in left
                 and o.source_in < n.source_out and n.source_in < o.source_out]
        if not cands:
            continue
        o = min(cands, key=lambda o: abs(o.record_in - n.record_in))
        del left[o.number], right[n.number]
        changes.append(Change("trimmed", o, n, f"{n.label}: source {o.source_tc()} became {n.source_tc()}, "
                                                f"record {old.tc(o.record_in)} became {new.tc(n.record_in)}"))
    for o in left.values():
        changes.append(Change("removed", o, None,
                              f"{o.label} at record {old.tc(o.record_in)} (source {o.source_tc()})"))
    for n in right.values():
        changes.append(Change("added", None, n, f"{n.label} at record {new.tc(n.record_in)} (source {n.source_tc()})"))
    order = {"added": 0, "removed": 1, "trimmed": 2, "moved": 3}
    changes.sort(key=lambda c: (order[c.kind], (c.new or c.old).record_in if (c.new or c.old) else 0))
    return Diff(old.path.replace("\\", "/").rsplit("/", 1)[-1], new.path.replace("\\", "/").rsplit("/", 1)[-1],
                tuple(changes), unchanged)
