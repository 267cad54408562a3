"""Delivery schedules: what is due, from whom, by when, read from CSV, TOML or YAML (a timeline's
VFX pulls become a schedule in :mod:`.pulls`).

Columns (CSV header, or keys of each TOML/YAML entry): ``shot`` and ``due`` are required;
``task`` (empty: any task of the shot), ``version`` (``v003``, ``3`` or ``latest``, the
default), ``vendor`` (who delivers, for the wording) and ``role`` (who is told; default from
the config, ``vfx``) are optional. CSV exports carry other columns too (status, notes): they
are ignored; TOML and YAML are written by hand, so unknown keys are errors.

Due times are read explicitly: ``2024-05-03 18:00`` (with the schedule's ``timezone``),
``2024-05-03T18:00+01:00``, ``2024-05-03 18:00 Europe/London`` or ``... Z``. A time with no
zone and no ``timezone`` to read it in, a date with no time of day, a day-first or month-first
date (``03/05/2024`` means two different days on two continents) and a local time that does
not exist (skipped when the clocks go forward) are errors. A local time that happens twice
(when the clocks go back) is read as the first: the earlier warning is the safe one.

Every problem is reported at once, as ``file:line: what was found; what is allowed``
(:class:`ScheduleError`); a schedule with any problem is not used, and the one before it stays
in force.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.model import Asset

COLUMNS = ("shot", "task", "version", "due", "vendor", "role")
REQUIRED = ("shot", "due")
KEYS = (*COLUMNS, "note")
ALIASES = {"shot code": "shot", "shot name": "shot", "step": "task", "ver": "version", "due date": "due",
           "deadline": "due", "due time": "due", "facility": "vendor", "notes": "note", "comment": "note"}
_DUE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(.*)")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_VERSION = re.compile(r"[vV]?(\d{1,6})")
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


class ScheduleError(ValueError):
    """A schedule that cannot be used; ``problems`` holds one ``file:line: ...`` line each."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))

    def __str__(self) -> str:
        return "\n".join([f"{self.source}: cannot be used ({len(self.problems)} problem(s))",
                          *(f"  - {p}" for p in self.problems)])


@dataclass(frozen=True, slots=True)
class DueItem:
    """One delivery that is due."""

    shot: str
    task: str
    version: int | None
    """None: the latest version, whichever it is."""
    due: datetime
    """Timezone-aware."""
    vendor: str = ""
    role: str = "vfx"
    where: str = ""
    """``schedule.csv:4``, or a timeline event, for people to find the line."""

    @property
    def key(self) -> str:
        return f"{self.shot}|{self.task}|{'latest' if self.version is None else self.version}"

    @property
    def label(self) -> str:
        """``AGM_104_065_010 comp v003`` (no version for ``latest``)."""
        parts = [self.shot, self.task] + ([f"v{self.version:03d}"] if self.version is not None else [])
        return " ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class Schedule:
    """One version of one schedule source, replaced wholesale by the next one."""

    source: str
    """What people call it: the file name (``vfx_schedule_v004.csv``) or the timeline's."""
    items: tuple[DueItem, ...]
    asset: Asset | None = None
    """Where findings about it live (the schedule file on its volume); None: nowhere on a volume."""
    what: str = "VFX shots"
    """What the items are, for the wording: ``3 of 12 VFX shots due today 18:00 ...``."""


# -- values ---------------------------------------------------------------------------------------

def zone_of(name: str | None) -> tzinfo | None:
    """A time zone by IANA name (``Europe/London``) or ``UTC``; raises ValueError for an unknown name."""
    if name is None or name == "":
        return None
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is unknown; write an IANA name such as 'Europe/London' or "
                         "'America/Los_Angeles' (if every name fails, install the tzdata package)") from None


def localize(naive: datetime, zone: tzinfo) -> datetime:
    """Attach ``zone`` to a wall-clock time; a time the clocks skip is an error, a repeated one the first."""
    aware = naive.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks go forward then)")
    return aware


def parse_due(value: Any, zone: tzinfo | None) -> datetime:
    """An aware datetime from a TOML datetime or text; ``zone`` reads times written without one."""
    if isinstance(value, datetime):
        naive, named = value.replace(tzinfo=None), value.tzinfo
    elif isinstance(value, date):
        raise ValueError(f"due {value.isoformat()!r} has no time of day; write e.g. '{value.isoformat()} 18:00'")
    else:
        text = str(value).strip()
        m = _DUE.fullmatch(text)
        if m is None:
            raise ValueError(f"due {text!r} is not a date and time; write it as YYYY-MM-DD HH:MM, e.g. "
                             "'2024-05-03 18:00', with a zone if the schedule has none ('+01:00', 'Europe/London')")
        if m.group(4) is None:
            raise ValueError(f"due {text!r} has no time of day; write e.g. '{text} 18:00'")
        y, mo, d, h, mi, s, rest = m.groups()
        try:
            naive = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
        except ValueError as exc:
            raise ValueError(f"due {text!r} is not a real date and time ({exc})") from None
        named = _zone_text(rest.strip(), text)
    if named is not None:
        return localize(naive, named) if isinstance(named, ZoneInfo) else naive.replace(tzinfo=named)
    if zone is None:
        raise ValueError(f"due {value!s} has no time zone; add one ('{value!s}+01:00', or a name such as "
                         "'Europe/London') or set the schedule's timezone")
    return localize(naive, zone)


def _zone_text(rest: str, text: str) -> tzinfo | None:
    if not rest:
        return None
    if rest.upper() in ("Z", "UTC", "GMT"):
        return UTC
    m = _OFFSET.fullmatch(rest)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    if "/" in rest:
        return zone_of(rest)
    raise ValueError(f"due {text!r}: {rest!r} is not a time zone; write an offset ('+01:00') or an IANA name "
                     "('Europe/London'); abbreviations such as BST or PST are ambiguous")


def parse_version(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "latest")):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _VERSION.fullmatch(str(value).strip())
    if m is None:
        raise ValueError(f"version {value!r} is not a version number or 'latest'; write e.g. 'v003', '3' or 'latest'")
    return int(m.group(1))


def _column(name: str) -> str:
    key = " ".join(str(name).strip().lower().replace("_", " ").replace("-", " ").split())
    return ALIASES.get(key, key)


def _item(row: Mapping[str, Any], where: str, zone: tzinfo | None, role: str,
          roles: Iterable[str] | None) -> DueItem:
    """One entry; raises ValueError with every problem of it joined."""
    problems: list[str] = []
    shot = str(row.get("shot") or "").strip()
    if not shot:
        problems.append("the shot is empty")
    values: dict[str, Any] = {}
    for name, parse in (("due", lambda v: parse_due(v, zone)), ("version", parse_version)):
        try:
            values[name] = parse(row.get(name))
        except ValueError as exc:
            problems.append(str(exc))
    who = str(row.get("role") or "").strip() or role
    known = list(roles or ())
    if known and who not in known:
        close = difflib.get_close_matches(who, known, n=1, cutoff=0.6)
        problems.append(f"role {who!r} is not a configured role" + (f" (did you mean {close[0]!r}?)" if close else "")
                        + f"; roles: {', '.join(known)}")
    if problems:
        raise ValueError("; ".join(problems))
    return DueItem(shot=shot, task=str(row.get("task") or "").strip(), version=values["version"],
                   due=values["due"], vendor=str(row.get("vendor") or "").strip(), role=who, where=where)


def _check_conflicts(items: Sequence[DueItem], problems: list[str]) -> tuple[DueItem, ...]:
    seen: dict[str, DueItem] = {}
    out = []
    for item in items:
        other = seen.get(item.key)
        if other is None:
            seen[item.key] = item
            out.append(item)
        elif other.due != item.due:
            problems.append(f"{item.where}: {item.label or item.shot} is listed twice with different due times "
                            f"({other.where}: {other.due.isoformat()}; here: {item.due.isoformat()}); keep one")
    return tuple(out)


# -- formats --------------------------------------------------------------------------------------

def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScheduleError(source, [f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                                     f"{exc.start}); save it as UTF-8 (in Excel: 'CSV UTF-8')"]) from None


def parse_csv(text: str, source: str, *, zone: tzinfo | None = None, role: str = "vfx",
              roles: Iterable[str] | None = None) -> tuple[DueItem, ...]:
    lines = text.splitlines()
    header_at = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if header_at is None:
        return ()
    head = lines[header_at]
    delimiter = max(",;\t", key=head.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    problems: list[str] = []
    items: list[DueItem] = []
    columns: list[str] | None = None
    end = 0
    for row in reader:
        line, end = end + 1, reader.line_num  # a quoted cell may span lines: report where the row starts
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if columns is None:
            columns = [_column(c) for c in row]
            absent = [c for c in REQUIRED if c not in columns]
            if absent:
                unknown = [c for c in columns if c not in KEYS]
                hints = [f"{c!r} (did you mean {m[0]!r}?)" for c in unknown
                         if (m := difflib.get_close_matches(c, COLUMNS, n=1, cutoff=0.6))]
                raise ScheduleError(source, [
                    f"{source}:{line}: no {' or '.join(repr(c) for c in absent)} column"
                    + (f"; found {', '.join(hints)}" if hints else f"; the columns are {', '.join(map(repr, row))}")
                    + "; needed: shot, due; optional: task, version, vendor, role"])
            continue
        cells = {c: row[i] for i, c in enumerate(columns) if c in COLUMNS and i < len(row)}
        try:
            items.append(_item(cells, f"{source}:{line}", zone, role, roles))
        except ValueError as exc:
            problems.append(f"{source}:{line}: {exc}")
    kept = _check_conflicts(items, problems)
    if problems:
        raise ScheduleError(source, problems)
    return kept


def _entries(data: Any, source: str, problems: list[str]) -> tuple[list[Any], tzinfo | None]:
    """The list of entries and the file's own time zone, from a parsed TOML or YAML document."""
    zone = None
    if data is None:
        return [], None  # an empty file: nothing is due
    if isinstance(data, Mapping):
        for key in data:
            if key not in ("timezone", "delivery", "deliveries"):
                close = difflib.get_close_matches(str(key), ["timezone", "delivery"], n=1, cutoff=0.6)
                problems.append(f"{source}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                                + "; allowed at the top: timezone, delivery (a list of deliveries)")
        try:
            zone = zone_of(data.get("timezone"))
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
        data = data.get("delivery", data.get("deliveries", []))
    if not isinstance(data, list):
        problems.append(f"{source}: the deliveries must be a list (found {type(data).__name__})")
        return [], zone
    return data, zone


def parse_structured(data: Any, lines: Sequence[int | None], source: str, *, zone: tzinfo | None = None,
                     role: str = "vfx", roles: Iterable[str] | None = None) -> tuple[DueItem, ...]:
    """Entries from a parsed TOML or YAML document; ``lines`` gives each entry's line when known."""
    problems: list[str] = []
    entries, own = _entries(data, source, problems)
    items: list[DueItem] = []
    for i, entry in enumerate(entries):
        line = lines[i] if i < len(lines) else None
        where = f"{source}:{line}" if line else f"{source}: delivery[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: each delivery must be a table of shot, due ... (found {entry!r})")
            continue
        unknown = [k for k in entry if k not in KEYS]
        for key in unknown:
            close = difflib.get_close_matches(str(key), KEYS, n=1, cutoff=0.6)
            problems.append(f"{where}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                            + f"; allowed: {', '.join(KEYS)}")
        try:
            items.append(_item(entry, where, own or zone, role, roles))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    kept = _check_conflicts(items, problems)
    if problems:
        raise ScheduleError(source, problems)
    return kept


def parse_toml(text: str, source: str, **kw: Any) -> tuple[DueItem, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(source, [f"{source}: not valid TOML: {exc}"]) from None
    heads = [i + 1 for i, ln in enumerate(text.splitlines()) if re.match(r"\s*\[\[\s*deliver(y|ies)\s*\]\]", ln)]
    return parse_structured(data, heads, source, **kw)


def parse_yaml(text: str, source: str, **kw: Any) -> tuple[DueItem, ...]:
    from .yamlread import load_with_lines
    try:
        data, lines = load_with_lines(text)
    except ValueError as exc:
        raise ScheduleError(source, [f"{source}: not valid YAML: {exc}"]) from None
    return parse_structured(data, lines, source, **kw)


def read_schedule(path: str | Path, *, name: str | None = None, asset: Asset | None = None,
                  timezone: str | None = None, role: str = "vfx", roles: Iterable[str] | None = None,
                  what: str = "VFX shots") -> Schedule:
    """Read one schedule file (the format by its extension). Raises :class:`ScheduleError`, or OSError."""
    path = Path(path)
    source = name or path.name
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ScheduleError(source, [f"{source}: {path.suffix or 'no extension'} is not a schedule format; "
                                     f"allowed: {', '.join(sorted(FORMATS))}"])
    try:
        zone = zone_of(timezone)
    except ValueError as exc:
        raise ScheduleError(source, [f"{source}: {exc}"]) from None
    text = decode(path.read_bytes(), source)
    parse = {"csv": parse_csv, "toml": parse_toml, "yaml": parse_yaml}[fmt]
    return Schedule(source, parse(text, source, zone=zone, role=role, roles=roles), asset, what)


# -- persistence ----------------------------------------------------------------------------------

def dump_schedule(schedule: Schedule) -> dict[str, Any]:
    """JSON-able form, for the engine's snapshot (a restart keeps the last good version in force)."""
    asset = schedule.asset
    return {"source": schedule.source, "what": schedule.what,
            "asset": [asset.volume, asset.root, asset.relpath] if asset else None,
            "items": [[i.shot, i.task, i.version, i.due.isoformat(), getattr(i.due.tzinfo, "key", None), i.vendor,
                       i.role, i.where] for i in schedule.items]}


def load_schedule(data: Mapping[str, Any]) -> Schedule:
    items = []
    for shot, task, version, due, zone, vendor, role, where in data.get("items") or ():
        moment = datetime.fromisoformat(due)
        items.append(DueItem(shot, task, version, moment.astimezone(ZoneInfo(zone)) if zone else moment,
                             vendor, role, where))
    asset = data.get("asset")
    return Schedule(str(data.get("source", "")), tuple(items),
                    Asset(volume=asset[0], root=asset[1], relpath=asset[2], size=0, mtime_ns=0) if asset else None,
                    str(data.get("what") or "VFX shots"))
