"""This daemon as a node of the production's fleet: registered at start with its name, host,
volumes and version, beating while it runs, and saying when it stops on purpose.

With SQLite the daemon is a fleet of one and this costs one small write every
:data:`BEAT_EVERY` seconds. ``reelwatch status`` lists the nodes (:func:`fleet_lines`): a node
not heard from for three beats is shown as such, whatever it last said.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
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
    def __init__(self, store: Any, name: str | None, volumes: Sequence[str]) -> None:
        self.store = store
        self.name = name or socket.gethostname()
        self.volumes = list(volumes)
        self._last = 0.0

    def register(self) -> None:
        fleet.register(self.store, self.name, socket.gethostname(), self.volumes, _version(), os.getpid(), time.time())
        self._last = time.monotonic()
        log.info("node_registered", node=self.name, volumes=len(self.volumes))

    def tick(self, health: str = "ok", detail: str = "") -> None:
        """From the supervising loop: beat when one is due (a failed beat is retried next tick)."""
        if time.monotonic() - self._last < BEAT_EVERY:
            return
        self._last = time.monotonic()
        try:
            fleet.beat(self.store, self.name, health, detail, time.time())
        except Exception as exc:  # noqa: BLE001  the state's own fault reporting says why; keep guarding
            log.warning("heartbeat_failed", node=self.name, error=type(exc).__name__)

    def leave(self) -> None:
        try:
            fleet.leave(self.store, self.name, time.time())
        except Exception as exc:  # noqa: BLE001
            log.warning("leave_failed", node=self.name, error=type(exc).__name__)


def fleet_lines(store: Any, now: float | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """The nodes for ``status``: (lines for people, data for JSON); nothing for a fleet of one."""
    now = time.time() if now is None else now
    nodes = fleet.nodes(store) if store is not None else []
    data = []
    for n in nodes:
        age = now - n.heartbeat
        state = n.health if n.health == "stopped" or age <= fleet.STALE_AFTER * BEAT_EVERY else "not heard from"
        data.append({"name": n.name, "host": n.host, "volumes": list(n.volumes), "version": n.version,
                     "state": state, "health": n.health, "detail": n.detail, "heartbeat_age_s": round(age, 1),
                     "started": n.started})
    if len(nodes) < 2:
        return [], data
    lines = [f"fleet: {len(nodes)} node(s)"]
    for d in data:
        lines.append(f"  {d['name']}  {d['state']}, last heard {d['heartbeat_age_s']:.0f} s ago; {d['host']}, "
                     f"reelwatch {d['version']}; volumes: {', '.join(d['volumes']) or '-'}"
                     + (f" ({d['detail']})" if d["detail"] else ""))
    return lines, data
