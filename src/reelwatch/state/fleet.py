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
* **Retiring** a node (a cart gone back to the rental house: :func:`retire`) is a value of the
  ``health`` column, ``retired``, not a table or a column of its own: the row stays (the node's
  name in the audit trail, its checks and copies still mean something), health readers simply
  leave it out, and a reelwatch without this knowledge shows the row as it showed any silent
  node. A retired node that starts or beats again is active again (:func:`register` and
  :func:`beat` say so): a guard that runs is never hidden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .store import Store

STALE_AFTER = 3
"""A node is shown as not heard from after this many heartbeat intervals without a beat."""
RETIRED = "retired"
"""The ``health`` of a node taken out of the fleet on purpose (``reelwatch fleet retire``)."""


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


def register(store: Store, name: str, host: str, volumes: list[str], version: str, pid: int, now: float) -> str | None:
    """Record this node (again, at each start or reload). Returns its health as it was recorded
    before (None: a new node); ``retired``: it is active again, and the audit trail says so."""
    with store.tx() as db:
        row = db.execute("SELECT health FROM nodes WHERE name=?", (name,)).fetchone()
        db.execute("INSERT OR REPLACE INTO nodes (name, host, volumes, version, pid, started, heartbeat, health, "
                   "detail) VALUES (?,?,?,?,?,?,?,?,?)",
                   (name, host, json.dumps(sorted(volumes)), version, pid, now, now, "ok", ""))
        if row is not None and row[0] == RETIRED:
            _audit(db, now, "node_reactivated", node=name, host=host, how="started")
    return row[0] if row is not None else None


def beat(store: Store, name: str, health: str, detail: str, now: float) -> bool:
    """This node is alive. True when it had been retired meanwhile (retired while it ran, with
    ``--force``): it is active again from this beat on, and the audit trail says so."""
    with store.tx() as db:
        row = db.execute("SELECT health FROM nodes WHERE name=?", (name,)).fetchone()
        db.execute("UPDATE nodes SET heartbeat=?, health=?, detail=? WHERE name=?", (now, health, detail, name))
        back = row is not None and row[0] == RETIRED
        if back:
            _audit(db, now, "node_reactivated", node=name, how="still running")
    return back


def leave(store: Store, name: str, now: float) -> None:
    """A node stopping on purpose says so (it is not "not heard from"), and lets go of the fleet-wide
    leases it holds: another node digests at once (a retraction waits for nobody), not ``lease``
    seconds later. A node retired while it ran stays retired."""
    with store.tx() as db:
        db.execute("UPDATE nodes SET heartbeat=?, health=CASE WHEN health=? THEN health ELSE 'stopped' END "
                   "WHERE name=?", (now, RETIRED, name))
        _let_go(db, name)


def _let_go(db: Any, name: str) -> None:
    for row in db.execute("SELECT key, value FROM meta WHERE key LIKE 'lease:%'").fetchall():
        if json.loads(row[1]).get("node") == name:
            db.execute("DELETE FROM meta WHERE key=?", (row[0],))


def _audit(db: Any, now: float, event: str, **detail: Any) -> None:
    db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?,?,?,?,?)",
               (now, event, None, None, json.dumps(detail, default=str)))


@dataclass(frozen=True, slots=True)
class Retired:
    """What :func:`retire` did: the node as it was, and how many claims it let go."""

    before: Node
    claims: int


def retire(store: Store, name: str, by: str, now: float, forced: bool = False) -> Retired | None:
    """Take ``name`` out of the fleet's health (its row, checks and audit entries stay): its
    claims on shared files and its fleet-wide leases are let go at once, so other nodes check
    those files now rather than when the leases run out. Audited with who and when. None: no
    such node. Whether it may be retired (a fresh heartbeat) is the caller's judgement."""
    with store.tx() as db:
        row = db.execute("SELECT * FROM nodes WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        before = _node(row)
        if before.health == RETIRED:
            return Retired(before, 0)
        db.execute("UPDATE nodes SET health=?, detail=? WHERE name=?", (RETIRED, f"retired by {by}", name))
        gone = db.execute("DELETE FROM claims WHERE node=?", (name,)).rowcount
        _let_go(db, name)
        _audit(db, now, "node_retired", node=name, by=by, forced=forced, host=before.host,
               last_heartbeat=before.heartbeat, last_health=before.health, claims_let_go=gone)
    return Retired(before, int(gone))


def retirements(store: Store) -> dict[str, dict[str, Any]]:
    """The last retirement of each node, from the audit trail: ``{node: {"at", "by", "forced"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for r in store.query("SELECT ts, detail FROM audit WHERE event='node_retired' ORDER BY ts, id"):
        d = json.loads(r[1])
        out[d.get("node", "")] = {"at": r[0], "by": d.get("by"), "forced": bool(d.get("forced"))}
    return out


@dataclass(frozen=True, slots=True)
class Holding:
    """The claims one node holds now on shared files: how many, the oldest, the lease that runs out last."""

    files: int
    oldest: float
    lease_until: float
    expired: int
    """How many of them have a lease that has run out already (not taken over yet)."""


def holdings(store: Store, now: float, volumes: list[str] | None = None) -> dict[str, Holding]:
    """Claims by node (on ``volumes`` only, when given). Empty for a state without claims."""
    try:
        rows = store.query("SELECT node, volume, claimed_at, lease_until FROM claims")
    except Exception:  # noqa: BLE001  a database from before claims were recorded
        return {}
    got: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        if volumes is None or r[1] in volumes:
            got.setdefault(r[0], []).append((r[2], r[3]))
    return {n: Holding(len(v), min(c for c, _ in v), max(u for _, u in v), sum(1 for _, u in v if u < now))
            for n, v in got.items()}


def _node(r: Any) -> Node:
    return Node(name=r["name"], host=r["host"], volumes=tuple(json.loads(r["volumes"])), version=r["version"],
                pid=r["pid"], started=r["started"], heartbeat=r["heartbeat"], health=r["health"], detail=r["detail"])


def nodes(store: Store) -> list[Node]:
    """Every node ever registered, retired ones too (``health == RETIRED``)."""
    try:
        rows = store.query("SELECT * FROM nodes ORDER BY name")
    except Exception:  # noqa: BLE001  a database from before nodes were recorded: no fleet to show
        return []
    return [_node(r) for r in rows]
