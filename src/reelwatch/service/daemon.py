"""The long-running daemon: volumes -> settler -> work queue -> checkers -> store -> outbox.

Threads: one control thread (volume health, polling, settling, sd_notify), N checker
threads feeding the MediaInfo process pool (the bounded queue gives back-pressure), and
the outbox worker. Signals: SIGTERM/SIGINT drain in-flight work and exit; SIGHUP
validates the new config and swaps it in, or keeps the old one and says why.
"""

from __future__ import annotations

import glob
import os
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from . import histories
from ..checking.runtime import Runtime, load_runtime
from ..core.config import ConfigError, Volume, drive_volume_name
from ..integrity.hashing import HashCancelled
from ..integrity.hashjobs import Hashes, LongHash
from .health import Supervisor, admin_role, dead_threads
from .metrics import Metrics, MetricsServer
from ..core.model import Asset, Message
from ..notify.outbox import Outbox, OutboxWorker
from ..checking.pipeline import Pipeline
from ..probe.pool import ProbePool, ProbeUnavailable
from ..core.redact import Redactor
from .systemd import Notifier
from .seal import seal
from ..watch.settle import Unit, resolve
from .statefaults import StateFaults
from ..state.dbfile import StateCorrupt
from ..state.schema import StateRefused
from ..state.connect import open_state
from .fleet import FleetMember
from ..state.disk import CORRUPT, StateDisk
from ..state.store import Store
from ..notify.thumbs import Thumbnails
from ..watch.volumes import VolumeRuntime

GLOB_CHARS = set("*?[")
STATUS_EVERY = 2.0
SWEEP_EVERY = 30.0
"""Seconds between looks for histories that arrived unseen (one stat per folder of the volume)."""
QUEUE_HIGH_WATER = 256
HOLD_RETRY = (2.0, 30.0)
"""Seconds between tries of a held file while MediaInfo cannot start: first, and at most (doubling)."""

log = structlog.get_logger("reelwatch.daemon")
MAX_BATCH_SECONDS = 600.0


class Daemon(StateFaults):
    """``reelwatch run``. Construct, then :meth:`run` (blocks until stopped)."""

    def __init__(self, config_path: str | Path, *, env: Mapping[str, str] | None = None,
                 tick: float = 0.2, redactor: Redactor | None = None) -> None:
        self.redactor = redactor
        self.config_path = str(config_path)
        self.env = dict(os.environ if env is None else env)
        self.tick_seconds = tick
        self.pool: ProbePool | None = None
        self.runtime: Runtime | None = None
        self.store: Store | None = None
        self.pipeline: Pipeline | None = None
        self.outbox: Outbox | None = None
        self.outbox_worker: OutboxWorker | None = None
        self.volumes: dict[str, VolumeRuntime] = {}
        self.queue: queue.Queue[tuple[Asset, bool] | None] = queue.Queue()
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.sd = Notifier(self.env)
        self._checkers: list[threading.Thread] = []
        self._batch_lock = threading.Lock()
        self._in_flight = 0
        self._batch: list[Asset] = []
        self._sealable: list[Asset] = []
        """New asset versions of the batch (not re-checks): only these may cause a new MHL generation."""
        self._batch_no = 0
        self._batch_open = False
        self._batch_started = 0.0
        self._last_ping = 0.0
        self._last_status = 0.0
        self.mount_roots: list[Volume] = []
        self.control: threading.Thread | None = None
        self.metrics = Metrics()
        self._histories: dict[tuple[str, str], float] = {}
        self._swept: dict[str, tuple[Any, float]] = {}
        self._histories_lock = threading.Lock()
        self.metrics_server: MetricsServer | None = None
        self._held: list[tuple[Asset, bool]] = []
        """Files waiting for a working MediaInfo (the tool's fault, not theirs): never judged meanwhile."""
        self._held_retry = (0.0, HOLD_RETRY[0])  # (when to try again, back-off)
        self._probe_try: Asset | None = None
        self.hashes = Hashes(on_long=self._long_hash, on_done=self._long_hash_done)
        """Every hash the rules ask for: shared per file version, stopped at once by stop()."""
        self._retiring: set[int] = set()
        self._hashing_shown = False
        self._checking: set[tuple[str, str, int, int]] = set()
        self._supervisor = Supervisor(self)
        self.disk: StateDisk | None = None
        self.thumbs: Thumbnails | None = None
        self._control_error = ("", 0.0)
        self.fleet: FleetMember | None = None

    # -- start-up -------------------------------------------------------------------------
    def start(self) -> None:
        probe_cfg = load_runtime(self.config_path, None).config.probe  # validate before any side effect
        self.pool = ProbePool(probe_cfg.workers, probe_cfg.timeout, on_health=self._probe_health).start()
        self.runtime = load_runtime(self.config_path, self.pool)
        config = self.runtime.config
        for warning in self.runtime.warnings:
            log.warning("config_warning", problem=warning)
        if config.service.metrics:
            self.metrics_server = self.metrics.serve(config.service.metrics)
            log.info("metrics", url=self.metrics_server.url)
        state_path = config.resolve(config.state.path)
        self.disk = StateDisk(state_path)
        if not self.disk.lock():
            log.warning("state_in_use", path=str(state_path), reason="another reelwatch daemon holds its lock")
        self.store = open_state(config)  # [state] url: the fleet's PostgreSQL; else the file at state_path
        self.store.on_fault = self._state_fault
        self.store.on_gone = self._gone
        self.store.hasher = self.hashes
        self.pipeline = Pipeline(self.runtime.pm, config, self.store)
        self.thumbs = Thumbnails(state_path.parent / "thumbnails")
        self.outbox = Outbox(self.store, config, self._send, attach=self.thumbs)
        self.outbox_worker = OutboxWorker(self.outbox)
        self.outbox_worker.start()
        if not self.disk.keep_reserve():
            self._state_fault("full", OSError(28, "No space left on device", str(self.disk.reserve)))
        self._recorded(lambda: self.store.audit("started", config=self.config_path))
        if self.disk.problem == CORRUPT:  # found by the first write: refuse to run on it
            raise StateCorrupt(str(state_path), self.disk.detail.split(": ", 1)[-1], self.config_path)
        self._recorded(lambda: self.store.set_tool_status("probe", "ok"))  # type: ignore[union-attr]
        for _ in range(self.pool.size):
            self._add_checker()
        self._recorded(lambda: self.store.clear_volume_status([v.name for v in config.volumes]))  # type: ignore[union-attr]
        self.fleet = FleetMember(self.store, config.state.node, [v.name for v in config.volumes])
        self._recorded(self.fleet.register)
        self._open_volumes()
        self._write_status()
        self.sd.ready(self._status())
        log.info("ready", volumes=len(self.volumes), production=config.production.name)
        self.control = threading.Thread(target=self._control_loop, name="reelwatch-control", daemon=True)
        self.control.start()
        self.metrics.set_healthy(self.healthy())

    def _open_volumes(self) -> None:
        assert self.runtime is not None
        config = self.runtime.config
        self.mount_roots = [cfg for cfg in config.volumes if GLOB_CHARS & set(cfg.path)]
        for cfg in config.volumes:
            if cfg not in self.mount_roots:
                self._add_volume(cfg, str(config.resolve(cfg.path)), dynamic=False)
        self._discover()

    def _add_volume(self, cfg: Volume, root: str, *, dynamic: bool) -> None:
        assert self.runtime is not None and self.store is not None
        vol = VolumeRuntime(cfg=cfg, root=root, store=self.store, ignore=self.runtime.pm.ignore,
                            emit=self._enqueue, announce=self._announce, dynamic=dynamic,
                            self_heal=self.sd.watchdog_interval is None, on_reconcile=self.metrics.reconcile,
                            on_history=self._history_changed, on_progress=self._watchdog,
                            on_problem=self._volume_problem, on_admin=self._tell_admin,
                            on_findings=self._watch_findings, on_overflow=self.metrics.overflow)
        self.volumes[cfg.name] = vol
        self.sd.status(f"reconciling volume {cfg.name}")
        vol.start()

    def _discover(self) -> None:
        """DIT cart mode: drives mounted under a mount root become volumes; gone ones are let go."""
        assert self.runtime is not None
        for template in self.mount_roots:
            pattern = str(self.runtime.config.resolve(template.path))
            found = {p for p in glob.glob(pattern) if os.path.isdir(p)}
            for path in sorted(found):
                name = drive_volume_name(template.name, path)
                if name not in self.volumes:
                    log.info("drive_picked_up", volume=name, path=path)
                    cfg = template.model_copy(update={"name": name, "path": path})
                    self._set_volumes([*self.runtime.config.volumes, cfg])
                    self._add_volume(cfg, path, dynamic=True)
            for name, vol in list(self.volumes.items()):
                if vol.dynamic and name.startswith(template.name + "-") and (
                        vol.root not in found or not vol.available):
                    log.info("drive_let_go", volume=name, path=vol.root)
                    vol.stop()
                    del self.volumes[name]
                    self.metrics.forget_volume(name)
                    self._set_volumes([v for v in self.runtime.config.volumes if v.name != name])

    def _set_volumes(self, volumes: list[Volume]) -> None:
        """Checks see a drive under a mount root as a volume of its own, with the root's settings."""
        assert self.runtime is not None and self.pipeline is not None
        self.runtime.config = self.runtime.config.model_copy(update={"volumes": tuple(volumes)})
        self.pipeline.reconfigure(self.runtime.pm, self.runtime.config)
        if self.outbox is not None:
            self.outbox.config = self.runtime.config

    def _history_changed(self, volume: str, folder: str) -> None:
        """An ascmhl/ history or a manifest changed: re-verify that folder once it is quiet."""
        with self._histories_lock:  # called from observer threads
            self._histories[(volume, folder)] = time.monotonic()

    def _verify_histories(self) -> None:
        assert self.store is not None and self.pipeline is not None
        with self._histories_lock:
            due = []
            for (volume, folder), at in list(self._histories.items()):
                vol = self.volumes.get(volume)
                if vol is None or time.monotonic() - at >= max(vol.cfg.settle, 1.0):
                    del self._histories[(volume, folder)]
                    if vol is not None:
                        due.append((volume, folder, vol))
        for volume, folder, vol in due:
            prefix = f"{folder}/" if folder else ""
            rels = [rel for rel, _, _ in self.store.known_paths(volume, prefix)]
            log.info("history_changed", volume=volume, folder=folder or ".", assets=len(rels))
            for rel in rels:  # checked again against the new history, with cached facts and hashes
                parent, _, name = rel.rpartition("/")
                record = self.store.asset(volume, rel)
                sequence = record is not None and record.kind == "image_sequence"
                current = resolve(volume, vol.root, Unit(parent, name, sequence), vol.links)
                if current is not None:
                    self._enqueue(current[1], force=True)
            histories.remember(self.store, volume, vol.root, folder)

    def _sweep_seals(self, vol: VolumeRuntime) -> None:
        """After a rescan (at most every SWEEP_EVERY s): histories that arrived unseen, while stopped, in
        an event overflow or on a polled share, are verified as if their events had been seen."""
        assert self.store is not None
        seen, at = self._swept.get(vol.name, (None, float("-inf")))
        if vol.last_scan is None or vol.last_scan is seen or time.monotonic() - at < SWEEP_EVERY:
            return
        self._swept[vol.name] = (vol.last_scan, time.monotonic())
        for folder in histories.unseen(self.store, vol.name, vol.root):
            self._history_changed(vol.name, folder)

    def _write_status(self) -> None:
        if self.store is None:
            return
        self._last_status = time.monotonic()
        if self.outbox is not None:
            self.metrics.set_outbox(*self.outbox.pending())
        if self.disk is not None:
            self._recorded(lambda: self.store.set_daemon_status(  # type: ignore[union-attr]
                self.disk.health, self.disk.detail, self.disk.since, self.disk.held))  # type: ignore[union-attr]
        for vol in list(self.volumes.values()):
            self.metrics.set_observer(vol.name, vol.kind, vol.healthy() and vol.available, degraded=bool(vol.degraded))
            health = "ok" if vol.healthy() and vol.available else ("unavailable" if not vol.available else "failed")
            if health == "ok" and vol.degraded:
                health = "degraded"  # polled because inotify could not cover it: working, but say so
            self._recorded(lambda: self.store.set_volume_status(  # type: ignore[union-attr]
                vol.name, vol.kind, health, vol.last_event, self.queue.qsize() + len(vol.settler), vol.reason))
        jobs = self.hashes.progress()
        if jobs or self._hashing_shown:
            self._hashing_shown = bool(jobs)
            self._recorded(lambda: self.store.set_tool_status(  # type: ignore[union-attr]
                "hash", "running" if jobs else "idle", "; ".join(j.describe() for j in jobs)))
        if self._held and self.pool is not None:
            self.metrics.set_probe(self.pool.health.ok, len(self._held))
            self._recorded(lambda: self.store.set_tool_status(  # type: ignore[union-attr]
                "probe", "ok" if self.pool.health.ok else "failed",  # type: ignore[union-attr]
                self.pool.health.detail, len(self._held)))  # type: ignore[union-attr]

    def _send(self, message: Message, targets: Any) -> bool:
        assert self.runtime is not None
        result = self.runtime.pm.hook.notify(message=message, targets=list(targets), config=self.runtime.config)
        return bool(result)

    def _volume_problem(self, cfg: Volume, subject: str, text: str) -> None:
        if self.outbox is None or self.runtime is None:
            return
        self._tell(cfg.owner, subject, text)
        if self.store is not None:
            self._recorded(lambda: self.store.audit("volume_problem", volume=cfg.name, detail=subject))

    def _watch_findings(self, volume: str, rule: str, findings: Any, scope: tuple[str, ...] | None) -> None:
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

    def _announce(self, cfg: Volume, root: str, up: bool) -> None:
        if self.outbox is None or self.runtime is None:
            return
        text = (f"Volume {cfg.name} is back at {root}; reelwatch is checking what changed while it was away."
                if up else f"Volume {cfg.name} is not available at {root} (unmounted, or the share is down). "
                           "reelwatch keeps running and will rescan it as soon as it is back.")
        self._tell(cfg.owner, f"volume {cfg.name} {'is back' if up else 'unavailable'}", text)
        if self.store is not None:
            self._recorded(lambda: self.store.audit(  # type: ignore[union-attr]
                "volume_back" if up else "volume_unavailable", volume=cfg.name))

    # -- work ---------------------------------------------------------------------------
    def _enqueue(self, asset: Asset, force: bool = False) -> None:
        if not force:
            self.metrics.file_seen(asset.volume)
        with self._batch_lock:
            self._in_flight += 1
        self.queue.put((asset, force))  # never blocks: back-pressure is applied before settling

    def _add_checker(self) -> None:
        t = threading.Thread(target=self._checker, name=f"reelwatch-check-{len(self._checkers)}", daemon=True)
        t.start()
        self._checkers.append(t)

    def _long_hash(self, job: LongHash) -> None:
        """A checker starts a long hash: another checker takes its place, so the files behind it
        are not kept waiting (at most one extra per probe worker); it retires when done."""
        log.info("long_hash", path=job.path, algo=job.algo, size=job.size, waiting=job.waiting)
        me = threading.get_ident()
        with self._batch_lock:
            if not any(t.ident == me for t in self._checkers) or me in self._retiring:
                return
            if len(self._retiring) >= (self.pool.size if self.pool else 1):
                return
            self._retiring.add(me)
        self._add_checker()

    def _claim(self, asset: Asset) -> bool:
        """Take an asset version for checking; False when another checker has it now (a rescan
        queued it again while it was being checked, e.g. during a long hash)."""
        key = (asset.volume, asset.relpath, asset.size, asset.mtime_ns)
        with self._batch_lock:
            if key in self._checking:
                return False
            self._checking.add(key)
            return True

    def _long_hash_done(self, job: LongHash) -> None:
        log.info("long_hash_done", path=job.path, algo=job.algo, size=job.size, done=job.done,
                 seconds=round(time.monotonic() - job.started, 1))

    def _checker(self) -> None:
        me = threading.get_ident()
        while True:
            with self._batch_lock:
                if me in self._retiring:  # its long hash is done; the checker that took its place stays
                    self._retiring.discard(me)
                    self._checkers = [t for t in self._checkers if t.ident != me]  # retired, not dead
                    return
            item = self.queue.get()
            if item is None:
                return
            asset, force = item
            claimed = False
            try:
                if self.disk is not None and self.disk.problem:
                    self.disk.hold(item)  # checked once the state database can record it again
                    continue
                assert self.pool is not None
                if not self.pool.health.ok and asset != self._probe_try:
                    self._hold(asset, force)  # one held file at a time tries MediaInfo again
                    continue
                claimed = self._claim(asset)
                if not claimed:
                    continue
                with self._batch_lock:
                    if not self._batch_open:  # the first check of a batch numbers it, once
                        self._batch_no = self.store.next_batch() if self.store else 0
                        self._batch_open = True
                        self._batch_started = time.monotonic()
                    batch = self._batch_no
                assert self.pipeline is not None
                began = time.monotonic()
                found = self.pipeline.process(asset, batch, force=force)
                if found is not None:
                    self.metrics.file_checked(asset.volume, time.monotonic() - began)
                    for f in found:
                        self.metrics.finding(f.rule, f.severity.label)
                    with self._batch_lock:
                        self._batch.append(asset)
                        if not force:
                            self._sealable.append(asset)
            except ProbeUnavailable:  # the tool is broken, not the file: nothing recorded, tried again
                self._hold(asset, force)
            except HashCancelled:  # stopping: not recorded, so it is checked again on the next start
                log.info("check_interrupted", volume=asset.volume, path=asset.relpath)
            except Exception as exc:  # one file never kills the daemon
                if isinstance(exc, sqlite3.Error) and self.disk is not None and self.disk.problem:
                    self.disk.hold(item)  # not recorded: held, never dropped
                    continue
                log.error("check_failed", volume=asset.volume, path=asset.relpath,
                          error=f"{type(exc).__name__}: {exc}")
            finally:
                with self._batch_lock:
                    self._in_flight -= 1
                    if claimed:
                        self._checking.discard((asset.volume, asset.relpath, asset.size, asset.mtime_ns))
                if self.outbox:
                    self.outbox.wake.set()

    def _gone(self, volume: str, relpath: str) -> None:
        """A file disappeared (deleted, moved away): it joins the batch, so that what it fed (the
        verdict on its card, its folder's seal) is judged again. Called from observer threads."""
        vol = self.volumes.get(volume)
        asset = Asset(volume=volume, root=vol.root if vol else "", relpath=relpath, size=0, mtime_ns=0)
        with self._batch_lock:
            if not self._batch_open:
                self._batch_open = True
                self._batch_no = self.store.next_batch() if self.store else 0
                self._batch_started = time.monotonic()
            self._batch.append(asset)

    def _hold(self, asset: Asset, force: bool) -> None:
        with self._batch_lock:
            self._held.append((asset, force))

    def _retry_held(self) -> None:
        """While MediaInfo is broken, one held file tries it again now and then (backing off);
        once a worker answers, every held file goes back to the queue."""
        assert self.pool is not None
        now = time.monotonic()
        with self._batch_lock:
            if not self._held:
                return
            healthy = self.pool.health.ok
            if not healthy and now < self._held_retry[0]:
                return
            take, self._held = (self._held, []) if healthy else (self._held[:1], self._held[1:])
            self._in_flight += len(take)
            wait = HOLD_RETRY[0] if healthy else min(self._held_retry[1] * 2, HOLD_RETRY[1])
            self._held_retry = (now + self._held_retry[1], wait)
        self._probe_try = take[0][0]
        for item in take:
            self.queue.put(item)

    def _probe_health(self, ok: bool, detail: str) -> None:
        """MediaInfo broke or came back: log, status, metrics and the admin, once per change."""
        held = len(self._held)
        self.metrics.set_probe(ok, held)
        if ok:
            log.info("probe_recovered", held=held)
        else:
            log.error("probe_unavailable", problem=detail)
        if self.store is not None:  # a state database that cannot record has said so itself
            self._recorded(lambda: self.store.set_tool_status(  # type: ignore[union-attr]
                "probe", "ok" if ok else "failed", detail, held))
            self._recorded(lambda: self.store.audit(  # type: ignore[union-attr]
                "probe_recovered" if ok else "probe_unavailable", detail=detail))
        if ok:
            self._tell_admin("MediaInfo is working again",
                             "MediaInfo worker processes start again; the files that waited are being checked now.")
        else:
            self._tell_admin("MediaInfo cannot start: new files are not being checked",
                             f"reelwatch cannot start its MediaInfo worker processes: {detail}. New files are held, "
                             "not judged, and are checked as soon as a worker starts again (reelwatch keeps trying). "
                             "Check the install (pip check, the pymediainfo library), memory and process limits of "
                             "the service.")

    def _maybe_finish_batch(self) -> None:
        if self.disk is not None and self.disk.problem:
            return  # the batch waits, whole, until its findings can be recorded
        settling = sum(len(v.settler) for v in self.volumes.values())
        with self._batch_lock:
            if not self._batch or self._in_flight or self._held:  # nothing is safe while files wait
                return
            if settling and time.monotonic() - self._batch_started < MAX_BATCH_SECONDS:
                return
            assets, self._batch = self._batch, []
            self._batch_open = False
            sealable, self._sealable = self._sealable, []
            batch = self._batch_no
        assert self.pipeline is not None
        try:
            for f in self.pipeline.finish_batch(assets, batch):
                self.metrics.finding(f.rule, f.severity.label)
            if self.runtime is not None and self.store is not None:
                seal(sealable, self.runtime.config, self.store, self.store.history(batch))
        except HashCancelled:
            log.info("batch_interrupted", batch=batch)
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and self.disk is not None and self.disk.problem:
                with self._batch_lock:  # kept for when there is room again
                    self._batch[:0], self._sealable[:0] = assets, sealable
                return
            log.error("batch_failed", error=f"{type(exc).__name__}: {exc}")

    # -- control loop -------------------------------------------------------------------
    def _control_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self._control_step()
            except Exception as exc:  # this thread must outlive any one failure; a lasting one stops the pings
                self._control_failed(exc)
            try:
                self._watchdog()
            except Exception as exc:
                self._control_failed(exc)
            self.stopping.wait(self.tick_seconds)

    def _control_failed(self, exc: BaseException) -> None:
        if isinstance(exc, sqlite3.Error) and self.disk is not None and self.disk.problem:
            return  # already said, once, by _state_fault
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
            self._resume_if_room()
        if self.mount_roots:
            self._discover()
        for vol in list(self.volumes.values()):
            try:
                # back-pressure: while the checkers are behind, stable files wait in the
                # settler instead of piling up in memory (the control thread never blocks)
                vol.tick(settle=self.queue.qsize() < QUEUE_HIGH_WATER)
                self._sweep_seals(vol)
            except Exception as exc:
                log.error("volume_tick_failed", volume=vol.name, error=f"{type(exc).__name__}: {exc}")
        if self._held:
            self._retry_held()
        self._maybe_finish_batch()
        if self._histories:
            self._verify_histories()
        if time.monotonic() - self._last_status > STATUS_EVERY:
            self._write_status()

    def healthy(self) -> bool:
        """Every worker thread alive (control, checkers, outbox, metrics), every observer
        alive, and the queue is draining."""
        return self.outbox_worker is not None and not dead_threads(self) \
            and all(v.healthy() for v in self.volumes.values())

    def supervise(self) -> list[str]:
        """From the main thread: a worker thread that died is told once, loudly (see
        :mod:`reelwatch.service.health`); returns the dead threads' names."""
        if self.fleet is not None:
            self.fleet.tick()
        return self._supervisor.check()

    def _tell_admin(self, subject: str, text: str) -> None:
        admin = admin_role(self.runtime.config) if self.runtime is not None else None
        if admin:
            self._tell(admin, subject, text)  # straight away while the state database cannot record

    def _watchdog(self) -> None:
        interval = self.sd.watchdog_interval
        now = time.monotonic()
        if interval is None or now - self._last_ping < interval:
            return
        if self.healthy():
            self._last_ping = now
            self.sd.send("WATCHDOG=1", f"STATUS={self._status()}")
        else:
            log.error("unhealthy_not_pinging")

    def _status(self) -> str:
        settling = sum(len(v.settler) for v in self.volumes.values())
        pending = self.outbox.pending()[0] if self.outbox else 0
        down = [v.name for v in self.volumes.values() if not v.available]
        text = (f"watching {len(self.volumes)} volume(s); {settling} settling, {self.queue.qsize()} queued, "
                f"{pending} message(s) to send")
        if self.disk is not None and self.disk.problem:
            text = f"{self.disk.health} ({self.disk.held} file(s) held); " + text
        text += f"; {len(self._held)} file(s) wait for MediaInfo to start" if self._held else ""
        text += "".join(f"; hashing {job.describe()}" for job in self.hashes.progress())
        return text + (f"; unavailable: {', '.join(down)}" if down else "")

    def reload(self) -> bool:
        """Validate the config file again; swap it in only if it is valid. Whatever goes wrong
        (a bad config, a broken plugin, anything a plugin raises) keeps the running config."""
        assert self.runtime is not None and self.pipeline is not None and self.store is not None
        self.sd.reloading()
        try:
            runtime = load_runtime(self.config_path, self.pool)
        except (Exception, SystemExit) as exc:
            lines = exc.lines() if isinstance(exc, ConfigError) else [f"{type(exc).__name__}: {exc}"]
            log.error("reload_rejected", problems=lines)
            self._recorded(lambda: self.store.audit("reload_rejected", problems=lines))  # type: ignore[union-attr]
            self._tell_admin("config reload rejected: still running on the previous config",
                             "The edited config was not applied:\n" + "\n".join(lines))
            self.sd.ready(self._status())
            return False
        previous = self.runtime
        try:
            self._swap(runtime)
        except Exception as exc:  # should not happen: put the previous config back
            log.error("reload_failed", error=f"{type(exc).__name__}: {exc}")
            failed = f"{type(exc).__name__}: {exc}"
            self._recorded(lambda: self.store.audit("reload_failed", error=failed))  # type: ignore[union-attr]
            self._swap(previous)
            self._tell_admin("config reload failed: still running on the previous config",
                             f"Applying the edited config failed ({type(exc).__name__}: {exc}); the previous "
                             "config is running again.")
            self.sd.ready(self._status())
            return False
        self._recorded(lambda: self.store.audit("reloaded", config=self.config_path))  # type: ignore[union-attr]
        for warning in runtime.warnings:
            log.warning("config_warning", problem=warning)
        log.info("reloaded", volumes=len(self.volumes))
        self.sd.ready(self._status())
        return True

    def _swap(self, runtime: Runtime) -> None:
        assert self.pipeline is not None
        for vol in self.volumes.values():
            vol.stop()
        self.volumes.clear()
        self.runtime = runtime
        if self.redactor is not None:  # targets added by the edit are secrets from now on
            self.redactor.add(u for role in runtime.config.roles.values() for u in role.notify)
        self.pipeline.reconfigure(runtime.pm, runtime.config)
        if self.outbox is not None:
            self.outbox.config = runtime.config
        self._open_volumes()

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
        for vol in list(self.volumes.values()):
            vol.stop()
        for _ in self._checkers:
            self.queue.put(None)
        for t in list(self._checkers):
            t.join(60)
        self._maybe_finish_batch()
        if self.outbox_worker is not None:
            self.outbox_worker.stop(drain=drain)
        if self.thumbs is not None:
            self.thumbs.close()
        if self.pool is not None:
            self.pool.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        if self.store is not None:
            if self.disk is not None and self.disk.held:
                log.warning("stopped_with_held_files", files=self.disk.held,
                            action="they are found again by the next start's rescan")
            if self.fleet is not None:
                self.fleet.leave()
            try:
                self.store.audit("stopped")
            except sqlite3.Error:
                pass  # a full or damaged state database was already reported
            self.store.close()
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
            self._cannot_start(err)
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
