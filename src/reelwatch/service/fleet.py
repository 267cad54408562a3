"""This daemon as a node of the production's fleet: registered at start with its name, host,
volumes and version, beating while it runs, and saying when it stops on purpose.

With SQLite the daemon is a fleet of one and this costs one small write every
:data:`BEAT_EVERY` seconds. ``reelwatch status`` lists the nodes (:func:`fleet_lines`): a node
not heard from for three beats is shown as such, whatever it last said; a retired node
(``reelwatch fleet retire``) is left out of the fleet's health, and comes back, saying so in the
log and to the admin, as soon as it starts or beats again. :func:`claim_lines` says what waits on
other nodes' claims on a shared volume.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from ..state import fleet

log = structlog.get_logger("reelwatch.fleet")
BEAT_EVERY = 10.0
"""Seconds between heartbeats (a write to the shared state per node: cheap at any fleet size)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("reelwatch")
    except PackageNotFoundError:
        return "unknown"


class FleetMember:
    def __init__(self, store: Any, name: str | None, volumes: Sequence[str],
                 tell_admin: Callable[[str, str], None] | None = None) -> None:
        self.store = store
        self.name = name or socket.gethostname()
        self.volumes = list(volumes)
        self.tell_admin = tell_admin
        self._last = 0.0

    def register(self) -> None:
        before = fleet.register(self.store, self.name, socket.gethostname(), self.volumes, _version(), os.getpid(),
                                time.time())
        self._last = time.monotonic()
        log.info("node_registered", node=self.name, volumes=len(self.volumes))
        if before == fleet.RETIRED:
            self._back("it started again")

    def _back(self, how: str) -> None:
        """A retired node runs: it is in the fleet again, and says so (a retirement by mistake, or a
        cart that came back from the rental house under the same name)."""
        log.warning("node_reactivated", node=self.name, reason=f"this node had been retired from the fleet; {how}",
                    action="it is active again and shown in status and on the web pages")
        if self.tell_admin is not None:
            self.tell_admin(f"node {self.name} is active again",
                            f"Node {self.name} had been retired from the fleet (reelwatch fleet retire), and {how} "
                            f"on {socket.gethostname()}: it is active again, watching "
                            f"{', '.join(self.volumes) or 'no volume'}, and counted in the fleet's health. If the "
                            f"cart is really gone, stop its service, then retire it again.")

    def tick(self, health: str = "ok", detail: str = "") -> None:
        """From the supervising loop: beat when one is due (a failed beat is retried next tick)."""
        if time.monotonic() - self._last < BEAT_EVERY:
            return
        self._last = time.monotonic()
        try:
            back = fleet.beat(self.store, self.name, health, detail, time.time())
        except Exception as exc:  # noqa: BLE001  the state's own fault reporting says why; keep guarding
            log.warning("heartbeat_failed", node=self.name, error=type(exc).__name__)
            return
        if back:
            self._back("it is still running (it was retired while it ran, or while it could not reach the fleet's "
                       "database)")

    def leave(self) -> None:
        try:
            fleet.leave(self.store, self.name, time.time())
        except Exception as exc:  # noqa: BLE001
            log.warning("leave_failed", node=self.name, error=type(exc).__name__)


def node_state(n: fleet.Node, now: float) -> str:
    """``retired``, ``stopped``, ``not heard from`` (three beats of silence), or the node's own health."""
    if n.health in (fleet.RETIRED, "stopped"):
        return n.health
    return n.health if now - n.heartbeat <= fleet.STALE_AFTER * BEAT_EVERY else "not heard from"


def fleet_lines(store: Any, now: float | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """The nodes for ``status``: (lines for people, data for JSON); nothing for a fleet of one.
    Retired nodes are not in either: they are named on one calm line (``reelwatch fleet`` lists them)."""
    now = time.time() if now is None else now
    every = fleet.nodes(store) if store is not None else []
    nodes = [n for n in every if n.health != fleet.RETIRED]
    retired = [n.name for n in every if n.health == fleet.RETIRED]
    data = []
    for n in nodes:
        age = now - n.heartbeat
        data.append({"name": n.name, "host": n.host, "volumes": list(n.volumes), "version": n.version,
                     "state": node_state(n, now), "health": n.health, "detail": n.detail,
                     "heartbeat_age_s": round(age, 1), "started": n.started})
    if len(nodes) < 2:
        return [], data
    lines = [f"fleet: {len(nodes)} node(s)" + (f" ({len(retired)} retired: {', '.join(retired)})" if retired else "")]
    for d in data:
        lines.append(f"  {d['name']}  {d['state']}, last heard {d['heartbeat_age_s']:.0f} s ago; {d['host']}, "
                     f"reelwatch {d['version']}; volumes: {', '.join(d['volumes']) or '-'}"
                     + (f" ({d['detail']})" if d["detail"] else ""))
    return lines, data


def claim_lines(store: Any, node: str, volumes: Sequence[str],
                now: float | None = None) -> tuple[list[str], dict[str, Any] | None]:
    """Files of this node's volumes that other nodes hold claims on (they check them; this node
    waits): ``N files being checked by other nodes (oldest claim X s, by node Y)``, then one line
    per holder that is not heard from (its files wait until its lease runs out) and per holder
    whose lease has run out (the next node to look takes them over). (lines, JSON; None: none)."""
    now = time.time() if now is None else now
    held = {k: v for k, v in fleet.holdings(store, now, list(volumes)).items() if k != node} if store else {}
    if not held:
        return [], None
    known = {n.name: n for n in fleet.nodes(store)}
    total = sum(h.files for h in held.values())
    first = min(held, key=lambda k: held[k].oldest)
    holders = []
    lines = [f"shared volumes: {total} file(s) being checked by other nodes (oldest claim "
             f"{now - held[first].oldest:.0f} s, by node {first})"]
    for name, h in sorted(held.items()):
        n = known.get(name)
        state = node_state(n, now) if n is not None else "unknown node"
        live = h.files - h.expired
        entry = {"node": name, "files": h.files, "node_state": state, "oldest_age_s": round(now - h.oldest, 1),
                 "lease_left_s": round(h.lease_until - now, 1), "expired": h.expired}
        holders.append(entry)
        if live and state in ("not heard from", "stopped", fleet.RETIRED, "unknown node"):
            lines.append(f"  {live} held by {name}, which is {state} (last heard {now - n.heartbeat:.0f} s ago)"
                         if n is not None else f"  {live} held by {name}, an unknown node")
            lines[-1] += (f": they wait until its lease runs out in {h.lease_until - now:.0f} s, then the next "
                          "node to look at them checks them")
        if h.expired:
            lines.append(f"  {h.expired} held by {name} with its lease run out: not being checked; the next node "
                         "to look at them checks them")
    data = {"files": total, "oldest_age_s": round(now - held[first].oldest, 1), "oldest_by": first,
            "holders": holders}
    return lines, data
