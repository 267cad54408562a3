"""The forecaster: one object the daemon feeds and ticks; everything it says comes out of :meth:`tick`.

Inputs may come from any thread (a checker reporting a landed file, the control thread
reading free space); they are serialised by one lock and cost microseconds. Transitions that
an input causes (a drive unplugged, a card copied, a schedule replaced) are held until the
next tick, so that there is one place where the daemon commits what the forecasts say:
``Outcome.transitions`` and ``Outcome.messages`` together with ``Outcome.snapshot`` (at least
every minute, and whenever something is said), in one state-store transaction
(docs/forecast.md). A restart restores the snapshot, so no warning, reminder or overdue report
is ever sent twice.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.model import Asset, Message
from . import units
from .alerts import Transition
from .deliveries import DeliveredVersions, DeliverySettings, DeliveryWatch
from .offload import CardState, OffloadSettings, OneCopyWatch
from .pace import Space
from .schedule import Schedule, ScheduleError
from .space import DriveRef, SpaceSettings, SpaceWatch

SNAPSHOT_VERSION = 1
SNAPSHOT_EVERY = 60.0
"""Seconds between snapshots when nothing was said. Losing a minute of rate history on a crash costs
nothing (the next free-space reading spreads the change since the last one over the gap), and
writing the snapshot is most of a tick's cost (bench/bench_forecast.py)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one tick has to say, and the state to commit with it."""

    transitions: tuple[Transition, ...]
    messages: tuple[Message, ...]
    snapshot: str | None
    """The state to store with them; None when nothing was said and the last one is recent enough."""


@dataclass(frozen=True, slots=True)
class Gauge:
    """The space numbers of one volume, for metrics and the web page."""

    volume: str
    free_bytes: int
    total_bytes: int
    current_bytes_per_second: float
    pace_bytes_per_second: float
    seconds_until_full: float
    """``math.inf`` when the drive is not filling (Prometheus exposes it as ``+Inf``)."""


class Forecaster:
    """Space and pace per drive, offload pace per card, deliveries due."""

    def __init__(self, space: SpaceSettings | None = None, offload: OffloadSettings | None = None,
                 deliveries: DeliverySettings | None = None, *, production: str = "") -> None:
        self.production = production
        self._space = SpaceWatch(space or SpaceSettings())
        self._offload = OneCopyWatch(offload or OffloadSettings())
        self._deliveries = DeliveryWatch(deliveries or DeliverySettings())
        self._refs: dict[str, DriveRef] = {}
        self._held: list[Transition] = []
        self._saved_at: float | None = None
        self._lock = threading.Lock()

    # -- inputs -------------------------------------------------------------------------------
    def track(self, ref: DriveRef, now: float) -> None:
        """A volume was opened, or a drive picked up under a mount root."""
        with self._lock:
            self._refs[ref.volume] = ref
            self._held += self._space.track(ref, now)

    def forget(self, volume: str, now: float) -> None:
        """A volume is gone: a drive let go, or a volume removed from the config."""
        with self._lock:
            self._refs.pop(volume, None)
            self._held += self._space.forget(volume, now)

    def landed(self, volume: str, at: float, size: int) -> None:
        """A new file version settled: ``size`` bytes (the growth, for a changed file), ``at`` its ctime."""
        with self._lock:
            self._space.landed(volume, at, size)

    def sample(self, volume: str, at: float, space: Space) -> None:
        """A free-space reading (:func:`reelwatch.forecast.pace.read_space`) of the volume's root."""
        with self._lock:
            self._space.sample(volume, at, space)

    def cards(self, states: Iterable[CardState]) -> None:
        """How cards stand on their copies, after a batch touched them."""
        with self._lock:
            self._held += self._offload.update(states)

    def schedule(self, key: str, schedule: Schedule) -> None:
        """A new version of a schedule source (a file, or a timeline's pulls) is in force."""
        with self._lock:
            self._held += self._deliveries.replace(key, schedule)

    def schedule_failed(self, key: str, error: ScheduleError, *, asset: Asset | None = None,
                        role: str = "vfx") -> None:
        """A new version of a schedule source cannot be used; the one before stays in force."""
        with self._lock:
            self._held += self._deliveries.invalid(key, error, asset=asset, role=role)

    def drop_schedule(self, key: str) -> None:
        """The source left the config: its overdue findings resolve at the next tick."""
        with self._lock:
            self._deliveries.remove(key)

    # -- the tick -----------------------------------------------------------------------------
    def tick(self, now: float, delivered: DeliveredVersions) -> Outcome:
        """Judge everything at ``now`` (wall-clock seconds). Cheap: no disk, one query per due item."""
        with self._lock:
            out, self._held = self._held, []
            out += self._space.evaluate(now)
            out += self._offload.evaluate(now)
            found, messages = self._deliveries.evaluate(now, delivered, self.production)
            out += found
            due = self._saved_at is None or not 0 <= now - self._saved_at < SNAPSHOT_EVERY
            if not (out or messages or due):
                return Outcome((), (), None)
            self._saved_at = now
            return Outcome(tuple(out), tuple(messages), self._snapshot())

    # -- outputs ------------------------------------------------------------------------------
    def gauges(self, now: float) -> list[Gauge]:
        with self._lock:
            out = []
            for fc in self._space.forecasts(now):
                for volume in fc.volumes:
                    out.append(Gauge(volume, fc.free, fc.total, fc.rates.current, fc.rates.pace, fc.seconds))
            return out

    def status(self, now: float, delivered: DeliveredVersions) -> list[str]:
        """Plain lines for ``reelwatch status``: each drive, then the deliveries ahead and overdue."""
        with self._lock:
            lines = []
            for fc in self._space.forecasts(now):
                head = f"{fc.label}: {units.amount(fc.free)} free of {units.amount(fc.total)}"
                if fc.seconds <= 0:
                    lines.append(f"{head}; full")
                elif math.isinf(fc.seconds):
                    lines.append(f"{head}; not filling")
                else:
                    lines.append(f"{head}; filling at {units.rate(fc.rates.current)} now, "
                                 f"{units.rate(fc.rates.pace)} over the last {units.span(fc.rates.pace_span)}; "
                                 f"full in {units.about(fc.seconds)}")
            open_cards = [k.partition(":")[2] for k in self._offload.ledger.keys()]
            if open_cards:
                lines.append(f"on one copy only: {units.listed(open_cards)}")
            return lines + self._deliveries.outlook(now, delivered)

    # -- persistence --------------------------------------------------------------------------
    def snapshot(self) -> str:
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> str:
        return json.dumps({"version": SNAPSHOT_VERSION, "space": self._space.snapshot(),
                           "offload": self._offload.snapshot(), "deliveries": self._deliveries.snapshot()},
                          sort_keys=True, separators=(",", ":"))

    def restore(self, text: str) -> None:
        """Take up a snapshot (call before tracking drives). Raises ValueError for one it cannot read:
        the caller says so and starts fresh rather than half-restored."""
        try:
            data = json.loads(text)
            if not isinstance(data, Mapping) or data.get("version") != SNAPSHOT_VERSION:
                raise ValueError(f"snapshot version {data.get('version') if isinstance(data, Mapping) else '?'} "
                                 f"is not {SNAPSHOT_VERSION}")
            space, offload, deliveries = (SpaceWatch(self._space.settings), OneCopyWatch(self._offload.settings),
                                          DeliveryWatch(self._deliveries.settings))
            space.restore(data.get("space") or {})
            offload.restore(data.get("offload") or {})
            deliveries.restore(data.get("deliveries") or {})
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"the forecast state cannot be read ({type(exc).__name__}: {exc})") from None
        with self._lock:
            self._space, self._offload, self._deliveries = space, offload, deliveries

    def reconfigure(self, space: SpaceSettings, offload: OffloadSettings, deliveries: DeliverySettings,
                    *, production: str, now: float) -> None:
        """New settings (a config reload), keeping every alert, rate and schedule."""
        state = self.snapshot()
        with self._lock:
            refs = list(self._refs.values())
            self._space, self._offload = SpaceWatch(space), OneCopyWatch(offload)
            self._deliveries, self.production = DeliveryWatch(deliveries), production
        self.restore(state)
        for ref in refs:
            self.track(ref, now)

    def debug_state(self) -> dict[str, Any]:
        """The snapshot as data, for tests and ``reelwatch status --format json``."""
        return json.loads(self.snapshot())
