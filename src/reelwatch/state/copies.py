"""Copies of a card on other nodes: what each node publishes about its own copies, and whether
the node that published it can vouch for it now.

A node can read only its own disks. When a mirror set names a copy on another node (``node =
"lab"``), the node holding that copy publishes, each time it judges the card, what its copy holds
(file names, sizes, checksums, the copy's check against the card's seal) in ``fleet_copies``, keyed
by node, volume and card folder. Every node then judges the card by every copy the fleet knows.

What another node published counts only while that node is running and heard from: a copy whose
node stopped, went quiet (no heartbeat for :data:`QUIET_AFTER` seconds), or is working offline is
a copy nobody can vouch for now, and the card is not safe to format on its word.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

QUIET_AFTER = 30.0
"""Seconds without a heartbeat after which a node's copies no longer count: three of the daemon's
10-second beats (reelwatch.service.fleet.BEAT_EVERY; ``status`` calls such a node "not heard from")."""


def publish(store: Any, node: str, volume: str, card: str, record: Mapping[str, Any]) -> None:
    """Record what ``node``'s copy of ``card`` (its volume-relative folder) holds now. Written only
    when it changed, so that readers can tell a new copy from an old one by ``updated``."""
    text = json.dumps(record, sort_keys=True, default=str)
    with store.tx() as db:
        row = db.execute("SELECT record FROM fleet_copies WHERE node=? AND volume=? AND card=?",
                         (node, volume, card)).fetchone()
        if row is not None and row[0] == text:
            return
        db.execute("INSERT OR REPLACE INTO fleet_copies (node, volume, card, record, updated) VALUES (?,?,?,?,?)",
                   (node, volume, card, text, time.time()))


def _clock(ts: float) -> str:
    return time.strftime("%H:%M on %d %b", time.localtime(ts))


def node_why(store: Any, node: str, now: float | None = None) -> str:
    """Why ``node``'s word on its copies cannot be taken now; ``""`` when it can."""
    now = time.time() if now is None else now
    rows = store.query("SELECT health, heartbeat FROM nodes WHERE name=?", (node,))
    if not rows:
        return f"node {node} has not joined the fleet yet"
    health, beat = rows[0]["health"], rows[0]["heartbeat"]
    if health == "retired":  # reelwatch fleet retire: the cart went back, and its copy with it
        return f"{node} was retired from the fleet: its copy no longer counts unless it runs again"
    if health == "stopped":
        return f"{node} was stopped at {_clock(beat)}: nobody can vouch for its copy until it runs again"
    if health == "offline":
        return f"{node} is working offline since {_clock(beat)}: its copy is confirmed again when it is back"
    if now - beat > QUIET_AFTER:
        return f"{node} has not been heard from since {_clock(beat)}: nobody can vouch for its copy until it is"
    return ""


def owners(store: Any, volume: str) -> list[str]:
    """The nodes that registered a volume of this name (more than one: the names collide)."""
    rows = store.query("SELECT name, volumes FROM nodes ORDER BY name")
    return [r["name"] for r in rows if volume in json.loads(r["volumes"] or "[]")]


def read(store: Any, node: str, volume: str, card: str) -> dict[str, Any]:
    """Another node's copy of a card: ``{"why": ...}`` when it cannot count now (its node is not
    running, or the volume's name is claimed by another node too), else ``{"record": ... | None}``
    (None: that node has not seen the card there)."""
    why = node_why(store, node)
    if why:
        return {"why": why}
    claimed = owners(store, volume)
    if node not in claimed:
        return {"why": f"node {node} does not watch a volume named {volume}"}
    if len(claimed) > 1:
        return {"why": f"the volume name {volume} is used by {' and '.join(claimed)}: every volume of a fleet "
                       "needs a name of its own"}
    rows = store.query("SELECT record FROM fleet_copies WHERE node=? AND volume=? AND card=?", (node, volume, card))
    return {"record": json.loads(rows[0][0]) if rows else None}
