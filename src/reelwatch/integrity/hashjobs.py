"""Hashing for the rules: one hash per file version, stoppable at once, long ones reported.

A :class:`Hashes` is what the state database calls to hash a file (``Store.hasher``), in the
daemon and in ``reelwatch check``:

* one hash per file version: a second rule asking for the same (path, algorithm) while it is
  being hashed waits for that hash instead of reading the file again (the ASC MHL verify, the
  manifest check and the mirror comparison of the same copy share it);
* a hash stops within one read (1 MiB) of :attr:`Hashes.cancel` being set, raising
  :class:`~reelwatch.integrity.hashing.HashCancelled` (shutdown, Ctrl-C): a 1 TB file listed in a
  manifest never holds up a stop;
* a long hash (``long_bytes`` and more) is announced through ``on_long`` before it starts,
  so that the daemon can put another checker beside it, and its progress can be read with
  :meth:`Hashes.progress` (status, logs) or followed with ``on_progress`` (a progress bar).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from ..core.wording import human_size
from .hashing import hash_file

LONG_BYTES = 1 << 30
"""A hash of this many bytes or more is long: about 1.5 s of md5 from the page cache, several
seconds from a spinning disk."""


@dataclass
class LongHash:
    """A long hash in progress."""

    path: str
    algo: str
    size: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    waiting: bool = False
    """True for a caller that waits for another's hash of the same file (it reads nothing)."""

    def describe(self) -> str:
        pct = 100 * self.done / self.size if self.size else 100.0
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        left = f", about {_duration((self.size - self.done) / rate)} left" if rate > 0 and self.done else ""
        return f"{self.algo} of {os.path.basename(self.path)}: {pct:.0f}% of {human_size(self.size)}{left}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Hashes:
    """``hasher(path, algo) -> hex digest`` with sharing, cancelling and long-hash reporting.

    ``on_long(job)`` is called in the hashing thread before a long hash starts; ``on_progress
    (job, n)`` after every read of one (from hashing threads, possibly several at once).
    """

    def __init__(self, *, long_bytes: int = LONG_BYTES, on_long: Callable[[LongHash], None] | None = None,
                 on_progress: Callable[[LongHash, int], None] | None = None,
                 on_done: Callable[[LongHash], None] | None = None) -> None:
        self.cancel = threading.Event()
        self.long_bytes = long_bytes
        self.on_long = on_long
        self.on_progress = on_progress
        self.on_done = on_done
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str, int, int], Future[str]] = {}
        self._long: dict[int, LongHash] = {}

    def __call__(self, path: str, algo: str) -> str:
        st = os.stat(path)
        key = (path, algo, st.st_size, st.st_mtime_ns)
        with self._lock:
            running = self._running.get(key)
            mine = running is None
            if mine:
                running = self._running[key] = Future()
        assert running is not None
        if not mine:
            if st.st_size >= self.long_bytes and self.on_long is not None:
                self.on_long(LongHash(path, algo, st.st_size, waiting=True))  # this caller is held up too
            return running.result()  # raises what the first hash raised (OSError, HashCancelled)
        try:
            digest = self._hash(path, algo, st.st_size)
        except BaseException as exc:
            running.set_exception(exc)
            raise
        else:
            running.set_result(digest)
            return digest
        finally:
            with self._lock:
                del self._running[key]

    def _hash(self, path: str, algo: str, size: int) -> str:
        if size < self.long_bytes:
            return hash_file(path, algo, cancel=self.cancel)
        job = LongHash(path, algo, size)
        with self._lock:
            self._long[id(job)] = job
        try:
            if self.on_long is not None:
                self.on_long(job)

            def advance(n: int) -> None:
                job.done += n
                if self.on_progress is not None:
                    self.on_progress(job, n)

            return hash_file(path, algo, cancel=self.cancel, progress=advance)
        finally:
            with self._lock:
                del self._long[id(job)]
            if self.on_done is not None:
                self.on_done(job)

    def progress(self) -> list[LongHash]:
        """The long hashes running now, oldest first."""
        with self._lock:
            return sorted(self._long.values(), key=lambda j: j.started)
