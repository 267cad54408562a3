"""The config sections of the forecasts, validated without pydantic: ``[rules.forecast]``,
``[rules.offload]`` and ``[rules.deliveries]``.

Each ``parse_*`` takes the section as a dict and returns frozen settings, or raises
:class:`ValueError` naming every problem as ``key: what was found; what is allowed`` (with a
"did you mean" for unknown keys). That is the contract of the ``config_sections`` hook, so the
config layer reports them as ``rules.forecast.horizons[1]: ...`` like any other section.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import units
from .deliveries import DeliverySettings
from .offload import OffloadSettings
from .schedule import parse_due, zone_of
from .space import SpaceSettings


@dataclass(frozen=True, slots=True)
class ScheduleSource:
    """``[[rules.deliveries.schedules]]``: a schedule file, or a glob whose newest version is in force."""

    name: str
    path: str
    what: str = "VFX shots"
    role: str = "vfx"
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineSource:
    """``[[rules.deliveries.timelines]]``: a timeline whose VFX pulls are due (read by the timeline reader)."""

    name: str
    path: str
    due: datetime | None = None
    task: str = "comp"
    what: str = "VFX shots"
    role: str = "vfx"
    shot_pattern: str | None = None
    """Regular expression finding the shot in an event's locators and clip name; None: the
    ``[[timelines]]`` entry's for that file, else the first word of the first locator."""


@dataclass(frozen=True, slots=True)
class DeliveriesConfig:
    settings: DeliverySettings
    schedules: tuple[ScheduleSource, ...] = ()
    timelines: tuple[TimelineSource, ...] = ()


class _Section:
    """Reads one table, collecting problems instead of stopping at the first."""

    def __init__(self, data: Any, where: str, allowed: Iterable[str], problems: list[str]) -> None:
        self.where, self.problems = where, problems
        self.data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        if not isinstance(data, Mapping):
            problems.append(f"{where or 'the section'}: must be a table (found {data!r})")
        allowed = list(allowed)
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                problems.append(f"{self._at(key)}: unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
                                + f"; allowed here: {', '.join(allowed)}")

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, parse: Callable[[Any], Any], default: Any) -> Any:
        if key not in self.data:
            return default
        try:
            return parse(self.data[key])
        except (ValueError, TypeError) as exc:
            self.problems.append(f"{self._at(key)}: {exc}")
            return default

    def durations(self, key: str, default: tuple[float, ...]) -> tuple[float, ...]:
        raw = self.data.get(key, None)
        if raw is None:
            return default
        if not isinstance(raw, list) or not raw:
            self.problems.append(f"{self._at(key)}: must be a list of durations, e.g. ['2h', '30min'] (found {raw!r})")
            return default
        out = []
        for i, value in enumerate(raw):
            try:
                seconds = units.parse_duration(value)
            except ValueError as exc:
                self.problems.append(f"{self._at(key)}[{i}]: {exc}")
                continue
            if seconds <= 0:
                self.problems.append(f"{self._at(key)}[{i}]: must be longer than 0 (found {value!r})")
            else:
                out.append(seconds)
        return tuple(sorted(set(out), reverse=True)) or default

    def names(self, key: str) -> tuple[str, ...]:
        raw = self.data.get(key, [])
        if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
            self.problems.append(f"{self._at(key)}: must be a list of names (found {raw!r})")
            return ()
        return tuple(raw)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be non-empty text (found {value!r})")
    return value.strip()


def _pattern(value: Any) -> str:
    text = _text(value)
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"{text!r} is not a regular expression: {exc}") from None
    return text


def _positive(value: Any) -> float:
    seconds = units.parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"must be longer than 0 (found {value!r})")
    return seconds


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise ValueError(f"must be a number from 0 to 10, e.g. 0.25 for 25 % (found {value!r})")
    return float(value)


def _raise(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


def parse_forecast(section: Any) -> SpaceSettings:
    """``[rules.forecast]``: horizons, windows, confirm, hysteresis, reserve, volumes."""
    problems: list[str] = []
    s = _Section(section, "", ("horizons", "current_window", "pace_window", "confirm", "hysteresis", "reserve",
                               "volumes"), problems)
    d = SpaceSettings()
    out = SpaceSettings(
        horizons=s.durations("horizons", d.horizons), short=s.get("current_window", _positive, d.short),
        long=s.get("pace_window", _positive, d.long), confirm=s.get("confirm", units.parse_duration, d.confirm),
        hysteresis=s.get("hysteresis", _fraction, d.hysteresis), reserve=s.get("reserve", units.parse_size, d.reserve),
        volumes=s.names("volumes"))
    if out.long < out.short:
        problems.append(f"pace_window ({units.span(out.long)}) must be at least current_window "
                        f"({units.span(out.short)})")
    _raise(problems)
    return out


def parse_offload(section: Any) -> OffloadSettings:
    """``[rules.offload]``: second_copy_within, forget_after, sets."""
    problems: list[str] = []
    s = _Section(section, "", ("second_copy_within", "forget_after", "sets"), problems)
    d = OffloadSettings()
    out = OffloadSettings(second_copy_within=s.get("second_copy_within", _positive, d.second_copy_within),
                          forget_after=s.get("forget_after", _positive, d.forget_after), sets=s.names("sets"))
    if out.forget_after <= out.second_copy_within:
        problems.append(f"forget_after ({units.span(out.forget_after)}) must be longer than second_copy_within "
                        f"({units.span(out.second_copy_within)})")
    _raise(problems)
    return out


def parse_deliveries(section: Any) -> DeliveriesConfig:
    """``[rules.deliveries]``: leads, tell, overdue_after, timezone, role, and the schedule and timeline sources."""
    problems: list[str] = []
    s = _Section(section, "", ("leads", "tell", "overdue_after", "timezone", "role", "schedules", "timelines"),
                 problems)
    d = DeliverySettings()
    zone = s.get("timezone", lambda v: (zone_of(_text(v)), _text(v))[1], None)
    role = s.get("role", _text, "vfx")
    settings = DeliverySettings(leads=s.durations("leads", d.leads), tell=s.names("tell") if "tell" in s.data
                                else d.tell, overdue_after=s.get("overdue_after", units.parse_duration,
                                                                 d.overdue_after), timezone=zone)
    sources: list[ScheduleSource] = []
    for i, raw in enumerate(_tables(s, "schedules")):
        e = _Section(raw, f"schedules[{i}]", ("name", "path", "what", "role", "timezone"), problems)
        path = e.get("path", _text, "")
        if not path:
            problems.append(f"schedules[{i}].path: a schedule file or glob is needed, e.g. "
                            "'/mnt/nas/Production/VFX/vfx_schedule_v*.csv'")
        own = e.get("timezone", lambda v: (zone_of(_text(v)), _text(v))[1], zone)
        sources.append(ScheduleSource(e.get("name", _text, path), path, e.get("what", _text, "VFX shots"),
                                      e.get("role", _text, role), own))
    timelines: list[TimelineSource] = []
    for i, raw in enumerate(_tables(s, "timelines")):
        e = _Section(raw, f"timelines[{i}]", ("name", "path", "due", "task", "what", "role", "shot_pattern"),
                     problems)
        path = e.get("path", _text, "")
        if not path:
            problems.append(f"timelines[{i}].path: a timeline file or glob is needed")
        due = e.get("due", lambda v: parse_due(v, zone_of(zone)), None)
        timelines.append(TimelineSource(e.get("name", _text, path), path, due, e.get("task", _text, "comp"),
                                        e.get("what", _text, "VFX shots"), e.get("role", _text, role),
                                        e.get("shot_pattern", _pattern, None)))
    names = [x.name for x in (*sources, *timelines)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"schedule and timeline names must be unique; repeated: {', '.join(dupes)} (set name = ...)")
    _raise(problems)
    return DeliveriesConfig(settings, tuple(sources), tuple(timelines))


def _tables(s: _Section, key: str) -> list[Any]:
    raw = s.data.get(key, [])
    if not isinstance(raw, list):
        s.problems.append(f"{key}: must be a list of tables ([[rules.deliveries.{key}]]) (found {raw!r})")
        return []
    return raw


_VERSION = re.compile(r"[._-][vV](\d+)(?=[._-]|$)")


def newest(paths: Iterable[tuple[str, float]]) -> str | None:
    """The version in force among the files a schedule glob matches, given (path, mtime): the highest
    ``_v004`` in the name, then the newest file (a schedule saved again under the same name)."""
    def rank(item: tuple[str, float]) -> tuple[int, float, str]:
        stem = item[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        found = _VERSION.findall(stem)
        return (int(found[-1]) if found else -1, item[1], item[0])

    ranked = sorted(paths, key=rank)
    return ranked[-1][0] if ranked else None
