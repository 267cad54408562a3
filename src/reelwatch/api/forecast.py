"""The forecasts' config sections and rule ids, for the plugin that owns them (``plugins/forecast_rules.py``).

The forecasts warn before things go wrong: a drive that will be full within a horizon, a card left on
one copy, deliveries due and overdue. The daemon runs them (:mod:`reelwatch.forecast` is the engine,
docs/forecast.md how it is wired); a plugin only declares the sections and documents the rules.
"""

from __future__ import annotations

from ..forecast import RULES as _RULES
from ..forecast import DeliveriesConfig as _DeliveriesConfig
from ..forecast import OffloadSettings as _OffloadSettings
from ..forecast import SpaceSettings as _SpaceSettings
from ..forecast import parse_deliveries, parse_forecast, parse_offload

RULES = _RULES
"""The :class:`~reelwatch.api.RuleInfo` of ``forecast.drive_full``, ``forecast.one_copy``,
``schedule.overdue`` and ``schedule.invalid``."""

SpaceSettings = _SpaceSettings
"""``[rules.forecast]`` as validated by :func:`parse_forecast`: horizons, windows, reserve, volumes."""

OffloadSettings = _OffloadSettings
"""``[rules.offload]`` as validated by :func:`parse_offload`: ``second_copy_within``, ``forget_after``, ``sets``."""

DeliveriesConfig = _DeliveriesConfig
"""``[rules.deliveries]`` as validated by :func:`parse_deliveries`: its ``settings`` (leads, ``tell``, grace,
time zone), and the ``schedules`` and ``timelines`` sources, each with its ``role``."""

__all__ = ["RULES", "DeliveriesConfig", "OffloadSettings", "SpaceSettings", "parse_deliveries", "parse_forecast",
           "parse_offload"]
