"""The fleet on the pages: each node of a production sharing one PostgreSQL state (name, host,
volumes, version, last heartbeat, health), which node watches each volume, and a headline that
says when a node has gone quiet.

A node records the volumes of its own config (:func:`reelwatch.state.fleet.register`); findings
carry no node, so "which node found it" is the node that watches its volume (several, for a NAS
that several nodes mount). A node that cannot reach the database cannot beat either: to every
other node it looks "not responding" until it comes back (it keeps guarding from its local
journal meanwhile), which is what the pages say. A node retired on purpose (``reelwatch fleet retire``: a cart gone
back to the rental house) is not part of the fleet's health: it is listed apart, as retired, and a
volume only it watched says so instead of the "watching" it last wrote.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..state import fleet
from ..state.store import Store

STALE_AFTER = 30.0
"""Seconds without a heartbeat after which a node is "not responding": three beats of
:data:`reelwatch.service.fleet.BEAT_EVERY` (10 s), as ``reelwatch status`` says it (the pages may not
import the service; tests/test_web_fleet.py holds the two equal)."""


@dataclass
class Fleet:
    """The registered nodes as the pages show them (``shown``: a fleet's PostgreSQL state with nodes in it)."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    shown: bool = False
    retired: list[dict[str, Any]] = field(default_factory=list)
    """Nodes taken out of the fleet on purpose: named, never counted in its health."""

    def watching(self, volume: str) -> list[dict[str, Any]]:
        """The nodes that watch ``volume`` (or the mount root a drive ``volume`` was picked up under)."""
        exact = [n for n in self.nodes if volume in n["volumes"]]
        return exact or [n for n in self.nodes if any(volume.startswith(f"{v}-") for v in n["volumes"])]

    def names(self, volume: str) -> str:
        """Who watches ``volume``, for a page ("" outside a fleet or when no node names it)."""
        return ", ".join(n["name"] for n in self.watching(volume)) if self.shown else ""

    def quiet(self) -> list[dict[str, Any]]:
        return [n for n in self.nodes if n["state"] == "not responding"]

    def headline(self) -> dict[str, Any]:
        """The overview's state for a fleet: running only while every node that has not stopped beats."""
        quiet, sick = self.quiet(), [n for n in self.nodes if n["state"] not in ("ok", "stopped", "not responding")]
        running = [n for n in self.nodes if n["state"] != "stopped"]
        since = max((n["started"] for n in self.nodes), default=None)
        if not running:
            return {"state": "stopped", "since": max(n["heartbeat"] for n in self.nodes),
                    "detail": f"all {len(self.nodes)} node(s) stopped"}
        words = [f"{n['name']} not responding (last heard {n['age_text']} ago)" for n in quiet]
        words += [f"{n['name']} {n['state']}" + (f": {n['detail']}" if n["detail"] else "") for n in sick]
        if words:
            return {"state": "degraded", "since": since, "detail": "; ".join(words)}
        return {"state": "running", "since": since,
                "detail": f"{len(running)} of {len(self.nodes)} node(s) running"}


def age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def fleet_of(store: Store, now: float | None = None) -> Fleet:
    """The nodes, each with its state: its own health, "stopped", or "not responding" when its
    heartbeat is older than :data:`STALE_AFTER` (whatever it last said)."""
    now = time.time() if now is None else now
    out, retired = [], []
    for n in fleet.nodes(store):
        age = now - n.heartbeat
        state = n.health if n.health in ("stopped", fleet.RETIRED) or age <= STALE_AFTER else "not responding"
        (retired if state == fleet.RETIRED else out).append({
            "name": n.name, "host": n.host, "volumes": list(n.volumes), "version": n.version, "health": n.health,
            "detail": n.detail, "state": state, "heartbeat": n.heartbeat, "age": age, "age_text": age_text(age),
            "started": n.started})
    # an SQLite state has one node (another name in it is this machine under an older name): no fleet
    return Fleet(out, shown=store.backend == "postgresql" and bool(out), retired=retired)


def mark_volumes(volumes: list[dict[str, Any]], fl: Fleet) -> None:
    """Name each volume's node(s); a volume whose every node is quiet or stopped is shown so, not as
    the "watching" its node last wrote (nobody is watching it now)."""
    if not fl.shown:
        return
    gone = Fleet(fl.retired)
    for v in volumes:
        nodes = fl.watching(v["name"])
        v["node"] = ", ".join(n["name"] for n in nodes)
        if not nodes and gone.watching(v["name"]) and v.get("health") != "mount root":
            v["node"] = ", ".join(n["name"] for n in gone.watching(v["name"]))
            v["health"], v["detail"] = "retired", f"its node {v['node']} was retired from the fleet"
            continue
        if nodes and all(n["state"] in ("not responding", "stopped") for n in nodes) and v.get("health") != "mount root":
            quiet = [n for n in nodes if n["state"] == "not responding"]
            v["health"] = "not responding" if quiet else "stopped"
            v["detail"] = "; ".join(f"{n['name']} last heard {n['age_text']} ago" for n in nodes)
