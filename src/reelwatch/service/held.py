"""Files held while MediaInfo cannot start: the tool's fault, not theirs, so they are never judged
meanwhile. One of them tries MediaInfo again now and then (backing off); once a worker answers,
every held file goes back to the queue. Whoever must know hears of each change once.
"""

from __future__ import annotations

import time

import structlog

from ..core.model import Asset
from .admin import Messages
from .parts import Parts
from .work import Item

log = structlog.get_logger("reelwatch.daemon")
HOLD_RETRY = (2.0, 30.0)
"""Seconds between tries of a held file while MediaInfo cannot start: first, and at most (doubling)."""


class HeldFiles:
    """Files waiting for a working MediaInfo, and the one among them trying it now."""

    def __init__(self, parts: Parts, messages: Messages) -> None:
        self.d = parts
        self.messages = messages
        self.lock = parts.work.lock  # see reelwatch.service.work
        self.items: list[Item] = []
        self._retry = (0.0, HOLD_RETRY[0])  # (when to try again, back-off)
        self.trying: Asset | None = None
        """The held file sent to try MediaInfo again: it alone passes while MediaInfo is down."""

    def __len__(self) -> int:
        return len(self.items)

    def hold(self, asset: Asset, force: bool) -> None:
        with self.lock:
            self.items.append((asset, force))

    def retry(self) -> None:
        """While MediaInfo is broken, one held file tries it again now and then (backing off);
        once a worker answers, every held file goes back to the queue."""
        pool, work = self.d.pool, self.d.work
        assert pool is not None
        now = time.monotonic()
        with self.lock:
            if not self.items:
                return
            healthy = pool.health.ok
            if not healthy and now < self._retry[0]:
                return
            take, self.items = (self.items, []) if healthy else (self.items[:1], self.items[1:])
            work.in_flight += len(take)  # in the same critical section: never "nothing waits" between
            wait = HOLD_RETRY[0] if healthy else min(self._retry[1] * 2, HOLD_RETRY[1])
            self._retry = (now + self._retry[1], wait)
        self.trying = take[0][0]
        work.put_counted(take)

    def probe_health(self, ok: bool, detail: str) -> None:
        """MediaInfo broke or came back: log, status, metrics and the admin, once per change."""
        d = self.d
        held = len(self.items)
        d.metrics.set_probe(ok, held)
        if ok:
            log.info("probe_recovered", held=held)
        else:
            log.error("probe_unavailable", problem=detail)
        if d.store is not None:  # a state database that cannot record has said so itself
            d.recorded(lambda: d.store.set_tool_status(  # type: ignore[union-attr]
                "probe", "ok" if ok else "failed", detail, held))
            d.recorded(lambda: d.store.audit(  # type: ignore[union-attr]
                "probe_recovered" if ok else "probe_unavailable", detail=detail))
        if ok:
            self.messages.tell_admin("MediaInfo is working again",
                                  "MediaInfo worker processes start again; the files that waited are being checked "
                                  "now.")
        else:
            self.messages.tell_admin("MediaInfo cannot start: new files are not being checked",
                                  f"reelwatch cannot start its MediaInfo worker processes: {detail}. New files are "
                                  "held, not judged, and are checked as soon as a worker starts again (reelwatch "
                                  "keeps trying). Check the install (pip check, the pymediainfo library), memory "
                                  "and process limits of the service.")
