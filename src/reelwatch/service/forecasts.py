"""The forecasts as the daemon runs them: drives filling, cards on one copy, deliveries due.

The engine (:mod:`reelwatch.forecast`) never reads a clock or a disk; this module feeds it what the
daemon knows and commits what it says (docs/forecast.md):

- each volume opened or drive picked up is tracked on its filesystem, each drive let go forgotten;
- each new file version a checker settled is counted as landed (its growth, at its ctime);
- after each batch, the cards it touched on the mirror sets of ``[rules.mirrors]`` are listed on
  every copy, as the mirror rule lists them;
- every ``EVERY`` seconds, on the control thread: free space of each available volume
  (``statvfs``, only for volumes the daemon believes available: it can block on a dead share), the
  schedule files (the newest version under each source's glob, read again when its path, size or
  mtime changes), one engine tick committed in one transaction, the gauges to the metrics and the
  lines ``reelwatch status`` prints.
"""

from __future__ import annotations

import glob
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from ..core.config import Config, drive_volume_name
from ..core.config_paths import volume_of
from ..core.model import Asset
from ..forecast import CardState, CopyState, DeliveriesConfig, DriveRef, Forecaster, OffloadSettings, \
    ScheduleError, SpaceSettings, newest, read_schedule, read_space
from ..forecast.deliveries import DeliverySettings
from ..integrity.mirrorset import Place, Slot, join, unit_of, walk
from ..checking.pipeline import Pipeline
from ..state.store import AssetRecord, Store
from . import forecast_store
from .metrics import Metrics
from .pulls import PullLists

log = structlog.get_logger("reelwatch.forecasts")
EVERY = 5.0
"""Seconds between free-space readings and engine ticks. A round of 10 ``statvfs`` readings and a
tick takes 1-4 ms (bench/bench_forecast.py); every 5 s is under 0.1 % of one core, and a drive
filling at 1.2 TB/h moves 1.7 GB between readings."""
GLOB_CHARS = frozenset("*?[")


def settings(config: Config) -> tuple[SpaceSettings | None, OffloadSettings | None, DeliverySettings | None]:
    deliveries = config.rules.get("deliveries")
    return (config.rules.get("forecast"), config.rules.get("offload"),
            deliveries.settings if isinstance(deliveries, DeliveriesConfig) else None)


class Forecasts:
    """The daemon's forecaster. Inputs from any thread; :meth:`tick` from the control thread only."""

    def __init__(self, config: Config, store: Store, metrics: Metrics, pipeline: Pipeline, *,
                 wake: Callable[[], None] = lambda: None, tell_admin: Callable[[str, str], None] = lambda s, t: None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config, self.store, self.metrics, self.pipeline = config, store, metrics, pipeline
        """The pipeline's router and config (with the drives under mount roots) file what is said."""
        self.wake, self.tell_admin, self.clock = wake, tell_admin, clock
        self.node = config.state.node or socket.gethostname()  # whose row of forecast_state (one per node)
        self.fc = Forecaster(*settings(config), production=config.production.name)
        self.delivered = forecast_store.StoreDeliveries(store)
        self._refs: dict[str, DriveRef] = {}
        self._read: dict[str, tuple[str, int, int] | None] = {}
        """Schedule source -> the (path, size, mtime_ns) in force, so that an unchanged file is not read again."""
        self._next = 0.0
        self.pulls = PullLists(lambda name, schedule: self.fc.schedule(name, schedule),
                               lambda name, err, **kw: self.fc.schedule_failed(name, err, **kw))
        """The pull lists of ``[[rules.deliveries.timelines]]``, read off this thread (a child process each)."""
        self._arriving: set[tuple[str, str]] = set()
        """Cards (set, card) with files still arriving at their last listing: listed again each round."""
        self._table = True
        try:
            forecast_store.ensure_table(store)
            self._saved = forecast_store.load_state(store, self.node)
        except Exception as exc:  # a full, damaged or unreachable state database is said by the store; tried each tick
            log.error("forecast_state_unavailable", error=f"{type(exc).__name__}: {exc}")
            self._saved, self._table = None, False
        if self._saved:
            try:
                self.fc.restore(self._saved)
            except ValueError as err:
                log.error("forecast_state_unreadable", problem=str(err))
                self.tell_admin("forecasts start afresh", f"The stored forecast state cannot be read ({err}). Fill "
                                "rates are measured again from now on; warnings already sent may be sent again.")
                self._saved = None

    @property
    def space(self) -> bool:
        """Drives are forecast only when ``[rules.forecast]`` exists (an empty table takes the defaults), as
        cards only with ``[rules.offload]``: a production that did not ask is not warned."""
        return isinstance(self.config.rules.get("forecast"), SpaceSettings)

    # -- inputs (any thread) ------------------------------------------------------------------
    def track(self, name: str, root: str, *, dynamic: bool) -> None:
        if not self.space:
            return
        try:
            device = str(os.stat(root).st_dev)
        except OSError:
            device = ""  # not mounted yet: tracked by name until it is
        ref = DriveRef(volume=name, root=root, label=os.path.basename(root.rstrip("/")) if dynamic else name,
                       device=device)
        self._refs[name] = ref
        self.fc.track(ref, self.clock())

    def forget(self, name: str, why: str = "") -> None:
        self._refs.pop(name, None)
        self.fc.forget(name, self.clock(), why)
        self.metrics.forget_space(name)

    def before(self, asset: Asset) -> AssetRecord | None:
        """What the store knows of ``asset``'s path before a checker records it (None: not asked)."""
        return self.store.asset(asset.volume, asset.relpath) if self.space and asset.volume in self._refs else None

    def landed(self, asset: Asset, before: AssetRecord | None) -> None:
        """A checker processed a new version of ``asset``; ``before``: what the store knew of its path."""
        if asset.volume not in self._refs:
            return
        previous_size = before.size if before is not None and before.gone_at is None else 0
        try:
            at = os.stat(asset.member_paths()[-1]).st_ctime
        except OSError:
            return  # gone already: the free-space readings count it, if it took space
        self.fc.landed(asset.volume, at, max(0, asset.size - previous_size))

    def cards(self, assets: Sequence[Asset], again: Iterable[tuple[str, str]] = ()) -> None:
        """After a batch: how the cards it touched (and the cards ``again``, as (set, card)) stand on every
        copy of their mirror sets. A card with files still arriving on a copy (changed within the
        volume's settle time) is listed again at the next rounds, until nothing of it is arriving: no
        further batch may come to say that the last file of the second copy has landed."""
        mirrors = self.config.rules.get("mirrors")
        offload = self.config.rules.get("offload")
        if not isinstance(offload, OffloadSettings):
            return
        wanted, again = offload.sets, set(again)
        now = time.time()  # compared with file ctimes by the listing
        states = []
        for mset in getattr(mirrors, "sets", ()):
            if wanted and mset.name not in wanted:
                continue
            slots = [_slot(c, self.config) for c in mset.copies]
            whole = mset.unit == "folder"
            touched = {u for a in assets for s in slots for p in s.places
                       if (u := unit_of(p, whole, mset.ignore, a)) is not None}
            touched |= {unit for name, unit in again if name == mset.name}
            for unit in sorted(touched):
                state = card_state(mset, slots, unit, now)
                states.append(state)
                if any(c.arriving for c in state.copies):
                    self._arriving.add((mset.name, unit))
                else:
                    self._arriving.discard((mset.name, unit))
        if states:
            self.fc.cards(states)

    # -- the control thread -------------------------------------------------------------------
    def tick(self, volumes: Mapping[str, Any], *, force: bool = False) -> None:
        """Every ``EVERY`` seconds: read free space and schedules, tick, commit, publish."""
        if not force and time.monotonic() < self._next:
            return
        self._next = time.monotonic() + EVERY
        if not self._table:
            forecast_store.ensure_table(self.store)
            self._table = True
        now = self.clock()
        for name, vol in list(volumes.items()):
            ref = self._refs.get(name)
            if ref is None or not vol.available:
                continue  # unknown is not "fine": no reading, no forecast change
            try:
                if str(os.stat(vol.root).st_dev) != ref.device:  # mounted since, or another drive at its path
                    self.track(name, vol.root, dynamic=vol.dynamic)
                self.fc.sample(name, now, read_space(vol.root))
            except OSError as exc:
                log.warning("free_space_unreadable", volume=name, error=str(exc))
        self._schedules()
        if self._arriving:
            self.cards((), again=list(self._arriving))
        out = self.fc.tick(now, self.delivered)
        if out.transitions or out.messages or out.snapshot is not None:
            try:
                told = forecast_store.commit(self.store, out, self.pipeline.router, self.pipeline.config,
                                             lambda role: role in self.pipeline.config.roles, self.node)
            except Exception:
                self._rewind(now)  # nothing of it was recorded: it is judged again from the last state stored
                raise
            if out.snapshot is not None:
                self._saved = out.snapshot
            for f in told:
                self.metrics.finding(f.rule, f.severity.label)
            if out.transitions or out.messages:
                self.wake()
        gauges = [g for g in self.fc.gauges(now) if getattr(volumes.get(g.volume), "available", False)]
        for name in set(self._refs) - {g.volume for g in gauges}:
            self.metrics.forget_space(name)  # unavailable or not read yet: no number is better than an old one
        for g in gauges:
            self.metrics.set_space(g.volume, g.free_bytes, g.current_bytes_per_second, g.pace_bytes_per_second,
                                   g.seconds_until_full)
        forecast_store.set_status(self.store, {"lines": self.fc.status(now, self.delivered), "volumes": [
            {"volume": g.volume, "free_bytes": g.free_bytes, "total_bytes": g.total_bytes,
             "fill_rate_bytes_per_second": {"current": round(g.current_bytes_per_second, 1),
                                            "pace": round(g.pace_bytes_per_second, 1)},
             "seconds_until_full": None if math.isinf(g.seconds_until_full) else round(g.seconds_until_full)}
            for g in gauges], "at": now}, self.node)

    def _rewind(self, now: float) -> None:
        fresh = Forecaster(*settings(self.config), production=self.config.production.name)
        if self._saved:
            fresh.restore(self._saved)
        for ref in self._refs.values():
            fresh.track(ref, now)
        self.fc = fresh
        self._read.clear()
        self.pulls.clear()

    def _schedules(self) -> None:
        deliveries = self.config.rules.get("deliveries")
        if not isinstance(deliveries, DeliveriesConfig):
            return
        self.pulls.poll(self.config, deliveries.timelines, lambda pattern: newest(_mtimes(glob.glob(pattern))))
        for src in deliveries.schedules:
            path = newest(_mtimes(glob.glob(str(self.config.resolve(src.path)))))
            if path is None:
                continue  # none yet (or the share is away): the schedule in force stays
            try:
                st = os.stat(path)
            except OSError:
                continue
            seen = (path, st.st_size, st.st_mtime_ns)
            if self._read.get(src.name) == seen:
                continue
            self._read[src.name] = seen
            where = volume_of(self.config, path)
            asset = Asset(volume=where[0], root=str(where[1]), relpath=where[2], size=st.st_size,
                          mtime_ns=st.st_mtime_ns) if where else None
            try:
                try:
                    schedule = read_schedule(path, asset=asset, timezone=src.timezone, role=src.role,
                                             roles=list(self.config.roles), what=src.what)
                except OSError as exc:
                    raise ScheduleError(os.path.basename(path), [f"{os.path.basename(path)}: cannot be read: {exc}"]) \
                        from None
            except ScheduleError as err:
                log.warning("schedule_invalid", source=src.name, problems=len(err.problems))
                self.fc.schedule_failed(src.name, err, asset=asset, role=src.role)
                continue
            log.info("schedule_read", source=src.name, deliveries=len(schedule.items))
            self.fc.schedule(src.name, schedule)

    def reconfigure(self, config: Config, volumes: Mapping[str, Any]) -> None:
        """A reload was accepted (the volumes are open again): new settings, alerts and rates kept."""
        self.config = config
        for name, vol in volumes.items():  # [rules.forecast] may have been added
            if name not in self._refs:
                self.track(name, vol.root, dynamic=vol.dynamic)
        space, offload, deliveries = settings(config)
        self.fc.reconfigure(space or SpaceSettings(), offload or OffloadSettings(), deliveries or DeliverySettings(),
                            production=config.production.name, now=self.clock())
        for name in set(self._refs) - (set(volumes) if self.space else set()):
            self.forget(name, "its volume left the config" if self.space else "[rules.forecast] was removed from "
                        "the config")
        kept = config.rules.get("deliveries")
        names = {s.name for s in kept.schedules} if isinstance(kept, DeliveriesConfig) else set()
        for name in set(self._read) - names:
            self.fc.drop_schedule(name)
            del self._read[name]
        names = {s.name for s in kept.timelines} if isinstance(kept, DeliveriesConfig) else set()
        for name in self.pulls.names() - names:
            self.fc.drop_schedule(name)
            self.pulls.forget(name)
        self._next = 0.0


def _mtimes(paths: Iterable[str]) -> list[tuple[str, float]]:
    out = []
    for p in paths:
        try:
            out.append((p, os.stat(p).st_mtime))
        except OSError:
            continue
    return out


def _slot(copy: Any, config: Config) -> Slot:
    """Where one configured copy of a mirror set is now (as ``plugins/mirrors.py`` finds it)."""
    vol = config.volume(copy.volume)
    if vol is None:
        return Slot(copy.volume, (), f"{copy.volume} is not a configured volume")
    if GLOB_CHARS & set(vol.path):
        pattern = str(config.resolve(vol.path))
        drives = sorted(p for p in glob.glob(pattern) if os.path.isdir(p))
        places = tuple(Place(drive_volume_name(vol.name, p), Path(p), copy.folder, vol.settle) for p in drives)
        return Slot(vol.name, places, "" if places else f"no drive is mounted at {pattern}", copy.drives, pattern)
    root = config.resolve(vol.path)
    if not root.is_dir():
        return Slot(vol.name, (Place(vol.name, root, copy.folder, available=False),), f"{vol.name} is not available")
    return Slot(vol.name, (Place(vol.name, root, copy.folder, vol.settle),))


def card_state(mset: Any, slots: Sequence[Slot], unit: str, now: float) -> CardState:
    """One card on every copy: each slot gives as many copies as it needs drives (one, or ``drives``
    shuttles under a mount root, each a copy of its own); a copy without the card says why."""
    copies: list[CopyState] = []
    for slot in slots:
        found = []
        for place in slot.places:
            listing = walk(place, join(place.folder, unit), mset.ignore, now) if place.available else None
            if listing is not None:
                found.append(CopyState(place.label, {rel: size for rel, (size, _) in listing.files.items()},
                                       len(listing.arriving), listing.newest_ctime))
        copies += found
        missing = slot.need - len(found)
        copies += [CopyState(slot.label if slot.need == 1 else f"{slot.label} (drive {len(found) + i + 1})", None,
                             why=slot.why) for i in range(max(0, missing))]
    rel = join(mset.copies[0].folder, unit)
    asset = Asset(volume=mset.copies[0].volume, root=str(slots[0].places[0].root) if slots[0].places else "",
                  relpath=rel if "/" in rel else f"{rel}/", size=0, mtime_ns=0)
    return CardState(mset.name, unit or mset.copies[0].folder, asset, tuple(copies))
