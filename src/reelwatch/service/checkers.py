"""The checker threads: each takes a file from the work queue and runs the pipeline on it.

As many checkers as MediaInfo workers. A checker that starts a long hash is replaced while it
hashes (at most one extra per worker), so the files behind it are not kept waiting; it retires
when its hash is done. One file never kills a checker: what fails is logged and, when the
state database cannot record or MediaInfo cannot start, held rather than dropped.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import structlog

from ..integrity.hashing import HashCancelled
from ..integrity.hashjobs import LongHash
from ..probe.pool import ProbeUnavailable
from .batches import Batches
from .held import HeldFiles
from .parts import Parts

log = structlog.get_logger("reelwatch.daemon")


class Checkers:
    """The checker threads and the ones retiring after a long hash."""

    def __init__(self, parts: Parts, held: HeldFiles, batches: Batches) -> None:
        self.d = parts
        self.held = held
        self.batches = batches
        self.lock = parts.work.lock
        self.threads: list[threading.Thread] = []
        self._retiring: set[int] = set()

    def add(self) -> None:
        t = threading.Thread(target=self._run, name=f"reelwatch-check-{len(self.threads)}", daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self) -> None:
        """Every checker leaves once the queue in front of its stop signal is done."""
        for _ in self.threads:
            self.d.work.queue.put(None)
        for t in list(self.threads):
            t.join(60)

    def long_hash(self, job: LongHash) -> None:
        """A checker starts a long hash: another checker takes its place, so the files behind it
        are not kept waiting (at most one extra per probe worker); it retires when done."""
        log.info("long_hash", path=job.path, algo=job.algo, size=job.size, waiting=job.waiting)
        me = threading.get_ident()
        with self.lock:
            if not any(t.ident == me for t in self.threads) or me in self._retiring:
                return
            if len(self._retiring) >= (self.d.pool.size if self.d.pool else 1):
                return
            self._retiring.add(me)
        self.add()

    @staticmethod
    def long_hash_done(job: LongHash) -> None:
        log.info("long_hash_done", path=job.path, algo=job.algo, size=job.size, done=job.done,
                 seconds=round(time.monotonic() - job.started, 1))

    def _retired(self, me: int) -> bool:
        with self.lock:
            if me in self._retiring:  # its long hash is done; the checker that took its place stays
                self._retiring.discard(me)
                self.threads = [t for t in self.threads if t.ident != me]  # retired, not dead
                return True
        return False

    def _run(self) -> None:
        d, me = self.d, threading.get_ident()
        while not self._retired(me):
            item = d.work.queue.get()
            if item is None:
                return
            asset, force = item
            claimed = False
            try:
                if d.disk is not None and d.disk.problem:
                    d.disk.hold(item)  # checked once the state database can record it again
                    continue
                assert d.pool is not None and d.pipeline is not None
                if not d.pool.health.ok and asset != self.held.trying:
                    self.held.hold(asset, force)  # one held file at a time tries MediaInfo again
                    continue
                claimed = d.work.claim(asset)
                if not claimed:
                    continue
                batch = self.batches.current()
                began = time.monotonic()
                before = d.forecasts.before(asset) if d.forecasts and not force else None
                found = d.pipeline.process(asset, batch, force=force)
                if found is not None:
                    if d.forecasts is not None and not force:
                        d.forecasts.landed(asset, before)
                    d.metrics.file_checked(asset.volume, time.monotonic() - began)
                    for f in found:
                        d.metrics.finding(f.rule, f.severity.label)
                    self.batches.add(asset, sealable=not force)
            except ProbeUnavailable:  # the tool is broken, not the file: nothing recorded, tried again
                self.held.hold(asset, force)
            except HashCancelled:  # stopping: not recorded, so it is checked again on the next start
                log.info("check_interrupted", volume=asset.volume, path=asset.relpath)
            except Exception as exc:  # one file never kills the daemon
                if isinstance(exc, sqlite3.Error) and d.disk is not None and (d.disk.problem or d.disk.offline):
                    d.disk.hold(item)  # not recorded: held, never dropped (offline: checked on the journal)
                    continue
                log.error("check_failed", volume=asset.volume, path=asset.relpath,
                          error=f"{type(exc).__name__}: {exc}")
            finally:
                d.work.done(asset, claimed)
                if d.outbox:
                    d.outbox.wake.set()
