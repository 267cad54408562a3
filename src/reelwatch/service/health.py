"""The daemon's own health: which of its worker threads died, and saying so once, loudly.

A guard that goes quiet is worse than none. The watchdog pings come from the control thread
and only while :meth:`reelwatch.service.daemon.Daemon.healthy` holds, so a dead or hung thread stops
them and systemd restarts the service; :class:`Supervisor`, run from the main thread, also
logs it (``thread_died``), records it for ``reelwatch status``, sets ``reelwatch_healthy`` to 0
and tells the admin role, so that it is seen without systemd too.
"""

from __future__ import annotations

from typing import Any

import structlog

log = structlog.get_logger("reelwatch.daemon")


def dead_threads(daemon: Any) -> list[str]:
    """Names of the daemon's own threads that have died: control, checkers, outbox, metrics, web."""
    dead = [t.name for t in daemon.checkers.threads if not t.is_alive()]
    if daemon.outbox_worker is not None and not daemon.outbox_worker.is_alive():
        dead.append(daemon.outbox_worker.name)
    if daemon.control is not None and not daemon.control.is_alive() and not daemon.stopping.is_set():
        dead.append(daemon.control.name)
    if daemon.metrics_server is not None and not daemon.metrics_server.alive():
        dead.append("reelwatch-metrics")
    if daemon.web is not None and not daemon.web.alive():  # [web] listen: could not listen, or ended
        dead.append(daemon.web.name)
    return dead


def admin_role(config: Any) -> str | None:
    """The role told about the daemon's own trouble: ``[notify] admin_role``, else admin or supervisor."""
    return config.notify.admin_role or next((r for r in ("admin", "supervisor") if r in config.roles), None)


class Supervisor:
    """Called every half second from the main thread; each death is told once."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.reported: set[str] = set()

    def check(self) -> list[str]:
        d = self.daemon
        dead = dead_threads(d)
        d.metrics.set_healthy(not dead and d.healthy())
        for name in sorted(set(dead) - self.reported):
            why = d.web.problem if d.web is not None and name == d.web.name else ""
            log.error("thread_died", thread=name, **({"reason": why} if why else {}))
            if d.store is not None:
                d.recorded(lambda: d.store.audit("thread_died", thread=name,  # noqa: B023  (called at once)
                                                 **({"reason": why} if why else {})))  # noqa: B023
            d.messages.tell_admin(f"reelwatch is unhealthy: its {name} thread died",
                                  f"{why[0].upper()}{why[1:]}. The daemon keeps watching and checking. The systemd "
                                  "watchdog will restart the service, which tries again; or free the address (or "
                                  "change [web] listen) and reload it (SIGHUP)." if why else
                                  f"The {name} thread of the reelwatch daemon stopped, so part of the watching or "
                                  "checking is no longer done. The systemd watchdog will restart the service; if "
                                  "it does not run under systemd, restart it yourself and look at its log "
                                  "(thread_died).")
        self.reported = set(dead)
        return dead
