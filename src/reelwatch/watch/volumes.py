"""Per-volume runtime: settler, observer (or polling), health and the reconcile schedule.

Whatever makes live watching untrustworthy is acted on here and said out loud: a folder
inotify cannot watch (the watch limit of a container or user namespace) turns the volume to
polling and tells the admin; a volume folder deleted or moved away and made again (a DIT's
new day) is watched again at once and logged; queue overflows are one log line per episode
followed by one rescan.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from ..core.config import Volume
from .inotify import Callbacks, TreeWatcher
from .links import Link, LinkPolicy, outside_finding
from ..core.model import Asset, Finding
from .scan import ScanResult, VolumeUnavailable, scan_volume, unit_name
from .settle import Settler, Unit, unit_of
from ..state.store import Store
from .observers import choose_observer, watch_limit

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
    """Called once per new problem of the watching itself, with (the volume's config, subject, plain-words text)."""
    on_admin: Callable[[str, str], None] | None = None
    """Tells the admin (subject, text) when live watching degrades or recovers."""
    on_findings: Callable[[str, str, Sequence[Finding], tuple[str, ...] | None], None] | None = None
    """Records the watcher's own findings: (volume, rule, current findings, relpaths they judge or None)."""
    on_overflow: Callable[[str, int], None] | None = None
    """Counts inotify queue overflows (volume, how many) for the metrics."""
    _problems: set[str] = field(default_factory=set, init=False)
    degraded: str = ""
    """Why this volume is polled although it should be watched with inotify ('' when it is not)."""
    kind: str = "inotify"
    reason: str = ""
    available: bool = True
    last_event: float | None = None
    last_scan: ScanResult | None = None
    settler: Settler = field(init=False)
    links: LinkPolicy = field(init=False)
    observer: TreeWatcher | None = field(default=None, init=False)
    _rescan: threading.Event = field(default_factory=threading.Event, init=False)
    _pending_folders: set[str] = field(default_factory=set, init=False)
    _pending_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _next_poll: float = field(default=0.0, init=False)
    _next_reconcile: float = field(default=0.0, init=False)
    _root_id: tuple[int, int] | None = field(default=None, init=False)
    _overflows: list[int] = field(default_factory=lambda: [0, 0], init=False)
    """Overflows and events read since the last rescan (the reader thread adds, tick reports)."""
    _rewatch: bool = field(default=False, init=False)
    _retry_inotify: float = field(default=float("inf"), init=False)

    def __post_init__(self) -> None:
        self.links = LinkPolicy(self.root, self.cfg.follow_links_into)
        self.settler = Settler(self.cfg.name, self.root, self.cfg.settle, self.emit, gone=self.unit_gone,
                               links=self.links, growing_after=self.cfg.alert_growing_after,
                               findings=self._findings)

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
        parts = relpath.split("/")
        if "ascmhl" in parts and self.on_history is not None:
            # a history copied in whole (offload tools write ascmhl/ last): its files may all be
            # written before the new folder is watched, and the folder itself is ignored below
            self.on_history(self.name, "/".join(parts[:parts.index("ascmhl")]))
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

    def overflowed(self, events: int) -> None:
        """The kernel dropped events (reader thread): rescan, and re-check every folder's watch."""
        with self._pending_lock:
            self._overflows[0] += 1
            self._overflows[1] += events
        self._rewatch = True
        self._rescan.set()

    def _findings(self, rule: str, findings: Sequence[Finding], scope: tuple[str, ...] | None) -> None:
        if self.on_findings is not None:
            self.on_findings(self.name, rule, findings, scope)

    def _outside(self, links: list[tuple[str, Link]]) -> list[Finding]:
        """One finding per link leading outside; the frames of one run count as one."""
        out: dict[str, Finding] = {}
        for rel, link in links:
            folder, _, name = rel.rpartition("/")
            unit = unit_name(name)
            key = f"{folder}/{unit}" if unit and folder else (unit or rel)
            if key not in out:
                out[key] = outside_finding(self.name, self.root, key, link)
        return list(out.values())

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
        self._root_id = _identity(self.root)
        self.kind, self.reason = choose_observer(self.cfg.observer, self.root)
        log.info("volume_watch", volume=self.name, observer=self.kind, reason=self.reason)
        if self.kind == "inotify":
            self._watch()
        self.reconcile()

    def _watch(self) -> None:
        """Start inotify on the whole tree, or fall back to polling and say why."""
        watcher = TreeWatcher(self.root, Callbacks(self.touch, self.gone, self.folder_in, self.folder_out,
                                                   self.overflowed), follow=self.links.follow_dir)
        try:
            watcher.start()
        except OSError as exc:
            self._degrade(f"inotify could not start ({exc.strerror})")
            return
        if watcher.failure:
            watcher.stop()
            self._degrade(watcher.failure)
            return
        self.observer, self.kind = watcher, "inotify"
        if self.degraded:
            log.warning("inotify_back", volume=self.name, watches=watcher.watches)
            if self.on_admin is not None:
                self.on_admin(f"volume {self.name}: live watching is back",
                              f"reelwatch watches every folder of volume {self.name} with inotify again "
                              f"({watcher.watches} folders); it no longer needs to poll it.")
            self.degraded, self.reason = "", "local file system"

    def _degrade(self, why: str) -> None:
        """inotify cannot cover the volume: poll it instead, tell the admin once, retry later."""
        self.kind = "polling"
        self.reason = f"{why}; polling every {self.cfg.poll_interval:g} s instead"
        self._next_poll = 0.0
        self._retry_inotify = time.monotonic() + max(self.cfg.reconcile_interval or 3600, 60.0)
        if self.degraded:
            self.degraded = why
            return
        self.degraded = why
        log.warning("inotify_fallback", volume=self.name, reason=why, poll_interval=self.cfg.poll_interval)
        if self.on_admin is not None:
            limit = "watch limit" in why
            self.on_admin(
                f"volume {self.name}: live watching degraded, polling instead",
                f"reelwatch cannot watch every folder of volume {self.name} ({self.root}) with inotify: {why}. "
                f"It polls the volume every {self.cfg.poll_interval:g} s instead, so new files are still "
                "checked, a little later and at more cost. " + (
                    f"The sysctl fs.inotify.max_user_watches says {watch_limit()}, but containers and user "
                    "namespaces have their own limit, which it does not show. Raise the limit where reelwatch "
                    "runs (sysctl fs.inotify.max_user_watches=524288, or user.max_inotify_watches inside the "
                    "namespace), " if limit else "Fix the cause, ") +
                "and reelwatch goes back to inotify by itself at its next full rescan.")

    def stop(self) -> None:
        observer, self.observer = self.observer, None
        if observer is not None:
            observer.stop()

    def reconcile(self) -> ScanResult | None:
        if self._rewatch and self.observer is not None:
            self._rewatch = False
            self.observer.watch("")  # folders whose creation was among the lost events
        try:
            result = scan_volume(self.name, self.root, self.store, self.settler.offer, self.ignore,
                                 progress=self.on_progress, links=self.links)
        except VolumeUnavailable:
            self._set_available(False)
            return None
        except Exception as exc:  # a scan that fails must not stop the daemon or its other volumes
            log.error("reconcile_failed", volume=self.name, error=f"{type(exc).__name__}: {exc}")
            self._next_reconcile = time.monotonic() + max(self.cfg.poll_interval, 60.0)
            return None
        previous, self.last_scan = self.last_scan, result
        self._report_unreadable(result.unreadable)
        self._findings("volume.symlink_outside", self._outside(result.outside), None)
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

    def _check_watching(self, now: float) -> None:
        """A replaced volume folder, a folder inotify could not watch, or a retry of inotify."""
        watcher = self.observer
        current = _identity(self.root)
        replaced = self._root_id is not None and current is not None and current != self._root_id
        if replaced or (watcher is not None and watcher.lost):
            why = (watcher.lost if watcher is not None and watcher.lost else "the volume folder was replaced")
            log.warning("volume_root_replaced", volume=self.name, path=self.root, reason=why,
                        action="watching the new folder and rescanning")
            self.stop()
            self._root_id = current
            if self.kind == "inotify" or self.degraded:
                self._watch()
            self._rescan.set()
        elif watcher is not None and watcher.failure:
            self.stop()
            self._degrade(watcher.failure)
            self._rescan.set()
        elif self.degraded and now >= self._retry_inotify and self.cfg.observer != "polling":
            self._retry_inotify = float("inf")
            self._watch()
            if self.observer is not None:
                self._rescan.set()

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
        self._check_watching(now)
        if self.kind == "inotify" and (self.observer is None or not self.observer.alive()):
            if not self.self_heal:
                return  # unhealthy: the watchdog pings stop and systemd restarts the service
            log.error("observer_died", volume=self.name)
            self.stop()
            self.start()
        if self._rescan.is_set() or (self.kind == "polling" and now >= self._next_poll) \
                or now >= self._next_reconcile:
            self._rescan.clear()
            with self._pending_lock:
                (overflows, lost_after), self._overflows = self._overflows, [0, 0]
            if overflows:
                if self.on_overflow is not None:
                    self.on_overflow(self.name, overflows)
                log.warning("event_queue_overflow", volume=self.name, overflows=overflows, events=lost_after,
                            total=self.observer.overflows if self.observer else overflows, action="rescan")
            self.reconcile()
        with self._pending_lock:
            folders, self._pending_folders = self._pending_folders, set()
        for folder in folders:
            try:
                result = scan_volume(self.name, self.root, self.store, self.settler.offer, self.ignore,
                                     start=folder, links=self.links)
            except VolumeUnavailable:
                break
            found = self._outside(result.outside)  # raised here; resolved only by a full rescan
            self._findings("volume.symlink_outside", found, tuple(f.asset.relpath for f in found))
        if settle:
            self.settler.poll()


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a folder: a new one at the same path is another folder."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
