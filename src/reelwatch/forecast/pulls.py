"""A timeline's VFX pulls as a delivery schedule.

The timeline reader (OpenTimelineIO, ``reelwatch[timelines]``) hands over one :class:`VfxPull`
per VFX event: the shot name from the event's locator or clip name, the task expected back
(``comp`` unless the pull says otherwise) and, when the turnover gives one, the due time. The
shot is due once however many events use it, at the earliest due time. Pulls without a due
time take the default the config gives for that timeline; none at all is an error, like any
line of a schedule without a due time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..core.model import Asset
from .schedule import DueItem, Schedule, ScheduleError


@dataclass(frozen=True, slots=True)
class VfxPull:
    """One VFX shot pulled from a timeline: what a timeline reader hands over."""

    shot: str
    """Shot name as the schedule and the naming convention write it: ``AGM_104_065_010``."""
    task: str = "comp"
    version: int | None = None
    due: datetime | None = None
    """Timezone-aware; None: the default due time of :func:`schedule_from_pulls`."""
    vendor: str = ""
    role: str = ""
    where: str = ""
    """Where in the timeline, for people: ``AGM_104_R2_v12 event 37 (01:02:03:04)``."""


def schedule_from_pulls(pulls: Iterable[VfxPull], *, source: str, due: datetime | None = None, role: str = "vfx",
                        asset: Asset | None = None, what: str = "VFX shots") -> Schedule:
    """The VFX pulls of a timeline as a schedule; a shot pulled in several events is due once, earliest."""
    problems: list[str] = []
    items: dict[str, DueItem] = {}
    for i, pull in enumerate(pulls):
        where = pull.where or f"{source}: pull {i + 1}"
        when = pull.due or due
        if not pull.shot.strip():
            problems.append(f"{where}: the shot is empty")
            continue
        if when is None or when.tzinfo is None:
            problems.append(f"{where}: {pull.shot} has no due time with a time zone"
                            + ("" if when is not None else ", and no default due time is set for this timeline"))
            continue
        item = DueItem(pull.shot.strip(), pull.task.strip(), pull.version, when, pull.vendor, pull.role or role, where)
        known = items.get(item.key)
        if known is None or item.due < known.due:
            items[item.key] = item
    if problems:
        raise ScheduleError(source, problems)
    return Schedule(source, tuple(items.values()), asset, what)
