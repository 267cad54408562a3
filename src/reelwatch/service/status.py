"""What the daemon says about itself: the status rows ``reelwatch status`` reads, the one-line
status systemd shows, the metrics gauges, and the systemd watchdog pings.

The pings come from the control thread, and only while the daemon is healthy: a dead or hung
thread stops them, and systemd restarts the service (see :mod:`.health`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from .held import HeldFiles
from .parts import Parts

log = structlog.get_logger("reelwatch.daemon")
STATUS_EVERY = 2.0
"""Seconds between writes of the status rows."""


class Status:
    """Writes the status now and then, and pings the systemd watchdog while healthy."""

    def __init__(self, parts: Parts, held: HeldFiles, healthy: Callable[[], bool]) -> None:
        self.d = parts
        self.held = held
        self.healthy = healthy
        self.written = 0.0
        self._pinged = 0.0
        self._hashing_shown = False

    def due(self) -> bool:
        return time.monotonic() - self.written > STATUS_EVERY

    def write(self) -> None:
        """The status rows of the state database, and the gauges."""
        d = self.d
        if d.store is None:
            return
        recorded = d.recorded
        self.written = time.monotonic()
        if d.outbox is not None:
            d.metrics.set_outbox(*d.outbox.pending())
        if d.disk is not None:
            recorded(lambda: d.store.set_daemon_status(  # type: ignore[union-attr]
                d.disk.health, d.disk.detail, d.disk.since or d.disk.offline, d.disk.held))  # type: ignore[union-attr]
        for vol in list(d.volumes.values()):
            d.metrics.set_observer(vol.name, vol.kind, vol.healthy() and vol.available, degraded=bool(vol.degraded))
            health = "ok" if vol.healthy() and vol.available else ("unavailable" if not vol.available else "failed")
            if health == "ok" and vol.degraded:
                health = "degraded"  # polled because inotify could not cover it: working, but say so
            recorded(lambda: d.store.set_volume_status(  # type: ignore[union-attr]
                vol.name, vol.kind, health, vol.last_event,  # noqa: B023 (called at once)
                d.work.qsize() + len(vol.settler), vol.reason))  # noqa: B023
        jobs = d.hashes.progress()
        if jobs or self._hashing_shown:
            self._hashing_shown = bool(jobs)
            recorded(lambda: d.store.set_tool_status(  # type: ignore[union-attr]
                "hash", "running" if jobs else "idle", "; ".join(j.describe() for j in jobs)))
        if self.held.items and d.pool is not None:
            d.metrics.set_probe(d.pool.health.ok, len(self.held))
            recorded(lambda: d.store.set_tool_status(  # type: ignore[union-attr]
                "probe", "ok" if d.pool.health.ok else "failed",  # type: ignore[union-attr]
                d.pool.health.detail, len(self.held)))  # type: ignore[union-attr]

    def line(self) -> str:
        """One line for systemd's STATUS=: what is watched, waiting and wrong."""
        d = self.d
        settling = sum(len(v.settler) for v in d.volumes.values())
        pending = d.outbox.pending()[0] if d.outbox else 0
        down = [v.name for v in d.volumes.values() if not v.available]
        text = (f"watching {len(d.volumes)} volume(s); {settling} settling, {d.work.qsize()} queued, "
                f"{pending} message(s) to send")
        if d.disk is not None and (d.disk.problem or d.disk.offline):
            text = f"{d.disk.health} ({d.disk.held} file(s) held); " + text
        text += f"; {len(self.held)} file(s) wait for MediaInfo to start" if self.held.items else ""
        waiting = len(d.claims) if d.claims is not None else 0  # a fleet's shared volume: checked elsewhere
        text += f"; {waiting} file(s) being checked by other nodes" if waiting else ""
        text += "".join(f"; hashing {job.describe()}" for job in d.hashes.progress())
        return text + (f"; unavailable: {', '.join(down)}" if down else "")

    def ping_systemd_watchdog(self) -> None:
        """WATCHDOG=1 (with the status line) once per half watchdog interval, only while healthy.
        Also called during long scans, so that a big reconcile is not mistaken for a hang."""
        d = self.d
        interval = d.sd.watchdog_interval
        now = time.monotonic()
        if interval is None or now - self._pinged < interval:
            return
        if self.healthy():
            self._pinged = now
            d.sd.send("WATCHDOG=1", f"STATUS={self.line()}")
        else:
            log.error("unhealthy_not_pinging")
