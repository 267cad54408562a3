"""Copy-complete detection: a file (or an image sequence) is handed on only once its size
and mtime have stayed unchanged for the volume's ``settle`` window.

Events are triggers, not proof: a close event can come once per chunk from writers that
reopen the file, and copies in flight under temp names are ignored until renamed. The
clock is injectable so that tests can drive it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from . import sequences
from .model import Asset
from .pipeline import file_asset

Signature = tuple[int, int, int]
"""(count of files, total bytes, newest mtime_ns) of a unit."""


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


def resolve(volume: str, root: str, unit: Unit) -> tuple[Signature, Asset] | None:
    """Current signature and Asset of a unit, or None when it is gone."""
    if not unit.sequence:
        asset = file_asset(volume, root, unit.relpath)
        return None if asset is None else ((1, asset.size, asset.mtime_ns), asset)
    try:
        names = [n for n in os.listdir(Path(root) / unit.folder) if unit_of(n).name == unit.name]
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


class Settler:
    """Tracks units in flight for one volume and emits each once it is stable."""

    def __init__(self, volume: str, root: str, settle: float, emit: Callable[[Asset], None], *,
                 gone: Callable[[Unit], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.gone = gone
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
                self._pending[unit] = _Pending(None, now, now, touched_at=now)
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
                self._pending[unit] = _Pending(None, now, now)

    def poll(self) -> int:
        """Re-examine units whose window has passed; emit the stable ones. Returns emitted count."""
        now = self.clock()
        with self._lock:
            due = [(u, p) for u, p in self._pending.items() if p.check_at <= now]
        emitted = 0
        for unit, item in due:
            current = resolve(self.volume, self.root, unit)
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
                        item.sig = sig
                        item.changed_at = item.touched_at if item.touched_at > item.polled_at else now
                    item.polled_at = now
                    if now - item.changed_at < self.settle:
                        item.check_at = item.changed_at + self.settle
                        continue
                    del self._pending[unit]
                    ready = asset
            if ready is None:
                if self.gone is not None:
                    self.gone(unit)
                continue
            self.emit(ready)
            emitted += 1
        return emitted

    def next_due(self) -> float | None:
        with self._lock:
            return min((p.check_at for p in self._pending.values()), default=None)
