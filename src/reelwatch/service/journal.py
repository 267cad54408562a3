"""The daemon of a fleet's node keeps guarding while the fleet's database is away.

Carts lose the network on set. When the PostgreSQL server cannot be reached, the store is
switched to the node's journal (:mod:`reelwatch.state.journal`) and the daemon goes on: files
are checked, findings recorded, each role's digest sent from the journal (the node is a fleet of
one meanwhile), escalations made on the node's own findings. It says that it is **offline**,
once and everywhere: the log, ``reelwatch status`` (read from the journal when the server cannot
be reached), the ``reelwatch_degraded{reason="state_database_offline"}`` metric, the systemd
status line and a message to the admin straight through any channel.

A thread tries the server every :data:`PROBE_EVERY` seconds. Once it answers, the control thread
replays the journal into it (one transaction; the store's lock held, so nothing is written to
the journal meanwhile), switches the store back, and tells the admin what was replayed. A node
that starts while the server is away starts on its journal (offline from the start); one that
starts with an unreplayed journal and a server that answers replays it before anything else.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from typing import Any

import structlog

from ..core.model import Message
from ..state import journal
from ..state.connect import open_state
from ..state.dbfile import open_db
from ..state.pg import StateUnavailable, display_url, open_pg, read_password
from ..state.store import Store
from . import forecast_store
from .admin import Messages
from .parts import Parts

log = structlog.get_logger("reelwatch.daemon")
PROBE_EVERY = 2.0
"""Seconds between tries of the fleet's database while offline."""
REFRESH_EVERY = 1.0
"""Seconds between copies of this node's newly checked asset rows into the journal while online
(two indexed queries; a file checked in the last second before the network goes is checked again
if the node rescans offline)."""
OFFLINE = "state database offline"


class Offline:
    """The journal of a fleet's node, and going offline and back (see the module docstring)."""

    def __init__(self, parts: Parts, messages: Messages) -> None:
        self.d = parts
        self.messages = messages
        self.config: Any = None
        self.path: Any = None
        self.jdb: Any = None
        """The journal's own connection (the store uses it while offline)."""
        self.since: float | None = None
        self.node = ""
        self.volumes: list[str] = []
        self._password: str | None = None
        self._away: Any = None  # the fleet's connection that failed, closed once back
        self._back: tuple[Any, bytes] | None = None
        self._probe: threading.Thread | None = None
        self._stop = threading.Event()
        self._refreshed = 0.0

    @property
    def offline(self) -> bool:
        return self.since is not None

    # -- start --------------------------------------------------------------------------------
    def open(self, config: Any) -> Store:
        """The daemon's store: the fleet's database; or, when it cannot be reached and this node
        has a journal, the journal (offline from the start). SQLite state: just the file."""
        self.config = config
        if not config.state.url:
            return open_state(config)
        import socket
        self.node = config.state.node or socket.gethostname()
        self.volumes = [v.name for v in config.volumes]
        self.path = journal.journal_path(config)
        self._password = read_password(config.resolve(config.state.password_file)
                                       if config.state.password_file else None)
        try:
            store = open_state(config)
        except StateUnavailable as exc:
            store = Store(self.path)  # the journal: its copy of our assets, the fleet's salt of target ids
            store.switch(store.db, str(self.path), journal.salt_of(store.db))
            self.jdb = store.db
            self._went(exc, store)
            return store
        try:
            self.jdb, _ = open_db(str(self.path))
        except Exception as exc:  # noqa: BLE001  (a damaged or unwritable journal must not stop the guard)
            log.error("journal_unavailable", journal=str(self.path), error=f"{type(exc).__name__}: {exc}",
                      action="without a journal, new files are held while the database is away")
            return store
        if journal.offline_since(self.jdb) is not None:  # stopped while offline: replay first
            self._replay(store, store.db, store._salt)  # noqa: SLF001  (the fleet's salt, kept)
        self._refresh(store)
        return store

    # -- going offline ------------------------------------------------------------------------
    def went_away(self, exc: BaseException) -> bool:
        """The store found the fleet's database unreachable (any thread, the store's lock may be
        held): switch to the journal and say so. False when this node has no journal."""
        store = self.d.store
        if self.jdb is None or store is None:
            return False
        with store.lock:
            if self.offline:
                return True
            self._away = store.switch(self.jdb, str(self.path), store._salt)  # noqa: SLF001
            self._went(exc, store)
        return True

    def _went(self, exc: BaseException, store: Store) -> None:
        now = time.time()
        reason = str(exc).split("\n")[0][:300]
        journal.begin(store.db, now, self.node, reason)
        try:
            forecast_store.ensure_table(store)  # what the forecasts record, offline too
        except sqlite3.Error as err:
            log.warning("journal_table_failed", journal=str(self.path), error=str(err))
        self.since = journal.offline_since(store.db) or now
        d = self.d
        if d.disk is not None:
            d.disk.offline = self.since
        d.metrics.set_degraded(OFFLINE, True)
        log.error("state_offline", node=self.node, journal=str(self.path), error=reason,
                  action="checking and alerting from the local journal until the database is back")
        d.sd.status(f"offline: {OFFLINE}, guarding from the journal {self.path}")
        self._tell(reason)  # (at start there is no outbox yet: told_at_start())
        self._start_probe()

    def _tell(self, reason: str) -> None:
        where = display_url(self.config.state.url)
        self.messages.alert(f"{self.node}: state database unreachable, guarding offline from its journal",
                            f"reelwatch on {self.node} cannot reach the fleet's state database {where} ({reason}). "
                            "It keeps checking every volume and alerting from its local journal "
                            f"({self.path}); as soon as the database answers it replays what happened there. Other "
                            "nodes do not see this node's findings meanwhile, and acks made elsewhere reach it only "
                            "then. Check the network and the database server.")

    def told_at_start(self) -> None:
        """Offline from the start: the admin hears it once the outbox exists."""
        if self.offline:
            self._tell("unreachable at start")

    # -- the probe ----------------------------------------------------------------------------
    def _start_probe(self) -> None:
        if self._probe is not None and self._probe.is_alive():
            return
        self._probe = threading.Thread(target=self._try, name="reelwatch-state-probe", daemon=True)
        self._probe.start()

    def _try(self) -> None:
        while not self._stop.wait(PROBE_EVERY):
            try:
                self._back = open_pg(self.config.state.url, self._password)
                return
            except Exception as exc:  # noqa: BLE001  still away: try again
                log.debug("state_still_offline", error=type(exc).__name__)

    # -- the control thread -------------------------------------------------------------------
    def tick(self) -> None:
        """From the control loop: while online, keep the journal's copy of our assets; while
        offline, give back files held when the switch happened, and replay once the server answers."""
        d = self.d
        if self.jdb is None or d.store is None:
            return
        if not self.offline:
            if time.monotonic() - self._refreshed >= REFRESH_EVERY:
                self._refresh(d.store)
            return
        if d.disk is not None and not d.disk.problem and d.disk.held:
            for asset, force in d.disk.clear():  # failed on the fleet's database: checked on the journal
                d.work.put(asset, force)
        if self._back is None:
            if self._probe is None or not self._probe.is_alive():
                self._start_probe()
            return
        (db, salt), self._back = self._back, None
        self._replay(d.store, db, salt)

    def _refresh(self, store: Store) -> None:
        self._refreshed = time.monotonic()
        try:
            journal.refresh(store, self.jdb, self.volumes, store._salt)  # noqa: SLF001
        except Exception as exc:  # noqa: BLE001  the copy is a convenience: never stops the guarding
            log.warning("journal_refresh_failed", journal=str(self.path), error=f"{type(exc).__name__}: {exc}")

    def _replay(self, store: Store, db: Any, salt: bytes) -> None:
        """Replay the journal into ``db`` (the fleet's connection) and switch the store to it."""
        since = journal.offline_since(self.jdb)
        # between two rounds of the outbox: a message half sent from the journal is recorded there first
        rounds = self.d.outbox.ticking if self.d.outbox is not None else contextlib.nullcontext()
        with rounds, store.lock:
            try:
                counts = journal.replay(self.jdb, db, self.node)
            except Exception as exc:  # noqa: BLE001  the server went again, or a row it refuses: stay offline
                log.error("journal_replay_failed", journal=str(self.path), error=f"{type(exc).__name__}: {exc}",
                          action="still offline; trying again")
                if db is not store.db:
                    db.close()
                if self.offline:
                    self._start_probe()
                return
            journal.reset(self.jdb)
            if store.db is not db:
                store.switch(db, db.url, salt)
        away, self._away = self._away, None
        if away is not None:
            with contextlib.suppress(Exception):  # a pool of dead connections
                away.close()
        seconds = round(time.time() - since, 1) if since else 0.0
        was_offline, self.since = self.offline, None
        d = self.d
        if d.disk is not None:
            d.disk.offline = None
        d.metrics.set_degraded(OFFLINE, False)
        d.recorded(lambda: store.audit("state_online", node=self.node, seconds=seconds, replayed=counts))
        log.warning("state_online", node=self.node, seconds=seconds, **counts)
        if counts and (was_offline or since) and d.outbox is not None and d.runtime is not None:
            admin = d.outbox._admin_role() or "admin"  # noqa: SLF001  (where the alert went)
            text = (f"reelwatch on {self.node} reaches the fleet's state database again after {seconds:.0f} s offline "
                    f"and replayed its journal: {counts['findings']} new finding(s), {counts['merged']} the fleet "
                    f"knew already, {counts['resolved']} resolved meanwhile, {counts['messages']} message(s) sent "
                    f"offline recorded as sent, {counts['notices']} notice(s), {counts['events']} event(s) of "
                    "history in their own time order.")
            d.recorded(lambda: d.outbox.enqueue(Message(  # type: ignore[union-attr]
                role=admin, production=d.runtime.config.production.name,  # type: ignore[union-attr]
                kind="admin", subject=f"{self.node}: state database reachable again: back online, journal replayed", text=text)))
        elif counts:
            log.info("journal_replayed_at_start", **counts)
        self._refresh(store)

    def close(self) -> None:
        self._stop.set()
        if self._back is not None:
            self._back[0].close()
            self._back = None
        if self.jdb is not None and (self.d.store is None or self.d.store.db is not self.jdb):
            self.jdb.close()
