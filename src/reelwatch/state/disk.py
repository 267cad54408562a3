"""When the state database cannot record: a full disk (it passes) or a damaged file (it does not).

A full disk must not lose work or go quiet. The daemon keeps a small reserve file next to the
database (:data:`RESERVE_BYTES`); when a write fails for want of space it

* frees the reserve, so that the few writes that say so (its status row, the audit line)
  still fit,
* holds every file it could not record, in order, instead of dropping it,
* says so: the log, ``reelwatch status``, the ``reelwatch_degraded`` metric, the systemd
  status line, and a message to the admin sent straight to any channel that works (the
  outbox lives in the full database),
* and every few seconds tries to take the reserve back. Once it can, there is room again:
  the held files go back to the checkers, every volume is rescanned for anything missed,
  and the admin hears that it resumed.

A damaged file (``SQLITE_CORRUPT``) is said the same loud way, once; it needs a person
(``reelwatch state recover``), so nothing is held for it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("reelwatch.statedisk")
RESERVE_BYTES = 2 << 20
"""Space kept back for saying that the disk is full: a few hundred pages of write-ahead log."""
PROBE_EVERY = 2.0
"""Seconds between attempts to take the reserve back while the disk is full."""
FULL, CORRUPT = "state disk full", "state database damaged"
UNREACHABLE = "state database unreachable"
"""The fleet's PostgreSQL server cannot be reached (the network, the server): like a full disk, it passes."""


def lock_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".lock")


def daemon_running(db_path: str | Path) -> bool:
    """True while a daemon holds this state database's lock (``reelwatch state recover`` asks)."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


def free_bytes(folder: str | Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


class StateDisk:
    """The state database's health as the daemon sees it. Thread-safe."""

    def __init__(self, db_path: str | Path, reserve_bytes: int = RESERVE_BYTES) -> None:
        self.db_path = Path(db_path)
        self.reserve = self.db_path.with_name(self.db_path.name + ".reserve")
        self.reserve_bytes = reserve_bytes
        self.problem: str | None = None
        """None while healthy, else :data:`FULL` or :data:`CORRUPT`."""
        self.detail = ""
        self.since: float | None = None
        self.offline: float | None = None
        """Since when the fleet's database is away and the node guards from its journal
        (:mod:`reelwatch.service.journal`): not a problem that holds work."""
        self._held: list[Any] = []
        self._lock = threading.Lock()
        self._next_probe = 0.0
        self._lock_fd: int | None = None

    def lock(self) -> bool:
        """Hold the database's lock file while the daemon runs; False when another daemon holds it."""
        try:
            fd = os.open(lock_path(self.db_path), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return True  # no room for even an empty file: the full disk is reported elsewhere
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def full(self) -> bool:
        return self.problem == FULL

    @property
    def waiting(self) -> bool:
        """Degraded for a reason that passes by itself (a full disk, an unreachable server)."""
        return self.problem in (FULL, UNREACHABLE)

    @property
    def health(self) -> str:
        off = "offline: the fleet's state database is unreachable; guarding from the local journal" \
            if self.offline is not None else ""
        if self.problem:
            return f"{off}; degraded: {self.problem}" if off else f"degraded: {self.problem}"
        return off or "ok"

    def keep_reserve(self) -> bool:
        """Make sure the reserve file exists at full size; False when the disk has no room."""
        try:
            if self.reserve.exists() and self.reserve.stat().st_size >= self.reserve_bytes:
                return True
            fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, self.reserve_bytes)
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    os.ftruncate(fd, 0)  # no fallocate here (some network file systems): write it
                    block = b"\0" * 65536
                    for _ in range(0, self.reserve_bytes, len(block)):
                        os.write(fd, block)
                    os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self.reserve.unlink(missing_ok=True)
                return False
            log.warning("state_reserve_failed", path=str(self.reserve), error=exc.strerror)
            return True  # a reserve we cannot keep for another reason must not stop the daemon

    def trip(self, problem: str, exc: BaseException) -> bool:
        """Record a fault; True the first time (the caller then says so, once)."""
        with self._lock:
            if self.problem == problem or self.problem == CORRUPT:
                return False
            self.problem = problem
            self.detail = f"{type(exc).__name__}: {exc}"
            self.since = time.time()
            self._next_probe = time.monotonic() + PROBE_EVERY
        if problem == FULL:
            self.reserve.unlink(missing_ok=True)  # room for the writes that say so
        return True

    def hold(self, item: Any) -> None:
        with self._lock:
            self._held.append(item)

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def probe_due(self) -> bool:
        return self.waiting and time.monotonic() >= self._next_probe

    def space_back(self) -> bool:
        """While full: try to take the reserve back (at most every :data:`PROBE_EVERY` s); while
        the server is unreachable, the caller's write is the probe."""
        self._next_probe = time.monotonic() + PROBE_EVERY
        return self.keep_reserve() if self.full else True

    def clear(self) -> list[Any]:
        """Healthy again: returns the held work, in the order it was held."""
        with self._lock:
            self.problem, self.detail, self.since = None, "", None
            held, self._held = self._held, []
        return held
