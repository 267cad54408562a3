"""Per-volume runtime: settler, observer (or polling), health and the reconcile schedule."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from .config import Volume
from .model import Asset
from .scan import ScanResult, VolumeUnavailable, scan_volume
from .settle import Settler, Unit, unit_of
from .store import Store
from .watch import VolumeObserver, choose_observer

log = structlog.get_logger("reelwatch.volumes")


@dataclass
class VolumeRuntime:
    """Everything that watches one volume. Only enqueues: it never checks anything itself."""

    cfg: Volume
    root: str
    store: Store
    ignore: Callable[[str, str], bool]
    emit: Callable[[Asset], None]
    announce: Callable[[Volume, str, bool], None]
    """Called once when the volume goes away (False) and once when it is back (True)."""
    dynamic: bool = False
    """A drive picked up under a mount root (DIT cart): let go silently when it leaves."""
    self_heal: bool = True
    """Restart a dead observer here; off under a systemd watchdog, which restarts us instead."""
    on_reconcile: Callable[[str, float], None] | None = None
    on_history: Callable[[str, str], None] | None = None
    """Called with (volume, folder) when an ascmhl/ history or checksum manifest there changes."""
    on_progress: Callable[[], None] | None = None
    """Called now and then during long scans (the systemd watchdog is pinged from here)."""
    was_mount: bool = False
    on_problem: Callable[[Volume, str, str], None] | None = None
    """Called once per new problem of the watching itself (key, plain-words text)."""
    _problems: set[str] = field(default_factory=set, init=False)
    kind: str = "inotify"
    reason: str = ""
    available: bool = True
    last_event: float | None = None
    last_scan: ScanResult | None = None
    settler: Settler = field(init=False)
    observer: VolumeObserver | None = field(default=None, init=False)
    _rescan: threading.Event = field(default_factory=threading.Event, init=False)
    _pending_folders: set[str] = field(default_factory=set, init=False)
    _pending_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _next_poll: float = field(default=0.0, init=False)
    _next_reconcile: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.settler = Settler(self.cfg.name, self.root, self.cfg.settle, self.emit, gone=self.unit_gone)

    @property
    def name(self) -> str:
        return self.cfg.name

    # -- events from the observer thread ----------------------------------------------
    def touch(self, relpath: str) -> None:
        parts = relpath.split("/")
        if "ascmhl" in parts[:-1] and self.on_history is not None:
            self.on_history(self.name, "/".join(parts[:parts.index("ascmhl")]))
        if self.ignore(self.cfg.name, relpath):
            return
        self.last_event = time.time()
        self.settler.touch(relpath)

    def gone(self, relpath: str) -> None:
        """A file was deleted or moved away: forget it, or re-settle its sequence."""
        if self.ignore(self.cfg.name, relpath):
            return
        self.last_event = time.time()
        unit = unit_of(relpath)
        if unit.sequence:
            self.settler.touch(relpath)
        elif not os.path.lexists(os.path.join(self.root, relpath)) and self.store.asset(self.name, relpath):
            self.store.mark_gone(self.name, relpath)

    def unit_gone(self, unit: Unit) -> None:
        if self.store.asset(self.name, unit.relpath):
            self.store.mark_gone(self.name, unit.relpath)

    def folder_in(self, relpath: str) -> None:
        """A folder was created or moved in: its files produce no events of their own."""
        if self.ignore(self.cfg.name, relpath + "/"):
            return
        self.last_event = time.time()
        with self._pending_lock:
            self._pending_folders.add(relpath)

    def folder_out(self, relpath: str) -> None:
        self.last_event = time.time()
        self.request_rescan()

    def request_rescan(self) -> None:
        self._rescan.set()

    # -- lifecycle ----------------------------------------------------------------------
    def _looks_unmounted(self) -> bool:
        """An empty root where the state database knows live files: a share or drive that is
        not mounted (yet), never a reason to mark everything gone."""
        try:
            with os.scandir(self.root) as it:
                if next(it, None) is not None:
                    return False
        except OSError:
            return True
        return bool(self.store.query("SELECT 1 FROM assets WHERE volume=? AND gone_at IS NULL LIMIT 1",
                                     (self.name,)))

    def start(self) -> None:
        """Choose the observer, reconcile with the store, then start watching."""
        if not os.path.isdir(self.root) or self._looks_unmounted():
            self._set_available(False)
            return
        self.was_mount = os.path.ismount(self.root)
        self.kind, self.reason = choose_observer(self.cfg.observer, self.root)
        log.info("volume_watch", volume=self.name, observer=self.kind, reason=self.reason)
        if self.kind == "inotify":
            self.observer = VolumeObserver(self.root, self.touch, self.gone, self.folder_in, self.folder_out)
            try:
                self.observer.start()
            except OSError as exc:
                self.kind = "polling"
                self.reason = f"inotify could not start ({exc.strerror}); polling instead"
                log.warning("inotify_failed", volume=self.name, error=exc.strerror)
                self.observer = None
        self.reconcile()

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer = None

    def reconcile(self) -> ScanResult | None:
        try:
            result = scan_volume(self.name, self.root, self.store, self.settler.offer, self.ignore,
                                 progress=self.on_progress)
        except VolumeUnavailable:
            self._set_available(False)
            return None
        except Exception as exc:  # a scan that fails must not stop the daemon or its other volumes
            log.error("reconcile_failed", volume=self.name, error=f"{type(exc).__name__}: {exc}")
            self._next_reconcile = time.monotonic() + max(self.cfg.poll_interval, 60.0)
            return None
        previous, self.last_scan = self.last_scan, result
        self._report_unreadable(result.unreadable)
        if self.on_reconcile is not None:
            self.on_reconcile(self.name, result.seconds)
        now = time.monotonic()
        self._next_reconcile = now + self.cfg.reconcile_interval if self.cfg.reconcile_interval else float("inf")
        self._next_poll = now + self.cfg.poll_interval
        # every poll of a polling volume is a reconcile: say it at info only when it found something
        # new (a file that is still settling is found again by every poll until it is checked)
        news = previous is None or result.gone or (result.touched and result.touched != previous.touched)
        (log.info if news else log.debug)(
            "reconciled", volume=self.name, files=result.files, changed=result.touched, gone=result.gone,
            seconds=round(result.seconds, 3))
        return result

    def _report_unreadable(self, unreadable: list[str]) -> None:
        """Tell the volume owner once about each folder that cannot be read (and forget it
        when it can be read again, so that a new failure is told again)."""
        current = set(unreadable)
        for item in sorted(current - self._problems):
            folder, _, error = item.rpartition(": ")
            if self.on_problem is not None:
                self.on_problem(self.cfg, f"folder {folder} unreadable",
                                f"reelwatch cannot read the folder {folder} on volume {self.name} ({error}), so "
                                "nothing in it is being checked. Give the reelwatch service read and execute "
                                "permission on it; it is rescanned automatically.")
        self._problems = current

    def healthy(self) -> bool:
        if not self.available:
            return True  # an absent volume is reported, not a fault of the daemon
        return self.kind == "polling" or (self.observer is not None and self.observer.alive())

    def _set_available(self, up: bool) -> None:
        if up == self.available:
            return
        self.available = up
        log.warning("volume_back" if up else "volume_unavailable", volume=self.name, path=self.root)
        self.announce(self.cfg, self.root, up)

    def tick(self, settle: bool = True) -> None:
        """Called often from the control thread: health, polling, rescans, settling.
        With ``settle`` False, stable files are left waiting (the checkers are behind)."""
        now = time.monotonic()
        # A volume that was a mount point and is not any more is an unmounted share or drive,
        # even though the empty mount-point folder is still there: nothing may be marked gone.
        present = (os.path.isdir(self.root) and (not self.was_mount or os.path.ismount(self.root))
                   and (self.available or not self._looks_unmounted()))
        if not present:
            if self.dynamic:
                self.stop()
                self.available = False
                return
            if self.available:
                self.stop()
                self._set_available(False)
            return
        if not self.available:
            self._set_available(True)
            self.start()
            return
        if self.kind == "inotify" and (self.observer is None or not self.observer.alive()):
            if not self.self_heal:
                return  # unhealthy: the watchdog pings stop and systemd restarts the service
            log.error("observer_died", volume=self.name)
            self.stop()
            self.start()
        if self._rescan.is_set() or (self.kind == "polling" and now >= self._next_poll) \
                or now >= self._next_reconcile:
            self._rescan.clear()
            self.reconcile()
        with self._pending_lock:
            folders, self._pending_folders = self._pending_folders, set()
        for folder in folders:
            try:
                scan_volume(self.name, self.root, self.store, self.settler.offer, self.ignore, start=folder)
            except VolumeUnavailable:
                break
        if settle:
            self.settler.poll()
