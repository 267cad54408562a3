"""The long-running daemon: volumes -> settler -> work queue -> checkers -> store -> outbox.

Threads: one control thread (volume health, polling, settling, sd_notify), N checker
threads feeding the MediaInfo process pool (the bounded queue gives back-pressure), and
the outbox worker. Signals: SIGTERM/SIGINT drain in-flight work and exit; SIGHUP
validates the new config and swaps it in, or keeps the old one and says why.

:class:`Daemon` wires its collaborators, each with one job, and runs the control loop:
:mod:`.drives` (volumes, and drives under mount roots), :mod:`.checkers` (the checker threads),
:mod:`.batches` (judging a batch once nothing waits), :mod:`.held` (files waiting for MediaInfo),
:mod:`.histories` (re-verifying folders whose ASC MHL history changed), :mod:`.status` (status
rows, systemd status and watchdog pings), :mod:`.admin` (messages about the watching itself),
:mod:`.statefaults` (a state database that cannot record), :mod:`.reload` (SIGHUP) and
:mod:`.health` (threads that died).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from ..checking.pipeline import Pipeline
from ..checking.runtime import load_runtime
from ..core.model import Finding, Message
from ..core.redact import Redactor
from ..integrity.hashjobs import Hashes
from ..notify.outbox import Outbox, OutboxWorker
from ..notify.thumbs import Thumbnails
from ..probe.pool import ProbePool
from ..state.dbfile import StateCorrupt
from ..state.schema import StateRefused
from ..state.disk import CORRUPT, StateDisk
from .admin import Messages
from .batches import Batches
from .checkers import Checkers
from .claims import wire as wire_claims
from .drives import Drives
from .forecasts import Forecasts
from .fleet import FleetMember
from .fleetcopies import FleetCopies
from .health import Supervisor, dead_threads
from .held import HeldFiles
from .histories import Reverify
from .journal import Offline
from .metrics import Metrics, MetricsServer
from .parts import Parts
from .reload import Reloader
from .statefaults import StateFaults
from .status import Status
from .systemd import Notifier
from .timelines import wire as wire_timelines
from .work import Work

QUEUE_HIGH_WATER = 256
log = structlog.get_logger("reelwatch.daemon")


class Daemon(Parts):
    """``reelwatch run``. Construct, then :meth:`run` (blocks until stopped)."""

    def __init__(self, config_path: str | Path, *, env: Mapping[str, str] | None = None,
                 tick: float = 0.2, redactor: Redactor | None = None) -> None:
        self.redactor = redactor
        self.config_path = str(config_path)
        self.env = dict(os.environ if env is None else env)
        self.tick_seconds = tick
        self.volumes = {}
        self.work = Work()
        self.queue = self.work.queue
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.sd = Notifier(self.env)
        self.control: threading.Thread | None = None
        self.metrics = Metrics()
        self.metrics_server: MetricsServer | None = None
        self.web: Any = None  # the pages, when [web] listen is set (reelwatch.web.serve.WebThread)
        self.thumbs: Thumbnails | None = None
        self._control_error = ("", 0.0)
        self.fleet: FleetMember | None = None
        self.fleet_copies: FleetCopies | None = None
        # the collaborators, each given the ones it needs (see reelwatch.service.parts)
        self.messages = Messages(self)
        self.held = HeldFiles(self, self.messages)
        self.status = Status(self, self.held, self.healthy)
        self.batches = Batches(self, self.held)
        self.checkers = Checkers(self, self.held, self.batches)
        self.journal = Offline(self, self.messages)
        self.faults = StateFaults(self, self.messages, self.status, self._send, self.stop, self.journal)
        self.histories = Reverify(self)
        self.drives = Drives(self, self.messages, self.status, self.histories, self.watch_findings)
        self.reloader = Reloader(self, self.messages, self.status, self.drives)
        self.hashes = Hashes(on_long=self.checkers.long_hash, on_done=self.checkers.long_hash_done)
        self._supervisor = Supervisor(self)

    @property
    def _checkers(self) -> list[threading.Thread]:
        """The checker threads (read by tests that kill one)."""
        return self.checkers.threads

    # -- start-up -------------------------------------------------------------------------
    def start(self) -> None:
        probe_cfg = load_runtime(self.config_path, None).config.probe  # validate before any side effect
        self.pool = ProbePool(probe_cfg.workers, probe_cfg.timeout, on_health=self.held.probe_health).start()
        self.runtime = load_runtime(self.config_path, self.pool)
        config = self.runtime.config
        for warning in self.runtime.warnings:
            log.warning("config_warning", problem=warning)
        if config.service.metrics:
            self.metrics_server = self.metrics.serve(config.service.metrics)
            log.info("metrics", url=self.metrics_server.url)
        if config.web.listen:
            from ..web.serve import WebThread
            self.web = WebThread(config)  # a port in use is logged there; the daemon keeps watching
            if self.web.url:
                log.info("web", url=self.web.url)
        state_path = config.resolve(config.state.path)
        self.disk = StateDisk(state_path)
        if not self.disk.lock():
            log.warning("state_in_use", path=str(state_path), reason="another reelwatch daemon holds its lock")
        # [state] url: the fleet's PostgreSQL (or, while it cannot be reached, this node's journal); else state_path
        self.store = self.journal.open(config)
        self.store.on_fault = self.faults.fault
        self.store.on_gone = self.batches.gone
        self.store.hasher = self.hashes
        self.pipeline = Pipeline(self.runtime.pm, config, self.store)
        self.timelines = wire_timelines(self)  # cut lists read and conformed, clips placed in the cut
        self.thumbs = Thumbnails(state_path.parent / "thumbnails")
        self.outbox = Outbox(self.store, config, self._send, attach=self.thumbs)
        self.outbox_worker = OutboxWorker(self.outbox)
        self.outbox_worker.start()
        self.journal.told_at_start()
        if not self.disk.keep_reserve():
            self.faults.fault("full", OSError(28, "No space left on device", str(self.disk.reserve)))
        self.recorded(lambda: self.store.audit("started", config=self.config_path))  # type: ignore[union-attr]
        if self.disk.problem == CORRUPT:  # found by the first write: refuse to run on it
            raise StateCorrupt(str(state_path), self.disk.detail.split(": ", 1)[-1], self.config_path)
        self.recorded(lambda: self.store.set_tool_status("probe", "ok"))  # type: ignore[union-attr]
        self.forecasts = Forecasts(config, self.store, self.metrics, self.pipeline, wake=self.outbox.wake.set,
                                   tell_admin=self.messages.tell_admin)
        for _ in range(self.pool.size):
            self.checkers.add()
        self.recorded(lambda: self.store.clear_volume_status([v.name for v in config.volumes]))  # type: ignore[union-attr]
        self.fleet = FleetMember(self.store, config.state.node, [v.name for v in config.volumes],
                                 tell_admin=self.messages.tell_admin)  # a retired node back: said
        self.recorded(self.fleet.register)
        self.claims = wire_claims(self.store, self.work, self.volumes, self.fleet.name, config.state.lease)
        self.fleet_copies = FleetCopies(self.store, self.fleet.name, self.batches.gone)
        self.drives.open()
        self.status.write()
        self.sd.ready(self.status.line())
        log.info("ready", volumes=len(self.volumes), production=config.production.name)
        self.control = threading.Thread(target=self._control_loop, name="reelwatch-control", daemon=True)
        self.control.start()
        self.metrics.set_healthy(self.healthy())

    def _send(self, message: Message, targets: Any) -> bool:
        assert self.runtime is not None
        result = self.runtime.pm.hook.notify(message=message, targets=list(targets), config=self.runtime.config)
        return bool(result)

    def watch_findings(self, volume: str, rule: str, findings: Sequence[Finding],
                       scope: tuple[str, ...] | None) -> None:
        """Findings of the watcher itself (links leading outside, files that never stop growing)."""
        if self.pipeline is None:
            return
        try:
            new = self.pipeline.record_watch(volume, rule, findings, scope)
        except Exception as exc:
            log.error("watch_findings_failed", volume=volume, rule=rule, error=f"{type(exc).__name__}: {exc}")
            return
        for f in new:
            self.metrics.finding(f.rule, f.severity.label)
        if new and self.outbox is not None:
            self.outbox.wake.set()

    # -- control loop -------------------------------------------------------------------
    def _control_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self._control_step()
            except Exception as exc:  # this thread must outlive any one failure; a lasting one stops the pings
                self._control_failed(exc)
            try:
                self.status.ping_systemd_watchdog()
            except Exception as exc:
                self._control_failed(exc)
            self.stopping.wait(self.tick_seconds)

    def _control_failed(self, exc: BaseException) -> None:
        if isinstance(exc, sqlite3.Error) and self.disk is not None and (self.disk.problem or self.disk.offline):
            return  # already said, once, by StateFaults.fault
        text = f"{type(exc).__name__}: {exc}"
        last, at = self._control_error
        if text != last or time.monotonic() - at > 60:  # the same error at most once a minute
            self._control_error = (text, time.monotonic())
            log.error("control_step_failed", error=text)

    def _control_step(self) -> None:
        if self.reload_requested.is_set():
            self.reload_requested.clear()
            self.reload()
        if self.disk is not None and self.disk.waiting:  # a full disk, an unreachable server
            self.faults.resume_if_room()
        self.journal.tick()  # a fleet's node: its journal kept, or replayed once the server is back
        if self.drives.mount_roots:
            self.drives.discover()
        for vol in list(self.volumes.values()):
            try:
                # back-pressure: while the checkers are behind, stable files wait in the
                # settler instead of piling up in memory (the control thread never blocks)
                vol.tick(settle=self.work.qsize() < QUEUE_HIGH_WATER)
                self.histories.sweep(vol)
            except Exception as exc:
                log.error("volume_tick_failed", volume=vol.name, error=f"{type(exc).__name__}: {exc}")
        if self.held.items:
            self.held.retry()
        self._maybe_finish_batch()
        if self.histories.pending:
            self.histories.verify_due()
        if self.status.due():
            self.status.write()
        if self.forecasts is not None:
            self.forecasts.tick(self.volumes)
        if self.claims is not None:  # a fleet sharing a volume: renew our claims, settle what waits
            self.claims.tick()
        if self.fleet_copies is not None:
            self.fleet_copies.tick()  # cards whose copies on other nodes changed

    def _maybe_finish_batch(self) -> None:
        """Judge the open batch if nothing waits any more (see :mod:`.batches`). A method of its
        own so that a test can make the control thread die exactly here."""
        self.batches.finish()

    def healthy(self) -> bool:
        """Every worker thread alive (control, checkers, outbox, metrics), every observer
        alive, and the queue is draining."""
        return self.outbox_worker is not None and not dead_threads(self) \
            and all(v.healthy() for v in self.volumes.values())

    def supervise(self) -> list[str]:
        """From the main thread: a worker thread that died is told once, loudly (see
        :mod:`reelwatch.service.health`); returns the dead threads' names."""
        dead = self._supervisor.check()
        if self.fleet is not None:  # the fleet's pages and status see this node's health, not just its beat
            self.fleet.tick("unhealthy" if dead else "ok", f"thread(s) died: {', '.join(dead)}" if dead else "")
        return dead

    def reload(self) -> bool:
        """Validate the config file again; swap it in only if it is valid (see :mod:`.reload`)."""
        return self.reloader.reload()

    # -- stopping -----------------------------------------------------------------------
    def stop(self, drain: float = 10.0) -> None:
        """Stop watching, finish what is queued and in flight, then shut down."""
        if self.stopping.is_set():
            return
        self.sd.stopping()
        self.stopping.set()
        self.hashes.cancel.set()  # a 1 TB hash in a checker or the control thread stops within one read
        if self.control is not None:
            self.control.join(60)  # it owns self.volumes; stop the volumes only once it is done
        self.drives.close()
        self.checkers.stop()
        self._maybe_finish_batch()
        if self.outbox_worker is not None:
            self.outbox_worker.stop(drain=drain)
        if self.thumbs is not None:
            self.thumbs.close()
        if self.pool is not None:
            self.pool.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        if self.web is not None:
            self.web.close()
        if self.store is not None:
            if self.disk is not None and self.disk.held:
                log.warning("stopped_with_held_files", files=self.disk.held,
                            action="they are found again by the next start's rescan")
            if self.fleet is not None:
                self.fleet.leave()
            with contextlib.suppress(sqlite3.Error):  # a full or damaged state database was already reported
                self.store.audit("stopped")
            self.store.close()
        self.journal.close()
        if self.disk is not None:
            self.disk.unlock()
        log.info("stopped")

    def run(self) -> int:
        """Start, wait for a signal, stop. Returns the exit code."""
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())
        try:
            self.start()
        except StateCorrupt as err:
            self.faults.cannot_start(err)
            raise
        except StateRefused as err:  # a newer schema: nothing can be recorded, so nothing is guarded
            log.error("state_refused", problem=str(err), action="not starting")
            self.stop(drain=0)
            raise
        try:
            while not self.stopping.wait(0.5):
                self.supervise()
        finally:
            self.stopping.clear()
            self.stop()
        return 0
