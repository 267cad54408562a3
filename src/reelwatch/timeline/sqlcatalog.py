"""The tables a state store needs for timelines, and the code that reads and writes them.

This is the reference for wiring: the store runs :data:`SCHEMA` in its own migration, calls
:meth:`SqlCatalog.put` in the transaction that commits a check, :meth:`SqlCatalog.set_present`
where it marks an asset gone or back, and hands :class:`SqlCatalog` to
:func:`~.match.match_timeline`. Every lookup is one probe of the ``clip_keys`` primary key
(``EXPLAIN QUERY PLAN`` says ``SEARCH ... USING PRIMARY KEY``); nothing scans ``clips``.
Only the standard library's sqlite3 is used; the connection belongs to the caller.

:class:`SqlTimelines` keeps the timelines themselves (:data:`TIMELINE_SCHEMA`): which version
of a cut is current, which events use which clip, and which events wait for media.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .catalog import Clip, Span, keys_for, sequence_key
from .impact import Use, display_name, shot_of
from .match import Match, wanted_keys
from .names import REEL_LIMIT, key, scene_take_key
from .values import Timeline, version_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    id INTEGER PRIMARY KEY, volume TEXT NOT NULL, relpath TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
    present INTEGER NOT NULL DEFAULT 1, kind TEXT NOT NULL, rate TEXT, start INTEGER, duration INTEGER,
    reels TEXT NOT NULL DEFAULT '[]', clip_name TEXT NOT NULL DEFAULT '', scene TEXT NOT NULL DEFAULT '',
    take TEXT NOT NULL DEFAULT '', roll TEXT NOT NULL DEFAULT '', first_frame INTEGER, last_frame INTEGER,
    tc_in REAL, tc_out REAL, UNIQUE (volume, relpath));
CREATE TABLE IF NOT EXISTS clip_keys (
    kind TEXT NOT NULL, key TEXT NOT NULL, clip INTEGER NOT NULL, PRIMARY KEY (kind, key, clip)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS clip_keys_clip ON clip_keys (clip);
"""
"""``clips``: one row per asset matching can use (:class:`~.catalog.Clip`); ``clip_keys``: its
lookup keys (:func:`~.catalog.keys_for`), the only table lookups read by key. Keys point at the
clip's integer id: a million clips with about seven keys each take about half the space they
would with (volume, relpath) in every key row."""

_COLUMNS = ("volume", "relpath", "name", "size", "present", "kind", "rate", "start", "duration", "reels",
            "clip_name", "scene", "take", "roll", "first_frame", "last_frame")
_SELECT = ("SELECT " + ", ".join(f"c.{c}" for c in _COLUMNS) +
           " FROM clip_keys k JOIN clips c ON c.id = k.clip WHERE k.kind = ? AND k.key = ?")
_NEAR = " AND (c.tc_in IS NULL OR (c.tc_in <= ? AND c.tc_out >= ?))"
_STORED = (*_COLUMNS, "tc_in", "tc_out")
_UPSERT = (f"INSERT INTO clips ({', '.join(_STORED)}) VALUES ({', '.join('?' * len(_STORED))}) "
           "ON CONFLICT (volume, relpath) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _STORED[2:]))
MARGIN = 1.0
"""Seconds of timecode a ``near`` query keeps on either side (float rounding is far smaller):
the exact judgement is :func:`~.match.fit`'s, in integers."""
_ID = "(SELECT id FROM clips WHERE volume = ? AND relpath = ?)"


def _row(clip: Clip) -> tuple[object, ...]:
    rate = f"{clip.rate.numerator}/{clip.rate.denominator}" if clip.rate else None
    first, last = clip.frames or (None, None)
    span = clip.span()
    tc_in, tc_out = (float(span[0]), float(span[1])) if span else (None, None)
    return (clip.volume, clip.relpath, clip.name, clip.size, int(clip.present), clip.kind, rate, clip.start,
            clip.duration, json.dumps(list(clip.reels)), clip.clip_name, clip.scene, clip.take, clip.roll, first, last,
            tc_in, tc_out)


def _clip(row: tuple, rates: dict[str, Fraction]) -> Clip:  # type: ignore[type-arg]
    (volume, relpath, name, size, present, kind, rate, start, duration, reels, clip_name, scene, take, roll,
     first, last) = row
    if rate and rate not in rates:
        rates[rate] = Fraction(rate)
    return Clip(volume=volume, relpath=relpath, name=name, size=size, present=bool(present), kind=kind,
                rate=rates[rate] if rate else None, start=start, duration=duration,
                reels=tuple(json.loads(reels)) if reels != "[]" else (), clip_name=clip_name, scene=scene,
                take=take, roll=roll, frames=None if first is None else (first, last))


class SqlCatalog:
    """A :class:`~.catalog.Catalog` over :data:`SCHEMA` in a caller's SQLite connection."""

    def __init__(self, db: sqlite3.Connection, *, create: bool = False) -> None:
        self.db = db
        self._rates: dict[str, Fraction] = {}  # a handful of distinct rates: parse each once
        if create:
            db.executescript(SCHEMA)

    def put(self, clip: Clip) -> None:
        """Insert or replace a clip and its keys (inside the caller's transaction)."""
        self.put_many((clip,))

    def put_many(self, clips: Iterable[Clip]) -> None:
        rows, keys, idents = [], [], []
        for clip in clips:
            rows.append(_row(clip))
            idents.append((clip.volume, clip.relpath))
            keys.extend((kind, k, clip.volume, clip.relpath) for kind, k in keys_for(clip))
        self.db.executemany(f"DELETE FROM clip_keys WHERE clip = {_ID}", idents)
        self.db.executemany(_UPSERT, rows)  # an update keeps the clip's id
        self.db.executemany("INSERT OR IGNORE INTO clip_keys SELECT ?, ?, id FROM clips "
                            "WHERE volume = ? AND relpath = ?", keys)

    def remove(self, volume: str, relpath: str) -> None:
        self.db.execute(f"DELETE FROM clip_keys WHERE clip = {_ID}", (volume, relpath))
        self.db.execute("DELETE FROM clips WHERE volume = ? AND relpath = ?", (volume, relpath))

    def set_present(self, volume: str, relpath: str, present: bool) -> None:
        """An asset gone (or back), or its volume unmounted (or mounted again)."""
        self.db.execute("UPDATE clips SET present = ? WHERE volume = ? AND relpath = ?",
                        (int(present), volume, relpath))

    def _get(self, kind: str, k: str, near: Span | None = None) -> list[Clip]:
        if near is None:
            rows = self.db.execute(_SELECT, (kind, k))
        else:
            rows = self.db.execute(_SELECT + _NEAR, (kind, k, float(near[1]) + MARGIN, float(near[0]) - MARGIN))
        return [_clip(r, self._rates) for r in rows]

    def by_name(self, name: str) -> list[Clip]:
        return self._get("name", key(name))

    def by_stem(self, stem: str) -> list[Clip]:
        return self._get("stem", key(stem))

    def by_clip_name(self, name: str) -> list[Clip]:
        return self._get("clip", key(name))

    def by_reel(self, reel: str, near: Span | None = None) -> list[Clip]:
        found = self._get("reel", key(reel), near)
        if len(reel.strip()) == REEL_LIMIT:
            seen = {(c.volume, c.relpath) for c in found}
            found += [c for c in self._get("reel8", key(reel), near) if (c.volume, c.relpath) not in seen]
        return found

    def by_sequence(self, base: str, ext: str) -> list[Clip]:
        return self._get("seq", sequence_key(base, ext))

    def by_scene_take(self, scene: str, take: str, near: Span | None = None) -> list[Clip]:
        return self._get("scene_take", scene_take_key(scene, take), near)


TIMELINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS timelines (
    id INTEGER PRIMARY KEY, volume TEXT NOT NULL, relpath TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0,
    line TEXT NOT NULL, version INTEGER, name TEXT NOT NULL, purpose TEXT NOT NULL, data TEXT NOT NULL,
    current INTEGER NOT NULL DEFAULT 1, read_at REAL NOT NULL, UNIQUE (volume, relpath, seq));
CREATE INDEX IF NOT EXISTS timelines_line ON timelines (line, current);
CREATE TABLE IF NOT EXISTS timeline_uses (
    timeline INTEGER NOT NULL, event INTEGER NOT NULL, volume TEXT NOT NULL, relpath TEXT NOT NULL,
    method TEXT NOT NULL, record_in TEXT NOT NULL, shot TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (timeline, event, volume, relpath)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timeline_uses_asset ON timeline_uses (volume, relpath);
CREATE TABLE IF NOT EXISTS timeline_wants (
    kind TEXT NOT NULL, key TEXT NOT NULL, timeline INTEGER NOT NULL, event INTEGER NOT NULL,
    PRIMARY KEY (kind, key, timeline, event)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timeline_wants_timeline ON timeline_wants (timeline);
"""
"""``timelines``: every sequence read from a cut list file, by version line (only the latest
version of a line is ``current``); ``timeline_uses``: matched events by clip, so a finding on a
clip finds its events at once; ``timeline_wants``: the lookup keys of events that are unmatched
or ambiguous (and the name keys of events matched only by reel or take), so a new clip finds the
events waiting for it."""


WEAK = ("reel", "scene and take")
"""Match methods that a clip carrying the event's file or clip name, arriving later, overrides."""
NAMED = ("name", "stem", "clip", "seq")


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing a timeline did: its id, whether it is the current version of its line, and
    the ids of the versions it replaced."""

    id: int
    current: bool
    replaced: tuple[int, ...] = ()


class SqlTimelines:
    """Timelines, their uses of clips and their waiting events in a caller's SQLite connection
    (:data:`TIMELINE_SCHEMA`); every call runs inside the caller's transaction."""

    def __init__(self, db: sqlite3.Connection, *, create: bool = False) -> None:
        self.db = db
        if create:
            db.executescript(TIMELINE_SCHEMA)

    def put(self, volume: str, relpath: str, timeline: Timeline, matches: Sequence[Match], *, seq: int = 0,
            now: float = 0.0, shot_pattern: str | None = None) -> Stored:
        """Store one sequence of a cut list and its matches. A later version of the line (by file
        name) replaces the current one; an older version arriving late is kept but not current."""
        line, version = version_of(relpath.rsplit("/", 1)[-1])
        rows = self.db.execute("SELECT id, version, volume, relpath, seq FROM timelines "
                               "WHERE line = ? AND current = 1", (line,)).fetchall()
        others = [r for r in rows if (r[2], r[3], r[4]) != (volume, relpath, seq)]
        newer = [r for r in others if version is not None and r[1] is not None and r[1] > version]
        replaced = tuple(r[0] for r in others if not newer and (version is None or r[1] is None or r[1] < version))
        if replaced:
            self.db.executemany("UPDATE timelines SET current = 0 WHERE id = ?", [(i,) for i in replaced])
        self.db.execute(
            "INSERT INTO timelines (volume, relpath, seq, line, version, name, purpose, data, current, read_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (volume, relpath, seq) DO UPDATE SET "
            "line = excluded.line, version = excluded.version, name = excluded.name, purpose = excluded.purpose, "
            "data = excluded.data, current = excluded.current, read_at = excluded.read_at",
            (volume, relpath, seq, line, version, display_name(timeline), timeline.purpose, timeline.to_json(),
             int(not newer), now))
        (tid,) = self.db.execute("SELECT id FROM timelines WHERE volume = ? AND relpath = ? AND seq = ?",
                                 (volume, relpath, seq)).fetchone()
        self.rematched(tid, timeline, matches, shot_pattern=shot_pattern, replace_all=True)
        return Stored(tid, not newer, replaced)

    def rematched(self, tid: int, timeline: Timeline, matches: Sequence[Match], *, shot_pattern: str | None = None,
                  replace_all: bool = False) -> None:
        """Record (new) matches of some or all events of a stored timeline."""
        if replace_all:
            self.db.execute("DELETE FROM timeline_uses WHERE timeline = ?", (tid,))
            self.db.execute("DELETE FROM timeline_wants WHERE timeline = ?", (tid,))
        else:
            numbers = [(tid, m.event.number) for m in matches]
            self.db.executemany("DELETE FROM timeline_uses WHERE timeline = ? AND event = ?", numbers)
            self.db.executemany("DELETE FROM timeline_wants WHERE timeline = ? AND event = ?", numbers)
        uses, wants = [], []
        for m in matches:
            if m.status == "matched":
                shot = shot_of(m.event, shot_pattern) if timeline.purpose == "vfx_pull" else ""
                uses += [(tid, m.event.number, c.volume, c.relpath, m.method, timeline.tc(m.event.record_in), shot)
                         for c in m.clips]
                if m.method.startswith(WEAK):  # a clip by the name the cut list gives would take over
                    wants += [(kind, k, tid, m.event.number) for kind, k in wanted_keys(m.event) if kind in NAMED]
            else:
                wants += [(kind, k, tid, m.event.number) for kind, k in wanted_keys(m.event)]
        self.db.executemany("INSERT OR REPLACE INTO timeline_uses VALUES (?, ?, ?, ?, ?, ?, ?)", uses)
        self.db.executemany("INSERT OR IGNORE INTO timeline_wants VALUES (?, ?, ?, ?)", wants)

    def timeline(self, tid: int) -> Timeline:
        (data,) = self.db.execute("SELECT data FROM timelines WHERE id = ?", (tid,)).fetchone()
        return Timeline.from_json(data)

    def remove(self, volume: str, relpath: str) -> None:
        """The cut list file itself has gone: its timelines go with it."""
        ids = [(r[0],) for r in self.db.execute("SELECT id FROM timelines WHERE volume = ? AND relpath = ?",
                                                (volume, relpath))]
        for table, col in (("timeline_uses", "timeline"), ("timeline_wants", "timeline"), ("timelines", "id")):
            self.db.executemany(f"DELETE FROM {table} WHERE {col} = ?", ids)

    def uses(self, volume: str, relpath: str) -> list[Use]:
        """Events of current timelines that use this clip (one indexed probe)."""
        rows = self.db.execute(
            "SELECT t.name, t.purpose, u.record_in, u.shot, u.event FROM timeline_uses u JOIN timelines t "
            "ON t.id = u.timeline WHERE u.volume = ? AND u.relpath = ? AND t.current = 1 ORDER BY t.name, u.event",
            (volume, relpath))
        return [Use(*r) for r in rows]

    def waiting_for(self, clip: Clip) -> dict[int, list[int]]:
        """Current timeline id -> numbers of its unmatched or ambiguous events that this clip
        could match (its :func:`~.catalog.keys_for` against the events' wanted keys)."""
        out: dict[int, list[int]] = {}
        for kind, k in keys_for(clip):  # a handful of keys, each one probe of the primary key
            for tid, event in self.db.execute(
                    "SELECT w.timeline, w.event FROM timeline_wants w JOIN timelines t ON t.id = w.timeline "
                    "WHERE w.kind = ? AND w.key = ? AND t.current = 1", (kind, k)):
                if event not in out.setdefault(tid, []):
                    out[tid].append(event)
        return out
