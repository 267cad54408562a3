"""One problem on several copies is one finding with several locations.

A clip offloaded to the RAID and to the shuttle is the same content twice: a 25 fps clip is one
problem, not two, and each role hears about it once. When a rule raises a finding whose rule,
message and owner equal those of an open finding elsewhere, on content that looks the same (same
file name and size), the store adds a location to the open finding instead of opening a second one
(``details`` are the first's; ``data["locations"]`` lists every place). A location is dropped when
its place is judged again without the finding; the finding is resolved when its last location goes,
and moves to another location when its first one goes.

The ``finding_locations`` table holds every location of every finding (the first one included), so
that "what is open on this file" (``History.open_findings``, ``reelwatch findings --volume``) sees a
finding on each of its copies. Findings recorded before locations existed get their one location
when the store opens.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..core.model import Finding

SCHEMA = """
CREATE TABLE IF NOT EXISTS finding_locations (
    finding_id INTEGER NOT NULL, volume TEXT NOT NULL, relpath TEXT NOT NULL, scope TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '', path TEXT NOT NULL DEFAULT '', PRIMARY KEY (finding_id, volume, relpath));
CREATE INDEX IF NOT EXISTS finding_locations_at ON finding_locations (volume, relpath);
CREATE INDEX IF NOT EXISTS finding_locations_scope ON finding_locations (scope);
CREATE INDEX IF NOT EXISTS finding_locations_content ON finding_locations (content);
"""
OPEN = "('open','acked')"


def backfill(db: sqlite3.Connection) -> None:
    """Give open findings recorded before locations existed their one location."""
    db.execute("INSERT OR IGNORE INTO finding_locations (finding_id, volume, relpath, scope, path) "
               f"SELECT id, volume, relpath, scope, coalesce(json_extract(data, '$.path'), relpath) FROM findings "
               f"WHERE status IN {OPEN} AND NOT EXISTS "
               "(SELECT 1 FROM finding_locations l WHERE l.finding_id = findings.id)")


def content_key(f: Finding) -> str:
    """What makes two findings "the same content on several copies": the file name and its size. Verdicts
    (positive findings) are about a place, never merged."""
    if f.details.get("positive"):
        return ""
    return f"{f.asset.name}\x1f{f.asset.size}"


def key(rule: str, volume: str, relpath: str, message: str) -> str:
    """The identity of a finding at one location (the same as :attr:`Finding.fingerprint` at its first)."""
    return f"{rule}\x1f{volume}\x1f{relpath}\x1f{message}"


def open_at(db: sqlite3.Connection, where: str, args: Sequence[Any]) -> dict[str, tuple[sqlite3.Row, str, str]]:
    """Open findings with a location matching ``where`` (SQL over ``l`` and ``f``): location key ->
    (finding row, volume, relpath)."""
    rows = db.execute(f"SELECT f.*, l.volume AS at_volume, l.relpath AS at_relpath FROM findings f JOIN "
                      f"finding_locations l ON l.finding_id = f.id WHERE f.status IN {OPEN} AND {where}",
                      args).fetchall()
    return {key(r["rule"], r["at_volume"], r["at_relpath"], json.loads(r["data"]).get("message", "")):
            (r, r["at_volume"], r["at_relpath"]) for r in rows}


def add(db: sqlite3.Connection, finding_id: int, f: Finding, scope: str) -> None:
    db.execute("INSERT OR IGNORE INTO finding_locations VALUES (?,?,?,?,?,?)",
               (finding_id, f.asset.volume, f.asset.relpath, scope, content_key(f), f.asset.path))


def already(db: sqlite3.Connection, f: Finding) -> int | None:
    """The open finding that already has this finding at this location (raised by another batch), if any."""
    row = db.execute(f"SELECT f.id, f.data FROM findings f JOIN finding_locations l ON l.finding_id = f.id WHERE "
                     f"f.status IN {OPEN} AND f.rule=? AND l.volume=? AND l.relpath=?",
                     (f.rule, f.asset.volume, f.asset.relpath)).fetchall()
    return next((r["id"] for r in row if json.loads(r["data"]).get("message") == f.message), None)


def same_content(db: sqlite3.Connection, f: Finding, origin: str) -> int | None:
    """The open finding this one is a copy of: same rule, message, owner and origin, same content elsewhere."""
    content = content_key(f)
    if not content:
        return None
    rows = db.execute(f"SELECT DISTINCT f.id, f.data FROM findings f JOIN finding_locations l ON l.finding_id = f.id "
                      f"WHERE f.status IN {OPEN} AND f.rule=? AND f.origin=? AND f.owner IS ? AND l.content=? "
                      "ORDER BY f.id", (f.rule, origin, f.owner, content)).fetchall()
    return next((r["id"] for r in rows if json.loads(r["data"]).get("message") == f.message), None)


def _publish(db: sqlite3.Connection, finding_id: int) -> None:
    """Write the list of locations into the finding's data and into its notices not sent yet."""
    places = [{"volume": r["volume"], "relpath": r["relpath"], "path": r["path"]} for r in db.execute(
        "SELECT volume, relpath, path FROM finding_locations WHERE finding_id=? ORDER BY rowid", (finding_id,))]
    text = json.dumps(places if len(places) > 1 else [])
    db.execute("UPDATE findings SET data=json_set(data, '$.locations', json(?)) WHERE id=?", (text, finding_id))
    db.execute("UPDATE notices SET data=json_set(data, '$.locations', json(?)) WHERE finding_id=? AND "
               "message_id IS NULL", (text, finding_id))


def merge(db: sqlite3.Connection, finding_id: int, f: Finding, scope: str, now: float) -> None:
    """Add ``f``'s location to the open finding ``finding_id`` (no new notices: its roles know already)."""
    add(db, finding_id, f, scope)
    db.execute("UPDATE findings SET last_seen=? WHERE id=?", (now, finding_id))
    _publish(db, finding_id)
    db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'finding_location', ?, ?, ?)",
               (now, f.asset.volume, f.asset.relpath, json.dumps({"id": finding_id, "rule": f.rule})))


def drop(db: sqlite3.Connection, finding_id: int, volume: str, relpath: str, now: float) -> bool:
    """Remove one location of an open finding; True when it was the last (the caller resolves it)."""
    row = db.execute("SELECT * FROM findings WHERE id=?", (finding_id,)).fetchone()
    db.execute("DELETE FROM finding_locations WHERE finding_id=? AND volume=? AND relpath=?",
               (finding_id, volume, relpath))
    rest = db.execute("SELECT volume, relpath, scope, path FROM finding_locations WHERE finding_id=? ORDER BY rowid",
                      (finding_id,)).fetchall()
    if not rest:  # a resolved finding keeps where it was
        db.execute("INSERT OR IGNORE INTO finding_locations (finding_id, volume, relpath, scope, path) "
                   "VALUES (?,?,?,?,?)", (finding_id, volume, relpath, row["scope"],
                                          json.loads(row["data"]).get("path", relpath)))
        return True
    if (row["volume"], row["relpath"]) == (volume, relpath):
        first = rest[0]
        data = json.loads(row["data"])
        data.update(volume=first["volume"], relpath=first["relpath"], path=first["path"])
        db.execute("UPDATE findings SET volume=?, relpath=?, scope=?, fingerprint=?, data=? WHERE id=?",
                   (first["volume"], first["relpath"], first["scope"],
                    key(row["rule"], first["volume"], first["relpath"], data.get("message", "")),
                    json.dumps(data, default=str), finding_id))
    _publish(db, finding_id)
    db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'finding_location_gone', ?, ?, ?)",
               (now, volume, relpath, json.dumps({"id": finding_id, "rule": row["rule"]})))
    return False
