"""The daemon's side of a state database that cannot record (see :mod:`reelwatch.state.disk`).

It uses the daemon's store, outbox, metrics, systemd notifier, volumes and work queue: a full disk
or a damaged file trips the daemon into holding new work, says so everywhere once, and resumes by
itself when there is room again. A fleet's database that cannot be reached switches a node with a
journal to it and the node keeps guarding, offline (:mod:`.journal`); only a node without one holds
its files until the server is back.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import structlog

from ..core.model import Message
from ..notify.outbox import Outbox
from ..state.dbfile import StateCorrupt
from ..state.disk import CORRUPT, FULL, UNREACHABLE, free_bytes
from .admin import Messages
from .journal import Offline
from .parts import Parts
from .status import Status

log = structlog.get_logger("reelwatch.daemon")


class StateFaults:
    """Degrade loudly on a full disk or a damaged file; hold the work; resume by itself."""

    def __init__(self, parts: Parts, messages: Messages, status: Status, send: Callable[[Message, Any], bool],
                 stop: Callable[..., None], offline: Offline | None = None) -> None:
        self.d = parts
        self.offline = offline
        self.messages = messages
        self.status = status
        self.send = send
        self.stop = stop

    def fault(self, kind: str, exc: BaseException) -> None:
        """Called by the store (any thread) when a write finds the disk full or the file damaged."""
        d = self.d
        assert d.disk is not None
        if kind == "unreachable" and self.offline is not None and self.offline.went_away(exc):
            return  # guarding from the journal now: said once, everywhere, by went_away
        problem = {"full": FULL, "unreachable": UNREACHABLE}.get(kind, CORRUPT)
        if not d.disk.trip(problem, exc):
            return
        path = str(d.disk.db_path)
        d.metrics.set_degraded(problem, True)
        try:
            d.sd.status(self.status.line())
        except sqlite3.Error:  # the status line counts pending messages: not while the server is away
            d.sd.status(f"degraded: {problem}")
        if d.store is not None and problem != UNREACHABLE:  # status says so now (the freed reserve has room)
            d.recorded(lambda: d.store.set_daemon_status(  # type: ignore[union-attr]
                d.disk.health, d.disk.detail, d.disk.since, d.disk.held))  # type: ignore[union-attr]
        if problem == UNREACHABLE:
            where = d.store.path if d.store is not None else path
            log.error("state_unreachable", where=where, error=str(exc), action="holding new files until it is back")
            self.messages.alert(f"{UNREACHABLE}: checks are on hold",
                                f"reelwatch cannot reach the state database {where} ({exc}). It keeps watching every "
                                "volume and holds each new file; as soon as the database answers again it checks "
                                "them all, by itself, and tells you. Check the network and the database server.")
        elif problem == FULL:
            free = free_bytes(d.disk.db_path.parent)
            log.error("state_disk_full", path=path, free_bytes=free, action="holding new files until there is room")
            self.messages.alert(f"{FULL}: checks are on hold",
                                f"The disk that holds the state database {path} is full"
                                f"{f' ({free:,} bytes free)' if free is not None else ''}, so reelwatch cannot "
                                "record checks or findings. It keeps watching every volume and holds each new file; "
                                "as soon as there is room again it checks them all, by itself, and tells you. "
                                "Nothing is lost. Free space on that disk, or move the state database to a larger "
                                "one.")
        else:
            damaged = StateCorrupt(path, f"SQLite reports '{exc}'", d.config_path)
            log.error("state_corrupt", path=path, error=str(exc))
            self.messages.alert(f"{CORRUPT}: reelwatch cannot record", str(damaged))

    def resume_if_room(self) -> None:
        """While the state disk is full: once the reserve can be taken back, resume."""
        d = self.d
        assert d.disk is not None and d.store is not None
        if not d.disk.probe_due() or not d.disk.space_back():
            return
        since = d.disk.since or time.time()
        problem = d.disk.problem
        try:
            d.store.audit("state_disk_ok" if problem == FULL else "state_db_ok", held=d.disk.held,
                          seconds=round(time.time() - since, 1))
        except sqlite3.Error:
            return  # still no room for the database itself: the next probe tries again
        held = d.disk.clear()
        d.metrics.set_degraded(problem or FULL, False)
        for asset, force in held:
            d.work.put(asset, force)
        for vol in list(d.volumes.values()):
            vol.request_rescan()  # anything whose record was lost while full is found again
        log.warning("state_disk_ok" if problem == FULL else "state_db_ok", path=str(d.store.path),
                    resumed_files=len(held))
        if d.outbox is not None and d.runtime is not None:
            admin = d.outbox._admin_role()  # noqa: SLF001 (the same role the alert went to)
            subject, what = (("state disk has room again: checks resumed",
                              f"There is room on the disk of the state database {d.disk.db_path} again")
                             if problem == FULL else
                             ("state database reachable again: checks resumed",
                              f"The state database {d.store.path} answers again"))
            d.recorded(lambda: d.outbox.enqueue(Message(  # type: ignore[union-attr]
                role=admin or "admin", production=d.runtime.config.production.name,  # type: ignore[union-attr]
                kind="admin", subject=subject,
                text=f"{what}. reelwatch resumed after {time.time() - since:.0f} s and is checking the "
                     f"{len(held)} file(s) it held, and rescanning every volume for anything else.")))
        self.status.write()

    def cannot_start(self, err: StateCorrupt) -> None:
        """A damaged state database: tell the admin (without the database), then let go of
        everything started so far; the caller says what to do and exits."""
        d = self.d
        err.config = d.config_path
        log.error("state_corrupt", path=err.path, problem=err.problem, action="not starting")
        if d.outbox is None and d.runtime is not None:
            d.outbox = Outbox(None, d.runtime.config, self.send)  # type: ignore[arg-type]  # alerts only
        if d.outbox is not None:
            if d.disk is None or d.disk.problem != CORRUPT:  # else already queued by fault()
                d.outbox.alert(f"{CORRUPT}: reelwatch cannot start", str(err))
            if d.outbox_worker is None:
                d.outbox.flush_alerts()
        try:
            self.stop(drain=0)
        except Exception as exc:  # noqa: BLE001  best effort: the process exits next
            log.warning("stop_failed", error=f"{type(exc).__name__}: {exc}")
