"""The daemon's side of a state database that cannot record (see :mod:`reelwatch.state.disk`).

A mixin of :class:`reelwatch.service.daemon.Daemon`: it uses the daemon's store, outbox, metrics,
systemd notifier, volumes and work queue.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

import structlog

from ..core.model import Message
from ..notify.outbox import Outbox
from ..state.dbfile import StateCorrupt
from ..state.disk import CORRUPT, FULL, UNREACHABLE, free_bytes

if TYPE_CHECKING:
    from .daemon import Daemon

log = structlog.get_logger("reelwatch.daemon")


class StateFaults:
    """Degrade loudly on a full disk or a damaged file; hold the work; resume by itself."""

    def _recorded(self: Daemon, write: Any) -> bool:
        """Run a write; False (and nothing raised) when the state database cannot take it:
        the store has already reported why, through :meth:`_state_fault`."""
        try:
            write()
            return True
        except sqlite3.Error:
            if self.disk is not None and self.disk.problem:
                return False
            raise

    def _state_fault(self: Daemon, kind: str, exc: BaseException) -> None:
        """Called by the store (any thread) when a write finds the disk full or the file damaged."""
        assert self.disk is not None
        problem = {"full": FULL, "unreachable": UNREACHABLE}.get(kind, CORRUPT)
        if not self.disk.trip(problem, exc):
            return
        path = str(self.disk.db_path)
        self.metrics.set_degraded(problem, True)
        try:
            self.sd.status(self._status())
        except sqlite3.Error:  # the status line counts pending messages: not while the server is away
            self.sd.status(f"degraded: {problem}")
        if self.store is not None and problem != UNREACHABLE:  # status says so now (the freed reserve has room)
            self._recorded(lambda: self.store.set_daemon_status(  # type: ignore[union-attr]
                self.disk.health, self.disk.detail, self.disk.since, self.disk.held))  # type: ignore[union-attr]
        if problem == UNREACHABLE:
            log.error("state_unreachable", where=self.store.path if self.store else path, error=str(exc),
                      action="holding new files until it is back")
            self._alert(f"{UNREACHABLE}: checks are on hold",
                        f"reelwatch cannot reach the state database {self.store.path if self.store else path} "
                        f"({exc}). It keeps watching every volume and holds each new file; as soon as the database "
                        "answers again it checks them all, by itself, and tells you. Check the network and the "
                        "database server.")
        elif problem == FULL:
            free = free_bytes(self.disk.db_path.parent)
            log.error("state_disk_full", path=path, free_bytes=free, action="holding new files until there is room")
            self._alert(f"{FULL}: checks are on hold",
                        f"The disk that holds the state database {path} is full"
                        f"{f' ({free:,} bytes free)' if free is not None else ''}, so reelwatch cannot record "
                        "checks or findings. It keeps watching every volume and holds each new file; as soon as "
                        "there is room again it checks them all, by itself, and tells you. Nothing is lost. "
                        "Free space on that disk, or move the state database to a larger one.")
        else:
            damaged = StateCorrupt(path, f"SQLite reports '{exc}'", self.config_path)
            log.error("state_corrupt", path=path, error=str(exc))
            self._alert(f"{CORRUPT}: reelwatch cannot record", str(damaged))

    def _tell(self: Daemon, role: str, subject: str, text: str) -> None:
        """Queue a message for a role; while the state database cannot record, send it at once."""
        if self.outbox is None or self.runtime is None:
            return
        try:
            self.outbox.enqueue(Message(role=role, production=self.runtime.config.production.name, kind="admin",
                                        subject=subject, text=text))
        except sqlite3.Error:
            if self.disk is None or not self.disk.problem:
                raise
            self.outbox.alert(subject, text, role=role)

    def _alert(self: Daemon, subject: str, text: str) -> None:
        if self.outbox is not None:
            self.outbox.alert(subject, text)

    def _resume_if_room(self: Daemon) -> None:
        """While the state disk is full: once the reserve can be taken back, resume."""
        assert self.disk is not None and self.store is not None
        if not self.disk.probe_due() or not self.disk.space_back():
            return
        since = self.disk.since or time.time()
        problem = self.disk.problem
        try:
            self.store.audit("state_disk_ok" if problem == FULL else "state_db_ok", held=self.disk.held,
                             seconds=round(time.time() - since, 1))
        except sqlite3.Error:
            return  # still no room for the database itself: the next probe tries again
        held = self.disk.clear()
        self.metrics.set_degraded(problem or FULL, False)
        for asset, force in held:
            with self._batch_lock:
                self._in_flight += 1
            self.queue.put((asset, force))
        for vol in list(self.volumes.values()):
            vol.request_rescan()  # anything whose record was lost while full is found again
        log.warning("state_disk_ok" if problem == FULL else "state_db_ok", path=str(self.store.path),
                    resumed_files=len(held))
        if self.outbox is not None and self.runtime is not None:
            admin = self.outbox._admin_role()  # noqa: SLF001 (the same role the alert went to)
            subject, what = (("state disk has room again: checks resumed",
                              f"There is room on the disk of the state database {self.disk.db_path} again")
                             if problem == FULL else
                             ("state database reachable again: checks resumed",
                              f"The state database {self.store.path} answers again"))
            self._recorded(lambda: self.outbox.enqueue(Message(  # type: ignore[union-attr]
                role=admin or "admin", production=self.runtime.config.production.name,  # type: ignore[union-attr]
                kind="admin", subject=subject,
                text=f"{what}. reelwatch resumed after {time.time() - since:.0f} s and is checking the "
                     f"{len(held)} file(s) it held, and rescanning every volume for anything else.")))
        self._write_status()

    def _cannot_start(self: Daemon, err: StateCorrupt) -> None:
        """A damaged state database: tell the admin (without the database), then let go of
        everything started so far; the caller says what to do and exits."""
        err.config = self.config_path
        log.error("state_corrupt", path=err.path, problem=err.problem, action="not starting")
        if self.outbox is None and self.runtime is not None:
            self.outbox = Outbox(None, self.runtime.config, self._send)  # type: ignore[arg-type]  # alerts only
        if self.outbox is not None:
            if self.disk is None or self.disk.problem != CORRUPT:  # else already queued by _state_fault
                self.outbox.alert(f"{CORRUPT}: reelwatch cannot start", str(err))
            if self.outbox_worker is None:
                self.outbox.flush_alerts()
        try:
            self.stop(drain=0)
        except Exception as exc:  # noqa: BLE001  best effort: the process exits next
            log.warning("stop_failed", error=f"{type(exc).__name__}: {exc}")
