"""Forecasts: warn before it happens. Drives filling up, cards sitting on one copy, deliveries due.

Everything else reelwatch reports has already gone wrong; these say what is about to, early
enough to act: "SHUTTLE_02 will be full in about 35 min at the current offload rate (1.2 TB/h);
410 GB free", "Card A002R2EC has been on one copy only (raid_a) for more than 30 min: one copy
is not a backup", "3 of 12 VFX shots due today 18:00 are not delivered: ...".

What lives here:

- :mod:`.pace`: fill rate of a drive from free-space samples and settled files, over a short
  and a long window; ``statvfs`` reading.
- :mod:`.space`: per-drive forecasts and the ``forecast.drive_full`` alert (horizons, confirm,
  hysteresis).
- :mod:`.offload`: the ``forecast.one_copy`` alert per card of a mirror set.
- :mod:`.schedule`, :mod:`.pulls`, :mod:`.yamlread`: delivery schedules from CSV, TOML, YAML
  and timeline pulls, with ``file:line`` errors and explicit time zones.
- :mod:`.deliveries`: what counts as delivered (:class:`DeliveredVersions`), reminders before
  the due time, ``schedule.overdue`` and ``schedule.invalid``.
- :mod:`.alerts`: keyed alerts reported only as transitions (new, changed, resolved).
- :mod:`.settings`: the ``[rules.forecast]``, ``[rules.offload]`` and ``[rules.deliveries]``
  sections; :mod:`.rules`: their rule ids; :mod:`.units`: durations, sizes, wording.
- :mod:`.engine`: :class:`Forecaster`, the one object the daemon feeds and ticks.

What it may import: :mod:`reelwatch.core.model` (the frozen values), the standard library, and
PyYAML (a dependency of apprise) for YAML schedules only. Nothing from the daemon, the state
store, the metrics, the config module or the command line: those call in, through the
interface in docs/forecast.md. Time is always passed in (``now``, ``at``); nothing here reads
a clock or sleeps, so every behaviour is testable at any simulated pace.
"""

from __future__ import annotations

from .alerts import Transition
from .deliveries import Delivered, DeliveredVersions, DeliverySettings, InMemoryDeliveries, shot_of
from .engine import Forecaster, Gauge, Outcome
from .offload import CardState, CopyState, OffloadSettings
from .pace import Space, read_space
from .pulls import VfxPull, schedule_from_pulls
from .rules import RULES
from .schedule import DueItem, Schedule, ScheduleError, read_schedule
from .settings import DeliveriesConfig, ScheduleSource, TimelineSource, newest, parse_deliveries, parse_forecast, \
    parse_offload
from .space import DriveRef, SpaceSettings

__all__ = ["RULES", "CardState", "CopyState", "Delivered", "DeliveredVersions", "DeliveriesConfig",
           "DeliverySettings", "DriveRef", "DueItem", "Forecaster", "Gauge", "InMemoryDeliveries", "OffloadSettings",
           "Outcome", "Schedule", "ScheduleError", "ScheduleSource", "Space", "SpaceSettings", "TimelineSource",
           "Transition", "VfxPull", "newest", "parse_deliveries", "parse_forecast", "parse_offload", "read_schedule",
           "read_space", "schedule_from_pulls", "shot_of"]
