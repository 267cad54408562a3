"""The work between the watchers and the checkers: the queue, what is in flight, and the one lock.

The lock is shared with :mod:`.batches` and :mod:`.held` on purpose: a batch is finished only
when nothing is in flight and nothing is held, and a held file goes back to the queue in the
same critical section that counts it in flight again, so "nothing is waiting" is never seen
between the two (a verdict of "safe" must not be given while a file of its card waits).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable

from ..core.model import Asset

Item = tuple[Asset, bool]
"""(asset, force): force re-checks a version already checked (a history or manifest changed)."""


class Work:
    """The work queue, the count of files between queued and done, and the versions being checked."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Item | None] = queue.Queue()
        """``None`` is a checker's stop signal."""
        self.lock = threading.Lock()
        self.in_flight = 0
        self._checking: set[tuple[str, str, int, int]] = set()

    def put(self, asset: Asset, force: bool = False) -> None:
        with self.lock:
            self.in_flight += 1
        self.queue.put((asset, force))  # never blocks: back-pressure is applied before settling

    def put_counted(self, items: Iterable[Item]) -> None:
        """Queue items already counted in flight (under :attr:`lock`, by the caller)."""
        for item in items:
            self.queue.put(item)

    def qsize(self) -> int:
        return self.queue.qsize()

    def claim(self, asset: Asset) -> bool:
        """Take an asset version for checking; False when another checker has it now (a rescan
        queued it again while it was being checked, e.g. during a long hash)."""
        key = (asset.volume, asset.relpath, asset.size, asset.mtime_ns)
        with self.lock:
            if key in self._checking:
                return False
            self._checking.add(key)
            return True

    def done(self, asset: Asset, claimed: bool) -> None:
        """One queued item is over (checked, held, failed or skipped)."""
        with self.lock:
            self.in_flight -= 1
            if claimed:
                self._checking.discard((asset.volume, asset.relpath, asset.size, asset.mtime_ns))
