"""Owns the config sections of the forecasts (``[rules.forecast]``, ``[rules.offload]``,
``[rules.deliveries]``) and documents their rules, so that ``reelwatch plugins`` lists them and
``config validate`` reports their errors with key paths like any other section.

It checks nothing itself: the daemon runs the forecasts (:mod:`reelwatch.service.forecasts`, the
engine in :mod:`reelwatch.forecast`) on its control loop, because they are about time passing
and drives filling, not about one file. See docs/forecast.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reelwatch.api import Config, RuleInfo, did_you_mean, hookimpl
from reelwatch.api.forecast import RULES, DeliveriesConfig, OffloadSettings, SpaceSettings, parse_deliveries, \
    parse_forecast, parse_offload


@hookimpl
def config_sections() -> dict[str, Any]:
    return {"forecast": parse_forecast, "offload": parse_offload, "deliveries": parse_deliveries}


@hookimpl
def rules() -> tuple[RuleInfo, ...]:
    return RULES


def _unknown(where: str, name: str, kind: str, known: Iterable[str]) -> str:
    known = list(known)
    return f"{where}: no {kind} named {name!r}{did_you_mean(name, known)}; {kind}s: {', '.join(known) or 'none'}"


@hookimpl
def configure(config: Config) -> None:
    """The names the sections use must exist: mirror sets, roles, volumes."""
    problems: list[str] = []
    space = config.rules.get("forecast")
    if isinstance(space, SpaceSettings):
        names = [v.name for v in config.volumes]
        problems += [_unknown(f"rules.forecast.volumes[{i}]", n, "volume", names)
                     for i, n in enumerate(space.volumes) if n not in names]
    offload = config.rules.get("offload")
    if isinstance(offload, OffloadSettings) and offload.sets:
        mirrors = config.rules.get("mirrors")
        sets = [s.name for s in getattr(mirrors, "sets", ())]
        problems += [_unknown(f"rules.offload.sets[{i}]", n, "mirror set", sets)
                     for i, n in enumerate(offload.sets) if n not in sets]
    deliveries = config.rules.get("deliveries")
    if isinstance(deliveries, DeliveriesConfig):
        roles = list(config.roles)
        problems += [_unknown(f"rules.deliveries.tell[{i}]", r, "role", roles)
                     for i, r in enumerate(deliveries.settings.tell) if r not in roles]
        for kind, sources in (("schedules", deliveries.schedules), ("timelines", deliveries.timelines)):
            problems += [_unknown(f"rules.deliveries.{kind}[{i}].role", s.role, "role", roles)
                         for i, s in enumerate(sources) if s.role not in roles]
    if problems:
        raise ValueError("; ".join(problems))
