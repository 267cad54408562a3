"""A node's journal: what a node of a fleet records while the fleet's PostgreSQL is away.

An SQLite file beside the node's state (``[state] journal``; default ``<state>-journal.db``)
with the same tables. It survives restarts: a node that starts while the server is away runs on
it, and replays it once the server answers.

* **Online**, it holds a copy of the node's own volumes' asset rows (:func:`refresh`, every
  second, following the fleet's audit trail) and the fleet's salt of target ids, so that a node starting offline knows which
  files were checked already (and does not check and tell them again, on a restart or a rescan), and names targets as
  the fleet does (a message half delivered offline is finished by the fleet, target by target).
* **Offline**, the daemon's store writes to it (:meth:`~.store.Store.switch`): checks, findings,
  notices, the messages it sent, the audit trail. :func:`begin` marks when, with a token.
* **Back online**, :func:`replay` moves what happened into PostgreSQL in one transaction, under
  the fleet's write lock, and records the token there, so that a replay interrupted after its
  commit is never applied twice (:func:`reset` then only empties the journal):

  - assets and cached hashes touched offline replace the fleet's rows (they are this node's);
  - each finding is added with a new id, or, when the fleet has the same one open (the same
    fingerprint), merged into it: the fleet's status (an ack made centrally) stays;
  - a place this node judged again offline without a finding the fleet has open there loses that
    location, and the finding is resolved (and told) when it was the last: resolved meanwhile;
  - messages sent (or dead-lettered) from the journal are recorded as such with their notices:
    never sent again, by any node. Notices not sent yet go to the fleet's digests, unless the
    fleet knew the finding already (told then) or it was acked centrally (an escalation dropped);
  - the audit trail keeps each event's own time: history reads in event order (``ts``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from . import locations
from ..core.model import Severity
from .store import Store

KEY = "journal"
"""The journal's own meta row: ``{"since": ..., "token": ..., "audit": ...}`` (the last audit
row of the fleet's the copy of our assets follows)."""
FIRST_ID = 1_000_000_000
"""Findings, notices and messages recorded offline are numbered from here on (a placeholder row
holds each): a message sent offline names finding 1000000001, never one of the fleet's, and a
write meant for a row of the fleet's (a round of the outbox under way at the switch) never lands
on one of the journal's."""
OFFLINE_TABLES = ("findings", "finding_locations", "notices", "outbox", "audit")


def journal_path(config: Any) -> Path:
    """Where the journal of a node with ``config`` lives."""
    if config.state.journal:
        return Path(config.resolve(config.state.journal))
    path = Path(config.resolve(config.state.path))
    return path.with_name(f"{path.stem}-journal.db")


def mark(db: Any) -> dict[str, Any]:
    row = db.execute("SELECT value FROM meta WHERE key=?", (KEY,)).fetchone()
    return json.loads(row[0]) if row else {}


def _set_mark(db: Any, **values: Any) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (KEY, json.dumps({**mark(db), **values})))


def offline_since(db: Any) -> float | None:
    """When the node went offline, while the journal holds what happened since (else None)."""
    since = mark(db).get("since")
    return float(since) if since is not None else None


def begin(db: Any, now: float, node: str, reason: str) -> None:
    """The node goes offline now: mark the journal (kept across restarts) and say so in its trail."""
    if offline_since(db) is not None:
        return  # offline already (a restart while away): the same stretch goes on
    db.execute("BEGIN IMMEDIATE")
    try:
        _set_mark(db, since=now, token=os.urandom(8).hex(), node=node)
        # numbers of their own (see FIRST_ID)
        if (db.execute("SELECT MAX(id) FROM findings").fetchone()[0] or 0) < FIRST_ID:
            db.execute("INSERT INTO findings (id, fingerprint, origin, plugin, volume, relpath, scope, rule, severity, "
                       "roles, data, status, first_seen, last_seen) VALUES (?, '', 'journal', '', '', '', '', '', 0, "
                       "'[]', '{}', 'journal', ?, ?)", (FIRST_ID, now, now))
        if (db.execute("SELECT MAX(id) FROM outbox").fetchone()[0] or 0) < FIRST_ID:
            db.execute("INSERT INTO outbox (id, role, payload, created, state, next_at) VALUES "
                       "(?, '', '{}', ?, 'journal', ?)", (FIRST_ID, now, now))
        if (db.execute("SELECT MAX(id) FROM notices").fetchone()[0] or 0) < FIRST_ID:
            db.execute("INSERT INTO notices (id, role, kind, severity, data, created, message_id) VALUES "
                       "(?, '', 'journal', 0, '{}', ?, ?)", (FIRST_ID, now, FIRST_ID))
        db.execute("INSERT INTO audit (ts, event, detail) VALUES (?, 'state_offline', ?)",
                   (now, json.dumps({"node": node, "reason": reason})))
        # for `reelwatch status` read from the journal: this daemon runs (not replayed: see replay())
        db.execute("INSERT INTO audit (ts, event, detail) VALUES (?, 'started', ?)",
                   (now, json.dumps({"journal": True})))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def use_salt(db: Any, salt: bytes) -> None:
    """Name targets as the fleet does (the journal's outbox records them by salted id)."""
    db.execute("INSERT OR REPLACE INTO meta VALUES ('target_salt', ?)", (salt.hex(),))


def salt_of(db: Any) -> bytes:
    row = db.execute("SELECT value FROM meta WHERE key='target_salt'").fetchone()
    return bytes.fromhex(row[0]) if row else b""


def refresh(fleet: Store, db: sqlite3.Connection, volumes: list[str], salt: bytes) -> int:
    """Online: copy the asset rows of ``volumes`` into the journal: all of them the first time,
    then those the audit trail says were checked or went since the last refresh (two indexed
    queries: cheap every second). Returns the rows copied."""
    if not volumes or offline_since(db) is not None:
        return 0
    last = mark(db).get("audit")
    top = int(fleet.query("SELECT COALESCE(MAX(id), 0) FROM audit")[0][0])
    marks = ",".join("?" * len(volumes))
    if last is None or last > top:  # the first time (or another database): everything of ours
        rows = fleet.query(f"SELECT * FROM assets WHERE volume IN ({marks})", volumes)
    else:
        places = sorted({(r[0], r[1]) for r in fleet.query(
            f"SELECT volume, relpath FROM audit WHERE id>? AND id<=? AND event IN ('checked', 'gone') AND volume IN "
            f"({marks})", (last, top, *volumes))})
        rows = []
        for n in range(0, len(places), 500):
            part = places[n:n + 500]
            rows += fleet.query("SELECT * FROM assets WHERE " + " OR ".join("(volume=? AND relpath=?)" for _ in part),
                                [x for p in part for x in p])
    places = [(r["volume"], r["relpath"]) for r in rows]
    fields: list[Any] = []
    for n in range(0, len(places), 500):
        part = places[n:n + 500]
        cond = " OR ".join("(volume=? AND relpath=?)" for _ in part)
        fields += fleet.query(f"SELECT volume, relpath, name, value FROM asset_fields WHERE {cond}",
                              [x for p in part for x in p])
    db.execute("BEGIN IMMEDIATE")
    try:
        if rows:
            cols = list(rows[0].keys())
            db.executemany(f"INSERT OR REPLACE INTO assets ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                           [tuple(r) for r in rows])
            db.executemany("DELETE FROM asset_fields WHERE volume=? AND relpath=?", places)
            db.executemany("INSERT INTO asset_fields VALUES (?,?,?,?)", [tuple(f) for f in fields])
        use_salt(db, salt)
        _set_mark(db, audit=top)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(rows)


def _dict(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in row.keys()}


def _insert(db: Any, table: str, row: dict[str, Any]) -> int:
    cols = list(row)
    cur = db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                     [row[c] for c in cols])
    return int(cur.lastrowid or 0)


def _remap(text: str, ids: dict[int, int], key: str = "id") -> str:
    data = json.loads(text or "{}")
    if isinstance(data, dict) and isinstance(data.get(key), int) and data[key] in ids:
        data[key] = ids[data[key]]
    return json.dumps(data, default=str)


def replay(journal: sqlite3.Connection, fleet: Any, node: str) -> dict[str, int]:
    """Move what the journal recorded offline into the fleet's database (a
    :class:`~.pg.PgConnection`), in one transaction. Returns counts of what was moved ({} when
    this journal was replayed already)."""
    info = mark(journal)
    since, token = info.get("since"), info.get("token", "")
    if since is None:
        return {}
    done_key = f"journal:{node}:{token}"
    counts = dict.fromkeys(("assets", "findings", "merged", "resolved", "messages", "notices", "dropped",
                            "events"), 0)
    fleet.begin()  # the fleet's write lock: no other node writes meanwhile
    try:
        if fleet.execute("SELECT 1 FROM meta WHERE key=?", (done_key,)).fetchone() is not None:
            fleet.end("COMMIT")
            return {}
        assets = _assets(journal, fleet, since, counts)
        ids, known = _findings(journal, fleet, node, counts)
        _resolved_meanwhile(fleet, assets, since, set(ids.values()), node, counts)
        messages = _messages(journal, fleet, ids, known, counts)
        _trail(journal, fleet, ids, messages, counts)
        fleet.execute("INSERT INTO meta VALUES (?, ?)", (done_key, json.dumps(counts)))
        fleet.end("COMMIT")
    except BaseException:
        if fleet.in_transaction:
            fleet.end("ROLLBACK")
        raise
    return counts


def _assets(journal: sqlite3.Connection, fleet: Any, since: float, counts: dict[str, int]) -> list[Any]:
    """Assets and cached hashes this node touched offline replace the fleet's rows."""
    q = journal.execute
    assets = q("SELECT * FROM assets WHERE first_seen>=? OR checked_at>=? OR gone_at>=?",
               (since, since, since)).fetchall()
    for a in assets:
        row = _dict(a)
        cols = list(row)
        fleet.execute(f"INSERT OR REPLACE INTO assets ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                      [row[c] for c in cols])
        fleet.execute("DELETE FROM asset_fields WHERE volume=? AND relpath=?", (a["volume"], a["relpath"]))
    fleet.executemany("INSERT INTO asset_fields VALUES (?,?,?,?)", [tuple(f) for a in assets for f in q(
        "SELECT volume, relpath, name, value FROM asset_fields WHERE volume=? AND relpath=?",
        (a["volume"], a["relpath"])).fetchall()])
    fleet.executemany("INSERT OR REPLACE INTO hashes VALUES (?,?,?,?,?,?)",
                      [tuple(h) for h in q("SELECT * FROM hashes WHERE hashed_at>=?", (since,)).fetchall()])
    counts["assets"] = len(assets)
    return assets


def _findings(journal: sqlite3.Connection, fleet: Any, node: str,
              counts: dict[str, int]) -> tuple[dict[int, int], dict[int, str]]:
    """New findings get ids of the fleet's; the same one open in the fleet is merged into it.
    Returns (journal id -> fleet id, journal id -> the fleet's status of one it knew already)."""
    ids: dict[int, int] = {}
    known: dict[int, str] = {}
    for f in journal.execute("SELECT * FROM findings WHERE status!='journal' ORDER BY id").fetchall():
        twin = fleet.execute("SELECT id, status FROM findings WHERE fingerprint=? AND status IN ('open','acked') "
                             "ORDER BY id", (f["fingerprint"],)).fetchone()
        if twin is not None:
            ids[f["id"]], known[f["id"]] = twin["id"], twin["status"]
            fleet.execute("UPDATE findings SET last_seen=? WHERE id=? AND last_seen<?",
                          (f["last_seen"], twin["id"], f["last_seen"]))
            counts["merged"] += 1
            continue
        row = {k: f[k] for k in f.keys() if k != "id"}
        data = json.loads(row["data"])
        data["journal"] = {"node": node, "id": f["id"]}  # the number messages sent offline gave it
        row["data"] = json.dumps(data, default=str)
        ids[f["id"]] = _insert(fleet, "findings", row)
        for loc in journal.execute("SELECT volume, relpath, scope, content, path FROM finding_locations WHERE "
                                   "finding_id=? ORDER BY rowid", (f["id"],)).fetchall():
            fleet.execute("INSERT OR IGNORE INTO finding_locations (finding_id, volume, relpath, scope, content, "
                          "path) VALUES (?,?,?,?,?,?)", (ids[f["id"]], *tuple(loc)))
        counts["findings"] += 1
    return ids, known


def _resolved_meanwhile(fleet: Any, assets: list[Any], since: float, mine: set[int], node: str,
                        counts: dict[str, int]) -> None:
    """A place judged again offline without a finding the fleet has open there loses that
    location; the finding is resolved (and its roles told) when it was the last."""
    for a in assets:
        if a["checked_at"] is None or a["checked_at"] < since:
            continue
        for r in fleet.execute(f"SELECT f.id, f.roles, f.data FROM findings f JOIN finding_locations l ON "
                               f"l.finding_id=f.id WHERE f.status IN {locations.OPEN} AND f.origin='check' AND "
                               "l.volume=? AND l.relpath=?", (a["volume"], a["relpath"])).fetchall():
            if r["id"] in mine or not locations.drop(fleet, r["id"], a["volume"], a["relpath"], a["checked_at"]):
                continue
            fleet.execute("UPDATE findings SET status='resolved', resolved_at=? WHERE id=?", (a["checked_at"], r["id"]))
            data = json.loads(r["data"])
            data["id"] = r["id"]
            fleet.executemany("INSERT INTO notices (role, kind, finding_id, severity, data, created) VALUES "
                              "(?,?,?,?,?,?)", [(role, "resolved", r["id"], int(Severity.INFO),
                                                 json.dumps(data, default=str), a["checked_at"])
                                                for role in json.loads(r["roles"])])
            fleet.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'resolved', ?, ?, ?)",
                          (a["checked_at"], a["volume"], a["relpath"], json.dumps({"id": r["id"], "offline": node})))
            counts["resolved"] += 1


def _messages(journal: sqlite3.Connection, fleet: Any, ids: dict[int, int], known: dict[int, str],
              counts: dict[str, int]) -> dict[int, int]:
    """Messages sent (or dead-lettered, or half sent) from the journal are recorded with their
    notices; a digest not sent at all gives its notices back to the fleet's digests, except those
    the fleet told already or that were acked centrally. Returns journal id -> fleet id."""
    messages: dict[int, int] = {}
    for m in journal.execute("SELECT * FROM outbox WHERE state!='journal' ORDER BY id").fetchall():
        unsent = m["state"] == "pending" and m["delivered"] in ("[]", "", None)
        if unsent and json.loads(m["payload"]).get("notices"):
            continue
        row = {k: m[k] for k in m.keys() if k not in ("id", "claimed_by", "lease_until", "sending")}
        messages[m["id"]] = _insert(fleet, "outbox", row)
        counts["messages"] += 1
        # a digest of the fleet's own notices written here (the switch came between its read and its
        # write): those notices were told by this message
        for told in json.loads(m["payload"]).get("notices") or ():
            fid = (told.get("finding") or {}).get("id")
            if isinstance(fid, int) and fid < FIRST_ID:
                fleet.execute("UPDATE notices SET message_id=? WHERE message_id IS NULL AND role=? AND kind=? AND "
                              "finding_id=?", (messages[m["id"]], m["role"], told.get("kind"), fid))
    for n in journal.execute("SELECT * FROM notices WHERE kind!='journal' ORDER BY id").fetchall():
        fid = ids.get(n["finding_id"]) if n["finding_id"] is not None else None
        message = messages.get(n["message_id"]) if n["message_id"] is not None else None
        status = known.get(n["finding_id"])
        if message is None and status is not None and (n["kind"] == "new" or status == "acked"):
            counts["dropped"] += 1  # the fleet told it already, or it was acked centrally meanwhile
            continue
        fleet.execute("INSERT INTO notices (role, kind, finding_id, severity, data, created, message_id) "
                      "VALUES (?,?,?,?,?,?,?)", (n["role"], n["kind"], fid, n["severity"], _remap(n["data"], ids),
                                                 n["created"], message))
        counts["notices"] += 1
    return messages


def _trail(journal: sqlite3.Connection, fleet: Any, ids: dict[int, int], messages: dict[int, int],
           counts: dict[str, int]) -> None:
    """The audit trail, each event at its own time (history reads ``ORDER BY ts``)."""
    for e in journal.execute("SELECT * FROM audit ORDER BY id").fetchall():
        detail = e["detail"] or "{}"
        if e["event"] == "started" and json.loads(detail).get("journal"):
            continue  # written for `status` read from the journal, not an event
        detail = _remap(_remap(detail, ids), messages, "message")
        fleet.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?,?,?,?,?)",
                      (e["ts"], e["event"], e["volume"], e["relpath"], detail))
        counts["events"] += 1


def reset(db: sqlite3.Connection) -> None:
    """After a replay: empty what was replayed; the copy of the node's assets stays."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for table in OFFLINE_TABLES:
            db.execute(f"DELETE FROM {table}")  # noqa: S608  (our table names)
        info = mark(db)
        info.pop("since", None)
        info.pop("token", None)
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (KEY, json.dumps(info)))
        db.execute("DELETE FROM meta WHERE key='daemon'")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
