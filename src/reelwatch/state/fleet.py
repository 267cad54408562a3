"""Several nodes, one state: who holds what, and which nodes there are.

A production's nodes (DIT carts, the lab's shuttle station, NAS heads) share one PostgreSQL
state (``[state] url``); with SQLite there is one node and every claim here is simply granted.

* **Messages** are claimed one at a time with a lease (:func:`claim_message`): in PostgreSQL
  with ``FOR UPDATE SKIP LOCKED``, so that a node never waits on another's message. The node
  that holds it renews the lease before each target (:func:`renew_message`); a node killed
  mid-send leaves it, and once the lease has run out another node claims it and sends it, with
  the same idempotency key and, to the target that was being sent to, marked as a possible
  repeat (the ``sending`` column says which).
* **Digesting** (escalations, verdicts, per-role digests) is done by one node at a time, the
  holder of the ``digest`` lease (:func:`hold`), so each role gets one digest for the fleet.
* **Nodes** register and beat (:func:`register`, :func:`beat`); :func:`nodes` is what ``status``
  shows, with each node's age since its last beat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .store import Store

STALE_AFTER = 3
"""A node is shown as not heard from after this many heartbeat intervals without a beat."""


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    host: str
    volumes: tuple[str, ...]
    version: str
    pid: int | None
    started: float
    heartbeat: float
    health: str
    detail: str


def claim_message(store: Store, msg_id: int, node: str, lease: float, now: float) -> Any | None:
    """Take message ``msg_id`` for ``lease`` seconds if it is still pending and nobody else holds
    a live lease on it; the row as it is now (None: not ours to send)."""
    free = "state='pending' AND (claimed_by IS NULL OR claimed_by=? OR lease_until<?)"
    pg = store.backend == "postgresql"
    with store.tx(shared=True) if pg else store.tx() as db:
        if pg:  # a row another node is claiming right now is skipped, not waited for
            got = db.execute(f"SELECT id FROM outbox WHERE id=? AND {free} FOR UPDATE SKIP LOCKED",
                             (msg_id, node, now)).fetchone()
            if got is None:
                return None
        cur = db.execute(f"UPDATE outbox SET claimed_by=?, lease_until=? WHERE id=? AND {free}",
                         (node, now + lease, msg_id, node, now))
        if cur.rowcount != 1:
            return None
        return db.execute("SELECT * FROM outbox WHERE id=?", (msg_id,)).fetchone()


def renew_message(db: Any, msg_id: int, node: str, lease_until: float) -> bool:
    """In the caller's transaction: extend our lease; False when another node took it over."""
    cur = db.execute("UPDATE outbox SET lease_until=? WHERE id=? AND claimed_by=? AND state='pending'",
                     (lease_until, msg_id, node))
    return bool(cur.rowcount == 1)


def hold(store: Store, name: str, node: str, lease: float, now: float) -> bool:
    """Hold the fleet-wide lease ``name`` for ``lease`` seconds (renewed by its holder); True
    when this node holds it now."""
    key = f"lease:{name}"
    with store.tx() as db:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is not None:
            held = json.loads(row[0])
            if held.get("node") != node and held.get("until", 0) >= now:
                return False
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps({"node": node, "until": now + lease})))
    return True


def register(store: Store, name: str, host: str, volumes: list[str], version: str, pid: int, now: float) -> None:
    """Record this node (again, at each start or reload)."""
    with store.tx() as db:
        db.execute("INSERT OR REPLACE INTO nodes (name, host, volumes, version, pid, started, heartbeat, health, "
                   "detail) VALUES (?,?,?,?,?,?,?,?,?)",
                   (name, host, json.dumps(sorted(volumes)), version, pid, now, now, "ok", ""))


def beat(store: Store, name: str, health: str, detail: str, now: float) -> None:
    with store.tx() as db:
        db.execute("UPDATE nodes SET heartbeat=?, health=?, detail=? WHERE name=?", (now, health, detail, name))


def leave(store: Store, name: str, now: float) -> None:
    """A node stopping on purpose says so (it is not "not heard from"), and lets go of the fleet-wide
    leases it holds: another node digests at once (a retraction waits for nobody), not ``lease``
    seconds later."""
    with store.tx() as db:
        db.execute("UPDATE nodes SET heartbeat=?, health='stopped' WHERE name=?", (now, name))
        for row in db.execute("SELECT key, value FROM meta WHERE key LIKE 'lease:%'").fetchall():
            if json.loads(row[1]).get("node") == name:
                db.execute("DELETE FROM meta WHERE key=?", (row[0],))


def nodes(store: Store) -> list[Node]:
    try:
        rows = store.query("SELECT * FROM nodes ORDER BY name")
    except Exception:  # noqa: BLE001  a database from before nodes were recorded: no fleet to show
        return []
    return [Node(name=r["name"], host=r["host"], volumes=tuple(json.loads(r["volumes"])), version=r["version"],
                 pid=r["pid"], started=r["started"], heartbeat=r["heartbeat"], health=r["health"],
                 detail=r["detail"]) for r in rows]
