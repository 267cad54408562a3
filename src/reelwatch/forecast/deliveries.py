"""Deliveries due: remind before the due time, report what is overdue after it.

What has been delivered comes from a :class:`DeliveredVersions` (the state store in the daemon,
:class:`InMemoryDeliveries` in tests): every checked file of every version of a shot and task,
with the rule ids of its open errors. A version counts as delivered only when every file of
it is free of errors: a truncated comp was sent, not delivered.

- ``latest``: delivered when the newest version present is clean (a broken v004 is not made
  good by a clean v003).
- ``v003``: delivered when v003 or any later version is clean.

Before the due time, at each lead (e.g. 24 h, then 2 h), one message per due time and role
(the items' role and the ``tell`` roles, e.g. the supervisor): "3 of 12 VFX shots due today
18:00 are not delivered: AGM_104_065_010 comp, ...". Each lead is used once per due time; a
schedule read after a lead has passed gets only the tightest lead it is inside. Nothing is
sent when everything is in.

After the due time (plus ``overdue_after``, for files landing at the last minute to settle and
be checked), each item not delivered is a ``schedule.overdue`` finding; it changes when a
version arrives that fails its checks, and resolves when a clean one lands (saying how late),
when a new schedule moves the date out, or when the item leaves the schedule.

A schedule that cannot be read is a ``schedule.invalid`` finding for its owner, and the version
before it stays in force; the next good version resolves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from ..core.model import Asset, Finding, Message, Severity
from . import units
from .alerts import Ledger, Transition
from .schedule import DueItem, Schedule, ScheduleError, dump_schedule, load_schedule, zone_of

RECENT = 7 * 86400.0
"""Seconds: items due longer ago than this are looked up again only while their alert is open."""
OVERDUE = "schedule.overdue"
INVALID = "schedule.invalid"
SHOWN = 30


@dataclass(frozen=True, slots=True)
class Delivered:
    """One checked file (or image sequence) of one version of a shot and task."""

    version: int
    landed_at: float
    """When it settled (wall-clock seconds)."""
    errors: tuple[str, ...] = ()
    """Rule ids of its open (or acknowledged) findings of severity error or worse."""
    volume: str = ""
    relpath: str = ""


class DeliveredVersions(Protocol):
    """What has been delivered, by shot and task."""

    def versions(self, shot: str, task: str) -> Sequence[Delivered]:
        """Every checked file of every version of ``shot`` (``AGM_104_065_010``) and ``task`` (``comp``;
        ``""``: any task) on the watched volumes, gone files excluded."""


SHOT_FIELDS = ("show", "episode", "seq", "scene", "shot")
"""Naming fields that make up a shot name, in the order the VFX naming presets write them."""


def shot_of(fields: Mapping[str, Any]) -> str | None:
    """The shot name a file's naming fields spell (``AGM_104_065_010`` from show AGM, episode 104, seq 065,
    shot 010), as a schedule writes it; None without a ``shot`` field. For a store-backed
    :class:`DeliveredVersions`: look files up by task, keep those whose ``shot_of`` is the shot."""
    if not fields.get("shot"):
        return None
    return "_".join(str(fields[k]) for k in SHOT_FIELDS if fields.get(k) not in (None, ""))


class InMemoryDeliveries:
    """:class:`DeliveredVersions` kept in a dict: for tests and one-shot use."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, str], dict[str, Delivered]] = {}

    def add(self, shot: str, task: str, version: int, *, landed_at: float = 0.0, errors: Iterable[str] = (),
            relpath: str = "", volume: str = "") -> None:
        """Record a file (the same relpath again replaces it: a re-check with other findings)."""
        rel = relpath or f"{shot}_{task}_v{version:03d}"
        self._files.setdefault((shot, task), {})[rel] = Delivered(version, landed_at, tuple(errors), volume, rel)

    def versions(self, shot: str, task: str) -> Sequence[Delivered]:
        if task:
            return list(self._files.get((shot, task), {}).values())
        return [d for (s, _), files in self._files.items() if s == shot for d in files.values()]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one due item stands now."""

    state: str
    """``delivered``, ``failed`` (a version arrived and fails its checks) or ``missing``."""
    version: int | None = None
    landed_at: float | None = None
    errors: tuple[str, ...] = ()
    present: tuple[int, ...] = ()


def standing(item: DueItem, files: Iterable[Delivered]) -> Standing:
    by_version: dict[int, list[Delivered]] = {}
    for f in files:
        by_version.setdefault(f.version, []).append(f)
    present = tuple(sorted(by_version))

    def errors(v: int) -> tuple[str, ...]:
        return tuple(sorted({e for f in by_version[v] for e in f.errors}))

    def landed(v: int) -> float:
        return max(f.landed_at for f in by_version[v])

    wanted = [v for v in present if item.version is None or v >= item.version]
    if item.version is None:
        wanted = wanted[-1:]  # latest: only the newest version counts
    clean = [v for v in wanted if not errors(v)]
    if clean:
        return Standing("delivered", clean[0], landed(clean[0]), (), present)
    if wanted:
        return Standing("failed", wanted[-1], landed(wanted[-1]), errors(wanted[-1]), present)
    return Standing("missing", present=present)


class _Lookups:
    """Standings looked up on demand, once per item per tick: one query each in the store."""

    def __init__(self, delivered: DeliveredVersions) -> None:
        self.delivered = delivered
        self.cache: dict[tuple[str, str], Standing] = {}

    def __call__(self, key: str, item: DueItem) -> Standing:
        got = self.cache.get((key, item.key))
        if got is None:
            got = self.cache[(key, item.key)] = standing(item, self.delivered.versions(item.shot, item.task))
        return got


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """``[rules.deliveries]`` (see :func:`reelwatch.forecast.settings.parse_deliveries`)."""

    leads: tuple[float, ...] = (86400.0, 7200.0)
    """Seconds before the due time, longest first."""
    tell: tuple[str, ...] = ("supervisor",)
    overdue_after: float = 300.0
    timezone: str | None = None
    """Zone the due times are shown in; None: each in the zone it was written in."""


class DeliveryWatch:
    """Schedules in force, reminders sent and overdue alerts. Not thread-safe: the engine serialises calls."""

    def __init__(self, settings: DeliverySettings) -> None:
        self.settings = settings
        self.ledger = Ledger()
        self.schedules: dict[str, Schedule] = {}
        self._sent: dict[str, float] = {}
        """Reminder keys (source, due, role, lead) already used -> the due time, for pruning."""
        self._zone: tzinfo | None = zone_of(settings.timezone)
        self._fresh: set[str] = set()
        """Sources replaced since the last evaluation: every item of them is judged once."""

    # -- schedules --------------------------------------------------------------------------
    def replace(self, key: str, schedule: Schedule) -> list[Transition]:
        """A new version of a schedule source replaces the old one wholesale."""
        self.schedules[key] = schedule
        self._fresh.add(key)
        alert = f"{INVALID}:{key}"
        if alert not in self.ledger:
            return []
        return [self.ledger.resolve(alert, self._invalid_finding(
            schedule.asset, schedule.source, f"{schedule.source} is read: {len(schedule.items)} deliveries",
            Severity.INFO, "", ()))]

    def invalid(self, key: str, error: ScheduleError, *, asset: Asset | None = None,
                role: str = "vfx") -> list[Transition]:
        """A new version of a schedule source cannot be used: the previous one stays in force."""
        alert = f"{INVALID}:{key}"
        if alert in self.ledger and self.ledger.memo(alert).get("problems") == error.problems:
            return []
        previous = self.schedules.get(key)
        kept = (f"the previous version ({previous.source}, {len(previous.items)} deliveries) stays in force"
                if previous else "no schedule is in force until it is fixed")
        count = len(error.problems)
        message = (f"{error.source} cannot be used: {count} problem{'s' if count != 1 else ''} "
                   f"({error.problems[0] if error.problems else 'unreadable'}); {kept}")
        finding = self._invalid_finding(asset, error.source, message, Severity.ERROR, role, error.problems)
        return [self.ledger.raise_(alert, finding, {"problems": list(error.problems)})]

    def remove(self, key: str) -> None:
        """The source left the config; its overdue alerts resolve at the next evaluation."""
        self.schedules.pop(key, None)

    def _invalid_finding(self, asset: Asset | None, source: str, message: str, severity: Severity, role: str,
                         problems: Sequence[str]) -> Finding:
        return Finding(
            rule=INVALID, severity=severity, message=message, owner=role or None, impacts=self.settings.tell,
            asset=asset or Asset(volume="", root="", relpath=source, size=0, mtime_ns=0),
            expected="a schedule reelwatch can read: columns shot and due (task, version, vendor and role optional), "
                     "due times as YYYY-MM-DD HH:MM with a time zone",
            impact="reminders and overdue reports follow the previous schedule (or none), not this one",
            fix="correct the lines listed and save the schedule again; the new version replaces this one",
            details={"problems": list(problems)[:50], "problem_count": len(problems)})

    # -- the tick ----------------------------------------------------------------------------
    def evaluate(self, now: float, delivered: DeliveredVersions,
                 production: str) -> tuple[list[Transition], list[Message]]:
        items = [(key, sch, item) for key, sch in sorted(self.schedules.items()) for item in sch.items]
        found = _Lookups(delivered)
        out = self._overdue(now, items, found)
        messages = self._reminders(now, items, found, production)
        for k in [k for k, due in self._sent.items() if due < now - RECENT]:
            del self._sent[k]
        self._fresh.clear()
        return out, messages

    def _overdue(self, now: float, items: Sequence[tuple[str, Schedule, DueItem]],
                 found: _Lookups) -> list[Transition]:
        """Looks up only what can change an alert: items past due (those due in the last ``RECENT``
        seconds, those with an open alert, and every item of a schedule just read) and open alerts."""
        out: list[Transition] = []
        live: set[str] = set()
        for key, sch, item in items:
            alert = f"{OVERDUE}:{key}:{item.key}"
            live.add(alert)
            due = item.due.timestamp()
            late = now >= due + self.settings.overdue_after
            if alert not in self.ledger and (not late or (now - due > RECENT and key not in self._fresh)):
                continue
            st = found(key, item)
            memo = self.ledger.memo(alert)
            if late and st.state != "delivered":
                if alert not in self.ledger or (memo.get("state"), memo.get("version")) != (st.state, st.version):
                    finding = self._overdue_finding(sch, item, st)
                    out.append(self.ledger.raise_(alert, finding, {"state": st.state, "version": st.version,
                                                                   "label": item.label, **_where(finding.asset)}))
            elif alert in self.ledger:
                if st.state == "delivered":
                    assert st.landed_at is not None and st.version is not None
                    landed = datetime.fromtimestamp(st.landed_at, UTC).astimezone(self._shown(item.due).tzinfo)
                    why = (f"{item.label} was delivered {units.late_by(st.landed_at - item.due.timestamp())} "
                           f"(v{st.version:03d}, {units.day_and_time(landed)})")
                else:
                    why = f"{item.label} is now due {units.day_and_time(self._shown(item.due))} ({item.where})"
                out.append(self.ledger.resolve(alert, self._finding(sch, item, why, Severity.INFO, st)))
        for alert in self.ledger.keys():
            if alert.startswith(OVERDUE + ":") and alert not in live:
                memo = self.ledger.memo(alert)
                gone = Finding(rule=OVERDUE, severity=Severity.INFO, owner=None, impacts=self.settings.tell,
                               message=f"{memo.get('label', alert)} is no longer on the schedule",
                               asset=Asset(volume=str(memo.get("volume", "")), root=str(memo.get("root", "")),
                                           relpath=str(memo.get("relpath", "")), size=0, mtime_ns=0))
                out.append(self.ledger.resolve(alert, gone))
        return out

    def _reminders(self, now: float, items: Sequence[tuple[str, Schedule, DueItem]],
                   found: _Lookups, production: str) -> list[Message]:
        groups: dict[tuple[str, float, str], list[DueItem]] = {}
        for key, _, item in items:
            groups.setdefault((key, item.due.timestamp(), item.role), []).append(item)
        messages: list[Message] = []
        for (key, due, role), group in sorted(groups.items()):
            left = due - now
            crossed = [lead for lead in self.settings.leads if 0 < left <= lead]
            if not crossed:
                continue
            marks = [f"{key}|{due}|{role}|{lead}" for lead in crossed]
            if all(m in self._sent for m in marks):
                continue
            for m in marks:
                self._sent[m] = due
            pending = [(i, found(key, i)) for i in group if found(key, i).state != "delivered"]
            if pending:
                messages += self._reminder(self.schedules[key], group, pending, now, production)
        return messages

    def _reminder(self, sch: Schedule, group: Sequence[DueItem], pending: Sequence[tuple[DueItem, Standing]],
                  now: float, production: str) -> list[Message]:
        due = self._shown(group[0].due)
        when = units.when(due, datetime.fromtimestamp(now, UTC))
        n = len(pending)
        subject = f"{n} of {len(group)} {sch.what} due {when} {'is' if n == 1 else 'are'} not delivered"
        lines = [f"{subject}: {units.listed([i.label for i, _ in pending])}"]
        for item, st in pending[:SHOWN]:
            lines.append(f"- {item.label}{f' ({item.vendor})' if item.vendor else ''}: {self._state_words(st)}")
        if n > SHOWN:
            lines.append(f"- and {n - SHOWN} more")
        lines.append(f"Due {units.day_and_time(due)}, from {sch.source}.")
        roles = list(dict.fromkeys([group[0].role, *self.settings.tell]))
        return [Message(role=r, production=production, kind="reminder", subject=subject, text="\n".join(lines))
                for r in roles]

    # -- status and persistence ----------------------------------------------------------------
    def outlook(self, now: float, delivered: DeliveredVersions) -> list[str]:
        """One line per due time still ahead within the longest lead, and one for what is overdue."""
        lines = []
        horizon = max(self.settings.leads, default=0.0)
        groups: dict[tuple[str, float], list[DueItem]] = {}
        for key, sch in sorted(self.schedules.items()):
            for item in sch.items:
                if 0 < item.due.timestamp() - now <= horizon:
                    groups.setdefault((key, item.due.timestamp()), []).append(item)
        for (key, _), group in sorted(groups.items(), key=lambda kv: kv[0][1]):
            done = sum(standing(i, delivered.versions(i.shot, i.task)).state == "delivered" for i in group)
            when = units.when(self._shown(group[0].due), datetime.fromtimestamp(now, UTC))
            lines.append(f"{self.schedules[key].what} due {when}: {done} of {len(group)} delivered")
        overdue = [self.ledger.memo(k).get("label", k) for k in self.ledger.keys() if k.startswith(OVERDUE + ":")]
        if overdue:
            lines.append(f"overdue: {units.listed([str(x) for x in overdue])}")
        bad = [k.partition(":")[2] for k in self.ledger.keys() if k.startswith(INVALID + ":")]
        if bad:
            lines.append(f"schedule cannot be used: {units.listed(bad)}")
        return lines

    def snapshot(self) -> dict[str, Any]:
        return {"alerts": self.ledger.snapshot(), "sent": dict(self._sent),
                "schedules": {k: dump_schedule(s) for k, s in self.schedules.items()}}

    def restore(self, data: Mapping[str, Any]) -> None:
        self.ledger.restore(data.get("alerts") or {})
        self._sent = {str(k): float(v) for k, v in (data.get("sent") or {}).items()}
        self.schedules = {str(k): load_schedule(v) for k, v in (data.get("schedules") or {}).items()}

    # -- wording -------------------------------------------------------------------------------
    def _shown(self, moment: datetime) -> datetime:
        return moment.astimezone(self._zone) if self._zone is not None else moment

    @staticmethod
    def _state_words(st: Standing) -> str:
        if st.state == "failed":
            return f"v{st.version:03d} arrived but fails its checks ({units.listed(list(st.errors))})"
        if st.present:
            return f"not delivered (only {units.listed([f'v{v:03d}' for v in st.present])} here)"
        return "not delivered"

    def _overdue_finding(self, sch: Schedule, item: DueItem, st: Standing) -> Finding:
        by = f" from {item.vendor}" if item.vendor else ""
        due = units.day_and_time(self._shown(item.due))
        if st.state == "failed":
            message = f"{item.label} was due {due}{by}: {self._state_words(st)}"
        else:
            message = f"{item.label} was due {due}{by} and is " + self._state_words(st)
        return self._finding(sch, item, message, Severity.ERROR, st)

    def _finding(self, sch: Schedule, item: DueItem, message: str, severity: Severity, st: Standing) -> Finding:
        vendor = item.vendor or "the vendor"
        fix = (f"ask {vendor} to fix {item.label} and deliver it again as a new version; the findings on "
               f"v{st.version:03d} say what is wrong" if st.state == "failed" else
               f"chase {vendor} for {item.label}; if the date has moved, change it in the schedule (a new version "
               "of the schedule replaces this one)")
        details: dict[str, Any] = {"shot": item.shot, "task": item.task, "vendor": item.vendor,
                                   "version": "latest" if item.version is None else item.version,
                                   "due": item.due.isoformat(), "line": item.where, "state": st.state,
                                   "delivered_version": st.version, "errors": list(st.errors)}
        return Finding(
            rule=OVERDUE, severity=severity, message=message, owner=item.role, impacts=self.settings.tell,
            asset=sch.asset or Asset(volume="", root="", relpath=sch.source, size=0, mtime_ns=0),
            expected=f"{item.label} delivered by {units.day_and_time(self._shown(item.due))} ({item.where})",
            impact="editorial cannot cut it in, and what is planned after it (reviews, the next turnover, the "
                   "conform) waits for it",
            fix=fix, details=details)


def _where(asset: Asset) -> dict[str, str]:
    return {"volume": asset.volume, "root": asset.root, "relpath": asset.relpath}

