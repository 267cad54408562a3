"""Durations, sizes and times as configs write them and as people on a set read them.

Config values: a duration is a number of seconds or text with units (``"30min"``, ``"2h"``,
``"1h30m"``); a size is a number of bytes or text with units (``"1GB"``, ``"500 GiB"``). Bad
input raises :class:`ValueError` naming what was found and what is allowed.

Wording: drives are terabytes, so sizes go up to TB (``410 GB``, ``1.2 TB``), unlike the file
sizes in :mod:`reelwatch.core.wording`, which stop at GB; rates are per hour (``1.2 TB/h``), the
unit DITs quote offload speeds in; times left are rounded to what a forecast can promise
(``about 35 min``, ``about 1 h 50 min``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime

_DURATION_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_SIZE_UNITS = {
    "b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*")


def parse_duration(value: object) -> float:
    """Seconds from ``90`` (seconds), ``"90s"``, ``"30min"``, ``"2h"``, ``"1h30m"`` or ``"1 day"``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. '30min', '2h' or '1h30m'")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration; it must be 0 seconds or more")
        return float(value)
    text = str(value).strip()
    total, pos = 0.0, 0
    for m in _PART.finditer(text):
        unit = m.group(2).lower()
        if m.start() != pos or unit not in _DURATION_UNITS:
            break
        total += float(m.group(1)) * _DURATION_UNITS[unit]
        pos = m.end()
    else:
        if pos == len(text) and pos:
            return total
    raise ValueError(f"{text!r} is not a duration; write e.g. '30min', '2h' or '1h30m' "
                     "(units: s, min, h, d), or a number of seconds")


def parse_size(value: object) -> int:
    """Bytes from ``1000000000``, ``"1GB"``, ``"500 GB"``, ``"1.5TB"`` or ``"64MiB"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _PART.fullmatch(str(value)) if isinstance(value, str) else None
    if m is None or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"{value!r} is not a size; write e.g. '1GB', '500 GB' or '2TB' "
                         "(decimal units, or KiB/MiB/GiB/TiB), or a number of bytes")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def amount(size: float) -> str:
    """``850 MB``, ``9.5 GB``, ``410 GB``, ``1.2 TB`` (decimal units, as drives are sold)."""
    size = max(0.0, float(size))
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale * 0.995:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 9.95 else f"{value:,.0f} {unit}"
    return f"{size:,.0f} bytes"


def rate(bytes_per_second: float) -> str:
    """``1.2 TB/h``: an offload rate per hour."""
    return amount(bytes_per_second * 3600) + "/h"


def span(seconds: float) -> str:
    """A length of time, rounded: ``30 min``, ``2 h``, ``1 h 30 min``, ``2 days``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{round(seconds / 86400)} days"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def about(seconds: float) -> str:
    """A forecast time: ``less than a minute``, ``about 35 min``, ``about 1 h 50 min``, ``about 14 h``.

    Past an hour the minutes are rounded to 5 and past 10 hours dropped: a rate measured over
    minutes does not know the time of filling to the minute."""
    if seconds < 60:
        return "less than a minute"
    if seconds < 3570:  # 59.5 min: rounded, anything later reads as "about 1 h"
        return f"about {max(1, round(seconds / 60))} min"
    if seconds < 10 * 3600:
        minutes = round(seconds / 300) * 5
        hours, rest = divmod(minutes, 60)
        return f"about {hours} h" + (f" {rest} min" if rest else "")
    if seconds < 72 * 3600:
        return f"about {round(seconds / 3600)} h"
    return f"about {round(seconds / 86400)} days"


def clock(moment: datetime) -> str:
    """``18:00``, or ``18:30:15`` when the seconds matter."""
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


def day_and_time(moment: datetime) -> str:
    """``Fri 3 May 18:00 BST``: an absolute due time, for a finding that is read days later."""
    zone = moment.tzname() or ""
    text = f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b')} {clock(moment)}"
    return f"{text} {zone}" if zone else text


def when(moment: datetime, now: datetime) -> str:
    """``today 18:00``, ``tomorrow 09:00``, ``yesterday 18:00``, ``Fri 18:00`` or ``Fri 3 May 18:00``,
    read in the time zone of ``moment`` (``now`` is converted to it)."""
    local_now = now.astimezone(moment.tzinfo)
    days = (moment.date() - local_now.date()).days
    if days == 0:
        return f"today {clock(moment)}"
    if days == 1:
        return f"tomorrow {clock(moment)}"
    if days == -1:
        return f"yesterday {clock(moment)}"
    if 1 < days < 7:
        return f"{moment.strftime('%a')} {clock(moment)}"
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b')} {clock(moment)}"


def late_by(seconds: float) -> str:
    """``on time`` or ``2 h 10 min late``."""
    return "on time" if seconds <= 0 else f"{span(seconds)} late"


def listed(names: list[str], limit: int = 5) -> str:
    """``a, b and c`` or, past ``limit`` names, ``a, b, c, d, e and 3 more``."""
    if len(names) <= 1:
        return "".join(names)
    if len(names) <= limit:
        return f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"

