"""One observer per volume: inotify where the path is local, polling where it is a share.

The event handler only hands paths to the settler; it never checks anything. inotify sees
nothing written to an SMB or NFS mount by another machine, so shares are polled with our
own streaming scanner (see :mod:`reelwatch.scan`) instead of watchdog's PollingObserver,
which keeps whole-tree snapshots in memory.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEvent,
                             FileSystemEventHandler)
from watchdog.observers import Observer

log = structlog.get_logger("reelwatch.watch")
NETWORK_FS = ("cifs", "smb3", "smbfs", "nfs", "nfs4", "afs", "9p", "ceph", "glusterfs", "lustre")
WATCH_LIMIT_FILE = Path("/proc/sys/fs/inotify/max_user_watches")


@dataclass(frozen=True, slots=True)
class MountInfo:
    mountpoint: str
    fstype: str

    @property
    def is_network(self) -> bool:
        return self.fstype in NETWORK_FS or self.fstype.startswith("fuse.") or self.fstype == "fuse"


def mount_of(path: str, mounts_file: str = "/proc/self/mounts") -> MountInfo | None:
    """The mount that holds ``path`` (longest matching mount point), from the mount table."""
    target = os.path.realpath(path)
    best: MountInfo | None = None
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if target == point or target.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) > len(best.mountpoint):
                best = MountInfo(point, fields[2])
    return best


def watch_limit() -> int | None:
    try:
        return int(WATCH_LIMIT_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def count_folders(root: str, stop_after: int) -> int:
    """Folders under ``root`` (itself included), stopping early past ``stop_after``."""
    count, stack = 0, [root]
    while stack and count <= stop_after:
        path = stack.pop()
        count += 1
        try:
            with os.scandir(path) as it:
                stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
    return count


def choose_observer(setting: str, root: str, *, limit: int | None = None) -> tuple[str, str]:
    """(``inotify`` | ``polling``, reason). The reason is said in the log and in status."""
    if setting == "polling":
        return "polling", "configured"
    mount = mount_of(root)
    if setting == "auto" and mount is not None and mount.is_network:
        return "polling", f"{mount.fstype} share at {mount.mountpoint}: inotify cannot see other machines' writes"
    limit = watch_limit() if limit is None else limit
    if limit is not None:
        needed = count_folders(root, limit)
        if needed > limit * 0.9:
            return "polling", (f"the tree has more folders than the inotify watch limit allows ({limit}); "
                               f"raise it with: sysctl fs.inotify.max_user_watches={max(needed * 2, 524288)}")
    return "inotify", "local file system"


class _Handler(FileSystemEventHandler):
    def __init__(self, root: str, touch: Callable[[str], None], gone: Callable[[str], None],
                 folder_in: Callable[[str], None], folder_out: Callable[[str], None]) -> None:
        self.root = root.rstrip("/")
        self.touch, self.gone, self.folder_in, self.folder_out = touch, gone, folder_in, folder_out

    def _rel(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        if path == self.root or not path.startswith(self.root + "/"):
            return None
        return path[len(self.root) + 1:]

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._dispatch(event)
        except Exception as exc:  # never let one odd event kill the observer thread
            log.error("event_failed", error=f"{type(exc).__name__}: {exc}")

    def _dispatch(self, event: FileSystemEvent) -> None:
        if isinstance(event, DirMovedEvent | DirCreatedEvent):
            # files inside a folder moved in produce no events of their own
            if isinstance(event, DirMovedEvent):
                src = self._rel(event.src_path)
                if src is not None:
                    self.folder_out(src)
            rel = self._rel(event.dest_path if isinstance(event, DirMovedEvent) else event.src_path)
            if rel is not None:
                self.folder_in(rel)
            return
        if event.is_directory:
            if isinstance(event, DirDeletedEvent):
                rel = self._rel(event.src_path)
                if rel is not None:
                    self.folder_out(rel)
            return
        if isinstance(event, FileMovedEvent):
            src, dest = self._rel(event.src_path), self._rel(event.dest_path)
            if src is not None:
                self.gone(src)
            if dest is not None:
                self.touch(dest)
            return
        if isinstance(event, FileCreatedEvent | FileModifiedEvent | FileClosedEvent):
            rel = self._rel(event.src_path)
            if rel is not None:
                self.touch(rel)
        elif isinstance(event, FileDeletedEvent):
            rel = self._rel(event.src_path)
            if rel is not None:
                self.gone(rel)


class OverflowWatch(logging.Handler):
    """watchdog reports an inotify queue overflow only as a log WARNING: turn it into a rescan."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class VolumeObserver:
    """An inotify observer for one volume, restartable; polling volumes have none."""

    def __init__(self, root: str, touch: Callable[[str], None], gone: Callable[[str], None],
                 folder_in: Callable[[str], None], folder_out: Callable[[str], None]) -> None:
        self.root = root
        self.handler = _Handler(root, touch, gone, folder_in, folder_out)
        self.observer: threading.Thread | None = None

    def start(self) -> None:
        observer = Observer()
        observer.schedule(self.handler, self.root, recursive=True)
        observer.daemon = True
        observer.start()
        self.observer = observer

    def alive(self) -> bool:
        return self.observer is not None and self.observer.is_alive()

    def stop(self) -> None:
        observer, self.observer = self.observer, None
        if observer is not None:
            try:
                observer.stop()  # type: ignore[attr-defined]
                observer.join(5)
            except Exception as exc:
                log.warning("observer_stop_failed", error=f"{type(exc).__name__}: {exc}")
