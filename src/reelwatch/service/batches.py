"""Batches: the files checked since the last quiet moment, judged together once nothing waits.

A batch is numbered by its first check. It is finished (the pipeline's ``batch_done`` hooks, then
opt-in ASC MHL generations for the new versions in it) only when nothing is in flight, nothing is
held for MediaInfo, and the volumes stopped settling files (or the batch is ``MAX_BATCH_SECONDS``
old). While the state database cannot record, the batch waits, whole.
"""

from __future__ import annotations

import sqlite3
import time

import structlog

from ..core.manager import state_outage
from ..core.model import Asset
from ..integrity.hashing import HashCancelled
from .held import HeldFiles
from .parts import Parts
from .seal import seal

log = structlog.get_logger("reelwatch.daemon")
MAX_BATCH_SECONDS = 600.0


class Batches:
    """The open batch: its number, its assets, and which of them may be sealed."""

    def __init__(self, parts: Parts, held: HeldFiles) -> None:
        self.d = parts
        self.held = held
        self.lock = parts.work.lock  # see reelwatch.service.work
        self.assets: list[Asset] = []
        self.sealable: list[Asset] = []
        """New asset versions of the batch (not re-checks): only these may cause a new MHL generation."""
        self.number = 0
        self.open = False
        self.started = 0.0

    def _open(self) -> None:
        """Under the lock: the first check (or loss) of a batch numbers it, once."""
        if not self.open:
            self.number = self.d.store.next_batch() if self.d.store else 0
            self.open = True
            self.started = time.monotonic()

    def current(self) -> int:
        """The number of the open batch, opening one if none is."""
        with self.lock:
            self._open()
            return self.number

    def add(self, asset: Asset, *, sealable: bool) -> None:
        with self.lock:
            self.assets.append(asset)
            if sealable:
                self.sealable.append(asset)

    def gone(self, volume: str, relpath: str) -> None:
        """A file disappeared (deleted, moved away): it joins the batch, so that what it fed (the
        verdict on its card, its folder's seal) is judged again. Called from observer threads."""
        vol = self.d.volumes.get(volume)
        asset = Asset(volume=volume, root=vol.root if vol else "", relpath=relpath, size=0, mtime_ns=0)
        with self.lock:
            self._open()
            self.assets.append(asset)

    def finish(self) -> None:
        """Finish the batch if nothing waits any more."""
        d = self.d
        if d.disk is not None and d.disk.problem:
            return  # the batch waits, whole, until its findings can be recorded
        settling = sum(len(v.settler) for v in d.volumes.values())
        with self.lock:
            if not self.assets or d.work.in_flight or self.held.items:  # nothing is safe while files wait
                return
            if settling and time.monotonic() - self.started < MAX_BATCH_SECONDS:
                return
            assets, self.assets = self.assets, []
            self.open = False
            sealable, self.sealable = self.sealable, []
            batch = self.number
        assert d.pipeline is not None
        try:
            for f in d.pipeline.finish_batch(assets, batch):
                d.metrics.finding(f.rule, f.severity.label)
            if d.forecasts is not None:
                d.forecasts.cards(assets)
            if d.runtime is not None and d.store is not None:
                seal(sealable, d.runtime.config, d.store, d.store.history(batch))
        except HashCancelled:
            log.info("batch_interrupted", batch=batch)
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and d.disk is not None and (d.disk.problem or state_outage(exc)):
                # kept for when there is room again, or judged again on the journal (or on the
                # server once it is back): a batch is never dropped for a state fault
                with self.lock:
                    self.assets[:0], self.sealable[:0] = assets, sealable
                return
            log.error("batch_failed", error=f"{type(exc).__name__}: {exc}")
