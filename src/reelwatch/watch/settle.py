"""Copy-complete detection: a file (or an image sequence) is handed on only once its size
and mtime have stayed unchanged for the volume's ``settle`` window.

Events are triggers, not proof: a close event can come once per chunk from writers that
reopen the file, and copies in flight under temp names are ignored until renamed. The
clock is injectable so that tests can drive it.

What is not a regular file is never read: a link is judged by the volume's
:class:`~reelwatch.watch.links.LinkPolicy` (one leading outside is a ``volume.symlink_outside``
finding), a FIFO, socket or device node gets a debug line, and so does a file that vanished
before it settled. A file still changing ``growing_after`` seconds after it appeared is a
``volume.still_growing`` finding for the volume's owner, resolved once it settles.
"""

from __future__ import annotations

import os
import stat as statmod
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from ..core import sequences
from .links import LinkPolicy, note, odd_kind, outside_finding
from ..core.model import Asset, Finding, RuleInfo, Severity

log = structlog.get_logger("reelwatch.settle")
STILL_GROWING = RuleInfo(
    "volume.still_growing", "A file is still being written long after it appeared (a stuck copy or recorder).",
    Severity.WARNING, None, (), "A002C001.mov is still being written 1 h 0 min after it appeared")
FindingSink = Callable[[str, Sequence[Finding], tuple[str, ...]], None]
"""(rule id, the rule's current findings, the relpaths they judge): raise these, resolve the rest there."""

Signature = tuple[int, int, int]
"""(count of files, total bytes, newest mtime_ns) of a unit."""


def file_asset(volume: str, root: str | Path, relpath: str) -> Asset | None:
    """Asset for one regular file, or None when it is gone or not a regular file."""
    try:
        st = os.stat(Path(root) / relpath)
    except OSError:
        return None
    if not statmod.S_ISREG(st.st_mode):
        return None
    return Asset(volume=volume, root=str(root), relpath=relpath, size=st.st_size, mtime_ns=st.st_mtime_ns)



@dataclass(frozen=True, slots=True)
class Unit:
    """What settles together: one file, or every frame of one image sequence in a folder."""

    folder: str
    name: str
    """File name, or for a sequence its key: the frame name with the number as ``#``s."""
    sequence: bool = False

    @property
    def relpath(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name


def unit_of(relpath: str) -> Unit:
    folder, _, name = relpath.rpartition("/")
    key = sequences.frame_key(name)
    if key is None:
        return Unit(folder, name)
    base, ext, padding = key
    return Unit(folder, f"{base}{'#' * max(padding, 1)}{ext}", True)


def resolve(volume: str, root: str, unit: Unit, links: LinkPolicy | None = None) -> tuple[Signature, Asset] | None:
    """Current signature and Asset of a unit, or None when it is gone (or is no regular file).
    Links are never read unless ``links`` says they lead into a place the volume names."""
    folder = os.path.join(root, unit.folder) if unit.folder else root
    if links is not None and not links.contains(folder):
        return None  # reached through a link that leads out of the volume
    if not unit.sequence:
        path = os.path.join(folder, unit.name)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        if statmod.S_ISLNK(mode) and (links is None or links.judge(path).kind != "follow"):
            return None
        asset = file_asset(volume, root, unit.relpath)
        return None if asset is None else ((1, asset.size, asset.mtime_ns), asset)
    try:
        with os.scandir(folder) as it:
            names = [e.name for e in it if unit_of(e.name).name == unit.name and (
                e.is_file(follow_symlinks=False) or (
                    e.is_symlink() and links is not None and links.judge(e.path).kind == "follow"))]
    except OSError:
        return None
    if not names:
        return None
    _, seqs = sequences.folder_assets(volume, root, unit.folder, names)
    if not seqs:
        return None
    found = max(seqs, key=lambda a: len(a.sequence.frames) if a.sequence else 0)
    asset = replace(found, relpath=unit.relpath)
    assert asset.sequence is not None
    info = asset.sequence
    return (len(info.frames), asset.size, asset.mtime_ns), asset


@dataclass(slots=True)
class _Pending:
    sig: Signature | None
    changed_at: float
    check_at: float
    touched_at: float = float("-inf")
    """Last filesystem event for the unit."""
    polled_at: float = float("-inf")
    """Last time its size and mtime were read."""
    since: float = 0.0
    """When it started settling."""
    growing: bool = False
    """Reported as still growing (resolved when it settles or goes)."""


class Settler:
    """Tracks units in flight for one volume and emits each once it is stable."""

    def __init__(self, volume: str, root: str, settle: float, emit: Callable[[Asset], None], *,
                 gone: Callable[[Unit], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 links: LinkPolicy | None = None, growing_after: float = 0.0,
                 findings: FindingSink | None = None) -> None:
        self.gone = gone
        self.links = links
        self.growing_after = growing_after
        self.findings = findings
        self.volume = volume
        self.root = root
        self.settle = settle
        self.emit = emit
        self.clock = clock
        self._pending: dict[Unit, _Pending] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def touch(self, relpath: str) -> None:
        """Something happened to this path: (re)start its settle window."""
        unit = unit_of(relpath)
        now = self.clock()
        with self._lock:
            item = self._pending.get(unit)
            if item is None:
                self._pending[unit] = _Pending(None, now, now, touched_at=now, since=now)
            else:
                item.changed_at = item.touched_at = now
                item.check_at = min(item.check_at, now + self.settle)

    def offer(self, relpath: str) -> None:
        """A scan saw this path differ from the state database: settle it, but do not restart
        a window already running (a poll is not evidence of a new write; the settler compares
        size and mtime itself)."""
        unit = unit_of(relpath)
        now = self.clock()
        with self._lock:
            if unit not in self._pending:
                self._pending[unit] = _Pending(None, now, now, since=now)

    def poll(self) -> int:
        """Re-examine units whose window has passed; emit the stable ones. Returns emitted count."""
        now = self.clock()
        with self._lock:
            due = [(u, p) for u, p in self._pending.items() if p.check_at <= now]
        emitted = 0
        for unit, item in due:
            odd = None if unit.sequence else self._odd(unit)
            current = None if odd else resolve(self.volume, self.root, unit, self.links)
            growing: tuple[Asset, float] | None = None
            with self._lock:
                if self._pending.get(unit) is not item:
                    continue
                if current is None:
                    del self._pending[unit]
                    ready: Asset | None = None
                else:
                    sig, asset = current
                    if sig != item.sig:
                        # it changed since the last look: at the last event if one came since then
                        # (inotify), otherwise only now is known for sure (polling)
                        if item.sig is not None and self.growing_after and not item.growing \
                                and now - item.since >= self.growing_after:
                            item.growing = True
                            growing = (asset, now - item.since)
                        item.sig = sig
                        item.changed_at = item.touched_at if item.touched_at > item.polled_at else now
                    item.polled_at = now
                    if now - item.changed_at < self.settle:
                        item.check_at = item.changed_at + self.settle
                        ready = None
                    else:
                        del self._pending[unit]
                        ready = asset
            if growing is not None:
                self._report_growing(unit, *growing)
            if current is not None and ready is None:
                continue  # still settling
            if item.growing and self.findings is not None:
                self.findings(STILL_GROWING.id, [], (unit.relpath,))  # it stopped, or went: resolved
            if ready is None:
                if odd is None:
                    log.debug("vanished", volume=self.volume, path=unit.relpath, reason="gone before it settled")
                if self.gone is not None:
                    self.gone(unit)
                continue
            self.emit(ready)
            emitted += 1
        return emitted

    def _odd(self, unit: Unit) -> str | None:
        """Handle a path that is no regular file (a link, FIFO, socket, device); None otherwise."""
        path = os.path.join(self.root, unit.relpath)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        if statmod.S_ISLNK(mode):
            if self.links is None:
                return "link"
            link = self.links.judge(path)
            if link.kind == "follow" and not link.is_dir:
                return None
            if link.kind == "outside" and self.findings is not None:
                self.findings("volume.symlink_outside",
                              [outside_finding(self.volume, self.root, unit.relpath, link)], (unit.relpath,))
            else:
                note(self.volume, unit.relpath, link)
            return "link"
        if statmod.S_ISREG(mode):
            return None
        kind = odd_kind(mode)
        log.debug("not_a_file", volume=self.volume, path=unit.relpath, kind=kind)
        return kind

    def _report_growing(self, unit: Unit, asset: Asset, seconds: float) -> None:
        if self.findings is None:
            return
        minutes = int(seconds // 60)
        age = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else (
            f"{minutes} min" if minutes else f"{int(seconds)} s")
        finding = Finding(
            rule=STILL_GROWING.id, severity=STILL_GROWING.severity, asset=asset,
            message=f"the file is still being written {age} after it appeared (now {asset.size:,} bytes), "
                    "so it has not been checked yet",
            impacts=STILL_GROWING.impacts,
            expected="a copy or render that finishes and then stays unchanged",
            impact="until it stops changing nobody knows whether it is complete; a stuck copy never finishes",
            fix="find the copy, render or recorder writing it: if it is stuck, stop it and copy the file again; "
                "if it is meant to run this long, raise alert_growing_after for this volume",
            details={"seconds": round(seconds), "size": asset.size})
        self.findings(STILL_GROWING.id, [finding], (unit.relpath,))

    def next_due(self) -> float | None:
        with self._lock:
            return min((p.check_at for p in self._pending.values()), default=None)
