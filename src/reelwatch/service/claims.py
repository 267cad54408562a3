"""Shared work on a shared volume: nodes of a fleet that mount the same NAS check each version once.

Every node watching the volume sees every file and queues it; the checker that takes a version
first claims it in the database (:mod:`reelwatch.state.claims`), and the others let it wait here
instead of checking it again. A waiting version stays counted in flight, so no batch on this
node is judged (no card called safe) while another node is still checking part of it.

Each control tick (:meth:`SharedWork.tick`) this node renews the leases of what it checks and
looks at what waits:

* the holder released it and the check is recorded: nothing to do here (the audit names the
  node that checked it);
* the holder released it without recording a check (its probe tool failed, it was stopped),
  or its lease ran out (killed, frozen, cut off): it goes back to this node's queue, and is
  claimed and checked here;
* the file changed meanwhile: the waiting version is stale, and the new one is settled and
  queued as any change is (a claim on the old version never hides the new one).

After a check, a node whose file has changed since (a re-write while it checked) hands the path
to the volume's settler: the newest version is checked once it stopped changing, even if the
older check was committed last.

With SQLite the daemon takes no claims (one node): nothing here runs and nothing is slower.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ..core.manager import state_outage
from ..core.model import Asset
from ..state import claims
from ..state.claims import Version
from ..state.store import Store
from .work import Item, Work

log = structlog.get_logger("reelwatch.claims")


@dataclass
class Waiting:
    asset: Asset
    force: bool
    holder: str


class SharedWork:
    """This node's claims on the versions it checks, and the versions other nodes are checking."""

    def __init__(self, store: Store, node: str, lease: float, work: Work,
                 touch: Callable[[str, str], None] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.node = node
        self.lease = lease
        self.work = work
        self.touch = touch
        """Hands (volume, relpath) to that volume's settler: a file that changed while it was checked."""
        self.clock = clock
        self.waiting: dict[tuple[Version, bool], Waiting] = {}
        """Versions another node holds, by (version, force); counted in ``work.in_flight``."""
        self._lock = work.lock  # see reelwatch.service.work: "nothing waits" is judged under it
        self._renew_at = 0.0
        self._offline_said = False
        self.taken_over = 0
        """Versions this node checked because their holder's lease ran out."""

    def start(self) -> None:
        """What this node held in an earlier life (killed) is not being checked: let it go now."""
        try:
            gone = claims.forget(self.store, self.node)
        except Exception as exc:  # noqa: BLE001  unreachable now: they run out by themselves
            log.warning("claims_not_forgotten", node=self.node, error=type(exc).__name__)
            return
        if gone:
            log.warning("claims_forgotten", node=self.node, claims=gone,
                        reason="held by this node before it restarted; other nodes may check them now")

    # -- from the checker threads -----------------------------------------------------------
    def claim(self, asset: Asset, force: bool) -> bool:
        """True: this node checks the version now (then :meth:`release` it). False: another node
        is checking it; it waits here, still counted in flight, until that is settled."""
        key = claims.version(asset)
        try:
            holder = claims.claim(self.store, key, self.node, self.lease, self.clock())
        except Exception as exc:
            if state_outage(exc):  # checked here: twice at worst, never not at all
                if not self._offline_said:
                    self._offline_said = True
                    log.warning("claims_unavailable", node=self.node, action="checking without claims")
                return True
            raise
        self._offline_said = False
        if holder is None:
            return True
        with self._lock:
            self.work.in_flight += 1  # the checker's done() takes one away: it stays counted
            self.waiting[(key, force)] = Waiting(asset, force, holder.node)
        log.debug("claimed_elsewhere", volume=asset.volume, path=asset.relpath, node=holder.node)
        return False

    def release(self, asset: Asset) -> None:
        """After the check was committed (or given up): let the claim go; if the file changed
        while it was checked, have the newest version settled and checked."""
        try:
            claims.release(self.store, claims.version(asset), self.node)
        except Exception as exc:  # noqa: BLE001  the lease runs out by itself; then it is only re-read
            log.warning("claim_release_failed", volume=asset.volume, path=asset.relpath, error=type(exc).__name__)
        if asset.sequence is None and self.touch is not None and self._changed(asset) is not None:
            self.touch(asset.volume, asset.relpath)

    @staticmethod
    def _changed(asset: Asset) -> tuple[int, int] | None:
        """The file's (size, mtime_ns) now, when it is not the version given; None otherwise."""
        try:
            st = os.stat(asset.path)
        except OSError:
            return None  # gone: the watcher marks it gone
        now = (st.st_size, st.st_mtime_ns)
        return now if now != (asset.size, asset.mtime_ns) else None

    # -- from the control thread -------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock()
        if now >= self._renew_at:
            self._renew_at = now + self.lease / 3
            claims.renew(self.store, self.node, now + self.lease)
        if self.waiting:
            self._settle(now)

    def _settle(self, now: float) -> None:
        live = claims.held(self.store)
        with self._lock:
            items = list(self.waiting.items())
        back: list[tuple[tuple[Version, bool], Item]] = []
        drop: list[tuple[Version, bool]] = []
        for k, w in items:
            holder = live.get(k[0])
            if holder is not None and holder.node != self.node and holder.lease_until >= now:
                continue  # still being checked there
            if self._changed(w.asset) is not None:
                drop.append(k)  # stale: the new version is settled and queued by the watcher
            elif holder is not None and holder.node != self.node:
                log.warning("claim_expired", volume=w.asset.volume, path=w.asset.relpath, node=holder.node,
                            action="checking it here")
                self.taken_over += 1
                back.append((k, (w.asset, w.force)))
            elif holder is None and not w.force and self.store.is_checked(w.asset):
                drop.append(k)  # checked and recorded by the node that held it
            else:
                back.append((k, (w.asset, w.force)))  # released unchecked (or a forced re-check): ours now
        if not back and not drop:
            return
        with self._lock:
            for k in drop:
                if self.waiting.pop(k, None) is not None:
                    self.work.in_flight -= 1
            again = [item for k, item in back if self.waiting.pop(k, None) is not None]
        self.work.put_counted(again)  # already counted in flight

    def __len__(self) -> int:
        return len(self.waiting)


def wire(store: Store, work: Work, volumes: Mapping[str, Any], node: str, lease: float) -> SharedWork | None:
    """The daemon's shared work, for a fleet's PostgreSQL state; None with SQLite (one node).
    ``volumes`` is the daemon's live map of volumes (drives come and go)."""
    if store.backend != "postgresql":
        return None

    def touch(volume: str, relpath: str) -> None:
        vol = volumes.get(volume)
        if vol is not None:
            vol.touch(relpath)

    store.node = node  # each check's audit row names the node that made it
    shared = SharedWork(store, node, lease, work, touch)
    shared.start()
    return shared
