"""Space and pace: when will each drive be full, and who must be told before it is.

A *drive* is one filesystem. Volumes on the same filesystem share one forecast and one alert
(two watched folders on one RAID fill one RAID: one problem, one finding), named after the
first volume reelwatch tracked on it; a drive picked up under a mount root is called by its
own name (``SHUTTLE_02``).

The forecast uses the faster of the two rates (:mod:`.pace`): the current offload rate while a
copy runs, the day's pace between cards. Seconds until full = (free - ``reserve``) / rate;
at or below ``reserve`` a drive counts as full, whatever the rate (a full drive lands nothing,
and must not read as "not filling").

Warnings, per drive (``forecast.drive_full``, one alert):

- a horizon (e.g. 2 h, then 30 min) counts as reached once the forecast has stayed inside it
  for ``confirm`` seconds, so that the first minutes of a measurement cannot raise an alarm;
- the first horizon reached opens the alert (owner: the volume's owner); a tighter one changes
  it (a new message, a worse severity); a horizon is never reported twice in one episode, and
  the alert never steps back down (no flapping while the rate wobbles);
- it resolves only when space really comes back: free space of at least ``1 + hysteresis``
  times what the longest horizon needs at the fastest rate that raised it, plus the reserve.
  A pause in the offload does not resolve it: the drive is as close to full as it was;
- a drive that is unmounted resolves it (:meth:`SpaceWatch.forget`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.model import Asset, Finding, Severity
from . import units
from .alerts import Ledger, Transition
from .pace import FillRate, Rates, Space

RULE = "forecast.drive_full"


@dataclass(frozen=True, slots=True)
class SpaceSettings:
    """``[rules.forecast]`` (see :func:`reelwatch.forecast.settings.parse_forecast`)."""

    horizons: tuple[float, ...] = (7200.0, 1800.0)
    """Seconds, longest first: warn when the drive will be full within each."""
    short: float = 600.0
    long: float = 10800.0
    min_span: float = 60.0
    confirm: float = 60.0
    hysteresis: float = 0.25
    reserve: int = 10**9
    """Bytes: a drive with this little free counts as full."""
    volumes: tuple[str, ...] = ()
    """Volume names (or mount-root names) to forecast; empty: all."""


@dataclass(frozen=True, slots=True)
class DriveRef:
    """A volume as the daemon sees it: which drive it is on, and what people call that drive."""

    volume: str
    root: str
    label: str = ""
    """``SHUTTLE_02`` for a drive under a mount root; defaults to the volume name."""
    device: str = ""
    """Identity of the filesystem (``st_dev``); volumes with the same device share a forecast."""


@dataclass(frozen=True, slots=True)
class Forecast:
    """Where one drive stands now."""

    name: str
    label: str
    volumes: tuple[str, ...]
    free: int
    total: int
    rates: Rates
    rate: float
    """The rate the forecast uses (the faster of the two), bytes per second."""
    basis: str
    """``current`` (the offload going on now) or ``pace`` (the long window)."""
    seconds: float
    """Seconds until full at ``rate``; ``math.inf`` when not filling; 0 when full."""

    @property
    def basis_words(self) -> str:
        if self.basis == "current":
            return "the current offload rate"
        return f"the pace of the last {units.span(self.rates.pace_span)}"


@dataclass
class _Drive:
    name: str
    root: str
    label: str
    volumes: set[str]
    fill: FillRate
    space: Space | None = None
    pending: dict[int, float] = field(default_factory=dict)
    """Horizon level -> since when the forecast has been inside it (for ``confirm``)."""


class SpaceWatch:
    """Per-drive forecasts and their alerts. Not thread-safe: the engine serialises calls."""

    def __init__(self, settings: SpaceSettings) -> None:
        self.settings = settings
        self.ledger = Ledger()
        self._drives: dict[str, _Drive] = {}
        self._by_volume: dict[str, str] = {}
        self._parked: dict[str, dict[str, Any]] = {}
        """Restored fill rates by drive name, adopted when the drive is tracked again."""
        self._started: float | None = None

    # -- which drives ---------------------------------------------------------------------
    def track(self, ref: DriveRef, now: float) -> list[Transition]:
        """Forecast this volume (called when it is opened or a drive is picked up; idempotent). A volume
        found on another filesystem than before (another drive mounted at its path) leaves the old one."""
        s = self.settings
        if s.volumes and not any(ref.volume == v or ref.volume.startswith(v + "-") for v in s.volumes):
            return []
        key = ref.device or f"volume:{ref.volume}"
        out = self.forget(ref.volume, now) if self._by_volume.get(ref.volume, key) != key else []
        drive = self._drives.get(key)
        if drive is None:
            parked = self._parked.pop(ref.volume, None)
            fill = (FillRate.restore(parked, short=s.short, long=s.long, min_span=s.min_span) if parked
                    else FillRate(now, short=s.short, long=s.long, min_span=s.min_span))
            drive = self._drives[key] = _Drive(ref.volume, ref.root, ref.label or ref.volume, set(), fill)
        elif ref.volume < drive.name and drive.space is None and ref.volume in self._parked:
            # several volumes on one drive, opened in another order than last time: the drive keeps
            # the name (and so the alert key) it had, the smallest volume name, before it is read
            drive.name, drive.fill = ref.volume, FillRate.restore(self._parked.pop(ref.volume), short=s.short,
                                                                  long=s.long, min_span=s.min_span)
        drive.volumes.add(ref.volume)
        self._by_volume[ref.volume] = key
        return out

    def forget(self, volume: str, now: float) -> list[Transition]:
        """The volume is gone (drive unplugged, volume removed from the config)."""
        key = self._by_volume.pop(volume, None)
        drive = self._drives.get(key) if key else None
        if drive is None:
            return []
        drive.volumes.discard(volume)
        if drive.volumes:
            return []
        del self._drives[key]  # type: ignore[arg-type]
        alert = f"{RULE}:{drive.name}"
        if alert not in self.ledger:
            return []
        return [self.ledger.resolve(alert, self._finding(
            drive, f"{drive.label} is no longer mounted: it is not forecast any more", Severity.INFO, {}))]

    # -- measurements ---------------------------------------------------------------------
    def landed(self, volume: str, at: float, size: int) -> None:
        drive = self._drive(volume)
        if drive is not None:
            drive.fill.landed(at, size)

    def sample(self, volume: str, at: float, space: Space) -> None:
        drive = self._drive(volume)
        if drive is not None:
            drive.space = space
            drive.fill.sample(at, space.free, space.total)

    def _drive(self, volume: str) -> _Drive | None:
        key = self._by_volume.get(volume)
        return self._drives.get(key) if key else None

    # -- forecasts ------------------------------------------------------------------------
    def forecast(self, volume: str, now: float) -> Forecast | None:
        drive = self._drive(volume)
        return self._forecast(drive, now) if drive is not None else None

    def forecasts(self, now: float) -> list[Forecast]:
        out = [self._forecast(d, now) for d in self._drives.values()]
        return sorted((f for f in out if f is not None), key=lambda f: f.name)

    def _forecast(self, drive: _Drive, now: float) -> Forecast | None:
        if drive.space is None:
            return None  # not read yet: unknown is not "fine"
        rates = drive.fill.rates(now)
        rate, basis = (rates.current, "current") if rates.current >= rates.pace else (rates.pace, "pace")
        room = drive.space.free - self.settings.reserve
        seconds = 0.0 if room <= 0 else (room / rate if rate > 0 else math.inf)
        return Forecast(drive.name, drive.label, tuple(sorted(drive.volumes)), drive.space.free, drive.space.total,
                        rates, rate, basis, seconds)

    # -- alerts ---------------------------------------------------------------------------
    def evaluate(self, now: float) -> list[Transition]:
        """Open, change or resolve each drive's alert. Call on every tick, after the samples."""
        s = self.settings
        out: list[Transition] = []
        if self._started is None:
            self._started = now
        elif now - self._started >= s.confirm:
            # alerts restored for drives that did not come back (unplugged while reelwatch was down)
            names = {d.name for d in self._drives.values()}
            for key in self.ledger.keys():
                name = key.partition(":")[2]
                if name not in names:
                    memo = self.ledger.memo(key)
                    label = str(memo.get("label") or name)
                    gone = Asset(volume=name, root=str(memo.get("root") or ""), relpath="", size=0, mtime_ns=0)
                    out.append(self.ledger.resolve(key, self._finding_at(
                        gone, label, f"{label} is no longer mounted: it is not forecast any more", Severity.INFO, {})))
        for drive in self._drives.values():
            drive.fill.prune(now)
            fc = self._forecast(drive, now)
            if fc is None:
                continue
            level = sum(1 for h in s.horizons if fc.seconds <= h)
            for k in range(1, len(s.horizons) + 1):
                if k <= level:
                    drive.pending.setdefault(k, now)
                else:
                    drive.pending.pop(k, None)
            reached = max((k for k, since in drive.pending.items() if now - since >= s.confirm), default=0)
            key = f"{RULE}:{drive.name}"
            memo = self.ledger.memo(key)
            if reached > int(memo.get("level", 0)):
                worst = max(float(memo.get("rate", 0.0)), fc.rate)
                out.append(self.ledger.raise_(key, self._warning(drive, fc, reached),
                                              {"level": reached, "rate": worst, "label": drive.label,
                                               "root": drive.root}))
            elif key in self.ledger:
                needed = (1 + s.hysteresis) * (s.reserve + float(memo.get("rate", 0.0)) * s.horizons[0])
                if fc.free >= needed:
                    out.append(self.ledger.resolve(key, self._room_again(drive, fc, float(memo.get("rate", 0.0)))))
        return out

    def _warning(self, drive: _Drive, fc: Forecast, level: int) -> Finding:
        s = self.settings
        horizon = s.horizons[level - 1]
        if fc.seconds <= 0:
            message = f"{fc.label} is full: only {units.amount(fc.free)} free"
            if fc.rate > 0:
                message += f", and files are still landing at {units.rate(fc.rate)}"
        else:
            message = (f"{fc.label} will be full in {units.about(fc.seconds)} at {fc.basis_words} "
                       f"({units.rate(fc.rate)}); {units.amount(fc.free)} free")
        severity = Severity.ERROR if level == len(s.horizons) or fc.seconds <= 0 else Severity.WARNING
        details = {"free_bytes": fc.free, "total_bytes": fc.total, "rate_bytes_per_second": round(fc.rate, 1),
                   "current_bytes_per_second": round(fc.rates.current, 1),
                   "pace_bytes_per_second": round(fc.rates.pace, 1), "basis": fc.basis,
                   "seconds_until_full": None if math.isinf(fc.seconds) else round(fc.seconds),
                   "horizon_seconds": horizon, "volumes": list(fc.volumes)}
        return self._finding(drive, message, severity, details)

    def _room_again(self, drive: _Drive, fc: Forecast, rate: float) -> Finding:
        message = f"{fc.label} has room again: {units.amount(fc.free)} free"
        if rate > 0:
            message += f", about {units.span((fc.free - self.settings.reserve) / rate)} at {units.rate(rate)}"
        return self._finding(drive, message, Severity.INFO, {"free_bytes": fc.free, "total_bytes": fc.total})

    def _finding(self, drive: _Drive, message: str, severity: Severity, details: Mapping[str, Any]) -> Finding:
        asset = Asset(volume=drive.name, root=drive.root, relpath="", size=0, mtime_ns=0)
        return self._finding_at(asset, drive.label, message, severity, details)

    def _finding_at(self, asset: Asset, label: str, message: str, severity: Severity,
                    details: Mapping[str, Any]) -> Finding:
        longest = units.span(self.settings.horizons[0])
        return Finding(
            rule=RULE, severity=severity, message=message, asset=asset,
            expected=f"room on {label} for at least {longest} more at the rate it is filling",
            impact=f"when {label} is full, copies and renders to it stop part-way, and whatever is still "
                   "waiting to be copied has nowhere to go",
            fix=f"swap in the next drive, or make room on {label} before it fills; reelwatch says when there "
                "is room again",
            details=details)

    # -- persistence ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        drives = {d.name: d.fill.snapshot() for d in self._drives.values()}
        return {"alerts": self.ledger.snapshot(), "drives": {**self._parked, **drives}}

    def restore(self, data: Mapping[str, Any]) -> None:
        self.ledger.restore(data.get("alerts") or {})
        self._parked = {str(k): dict(v) for k, v in (data.get("drives") or {}).items()}
