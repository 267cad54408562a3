"""Cut lists in the pipeline: read when they land, matched to the clips in the state database,
conformed, and every finding on a clip told where the cut uses it (docs/timelines.md).

The builtin ``timeline`` plugin (:class:`CutLists`) owns ``[rules.conform]`` and documents the
``conform.*`` rules. It acts only once a :class:`Conformer` is attached (the daemon does that,
see :mod:`reelwatch.service.timelines`): its ``check`` wrapper then

- on a cut list (a file :func:`~reelwatch.timeline.cut_list_format` knows, or one a
  ``[[timelines]]`` entry names), reads it in a child process, matches and stores each sequence
  and adds the ``conform.*`` findings to the file's own, committed with its check;
- on any other file, puts its clip in the catalog and says which cuts use it: the finding's
  ``details["used_in"]`` and the roles that must hear it (editorial for a cut, VFX for a pull),
  or, with ``demote_unused``, one severity lower for a clip no current cut uses.

Clips a cut list waits for, or uses, are re-conformed once the batch that changed them is done
(``batch_done``), by checking the cut list again: it is read once per file version and kept.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core import globs
from ..core.config import Config, TimelineSource
from ..core.hookspecs import hookimpl
from ..core.model import Asset, Facts, Finding, Severity, freeze, parse_rate, thaw
from ..state.store import Store
from ..timeline import (SCHEMA, TIMELINE_SCHEMA, CutList, Match, Report, SqlCatalog, SqlTimelines, Timeline,
                        clip_from_asset, conform, cut_list_format, diff, display_name, impact_roles, impact_text,
                        match_event, match_timeline, read_isolated, rule_infos)

log = structlog.get_logger("reelwatch.timelines")
NOT_CLIPS = ("sidecar", "missing")
"""Facts kinds that are no clip an event could use (checksum lists, MHL, XML sidecars)."""
KEEP_READ = 64
"""Cut lists kept as read, per file version: re-conforming after a clip changed does not read again
(an AAF took up to 4.6 s per corpus file)."""


class ConformConfig(BaseModel):
    """``[rules.conform]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    demote_unused: bool = False
    """Send findings on clips in no current cut one severity lower (never below warning)."""
    fail_at: str = "error"
    """Open findings at or above this make an event failing."""
    read_timeout: float = Field(default=120, gt=0)
    """Seconds one cut list may take to read before the reader is stopped."""

    @field_validator("fail_at")
    @classmethod
    def _sev(cls, v: str) -> str:
        Severity.parse(v)
        return v


def settings(config: Config | None) -> ConformConfig:
    found = config.rules.get("conform") if config is not None else None
    return found if isinstance(found, ConformConfig) else ConformConfig()


def base_rate(config: Config | None) -> Fraction | None:
    return parse_rate(config.production.base_frame_rate) if config and config.production.base_frame_rate else None


def source_for(volume: str, relpath: str, config: Config | None) -> TimelineSource | None:
    """The ``[[timelines]]`` entry naming this file, if any."""
    for entry in config.timelines if config is not None else ():
        if entry.volume in (None, volume) and any(globs.match(relpath, p) for p in entry.paths):
            return entry
    return None


def is_cut_list(asset: Asset, config: Config | None) -> bool:
    return asset.sequence is None and (source_for(asset.volume, asset.relpath, config) is not None
                                       or cut_list_format(asset.path) is not None)


@dataclass(frozen=True, slots=True)
class Conformed:
    """One sequence of a cut list, matched and conformed (``report`` None: not the current version)."""

    timeline: Timeline
    matches: tuple[Match, ...]
    report: Report | None
    replaced: tuple[Timeline, ...] = ()
    replaced_files: tuple[tuple[str, str], ...] = ()


def conform_all(db: Any, cut: CutList, volume: str, relpath: str, open_findings: Callable[[str, str], Any], *,
                fail_at: Severity = Severity.ERROR, shot_pattern: str | None = None,
                store: bool = True) -> list[Conformed]:
    """Match every sequence of a cut list against the catalog on ``db``; with ``store``, record it
    (:meth:`SqlTimelines.put`, which decides the current version) and conform only current ones."""
    catalog, timelines = SqlCatalog(db), SqlTimelines(db)
    out: list[Conformed] = []
    if store:
        timelines.remove(volume, relpath)  # a new version of the file may hold fewer sequences
    for seq, tl in enumerate(cut.timelines):
        matches = match_timeline(tl, catalog)
        if not store:
            out.append(Conformed(tl, matches, conform(tl, matches, open_findings, fail_at=fail_at)))
            continue
        stored = timelines.put(volume, relpath, tl, matches, seq=seq, now=time.time(), shot_pattern=shot_pattern)
        old = tuple(timelines.timeline(i) for i in stored.replaced)
        files = tuple((r[0], r[1]) for i in stored.replaced
                      for r in db.execute("SELECT volume, relpath FROM timelines WHERE id = ?", (i,)))
        report = conform(tl, matches, open_findings, fail_at=fail_at) if stored.current else None
        out.append(Conformed(tl, matches, report, old, files))
    return out


def findings_of(asset: Asset, cut: CutList, done: Sequence[Conformed]) -> list[Finding]:
    """The cut list's findings: what reading it found, and each current sequence's conform issues,
    each carrying its sequence's summary (shown under the finding in messages)."""
    out = [i.finding(asset) for i in cut.issues]
    for c in done:
        if c.report is None:
            continue
        summary = {"summary": c.report.summary.text(), "by_reel": c.report.summary.reel_lines()[:12]}
        for issue in c.report.issues:
            f = issue.finding(asset)
            out.append(replace(f, details=freeze({**thaw(f.details), **summary})))
    if cut.timelines and all(c.report is None for c in done):
        return []  # an older version arriving late: stored, and raises nothing
    return out


def _lower(severity: Severity) -> Severity:
    return severity if severity <= Severity.WARNING else Severity(severity - 10)


_NOT_CUT_LISTS = " AND ".join(f"lower(relpath) NOT LIKE '%{ext}'" for ext in (".edl", ".aaf", ".otio", ".fcpxml"))


class Conformer:
    """The daemon's side of the plugin: the store, and where re-conforms and news go."""

    def __init__(self, store: Store, *, recheck: Callable[[str, str], None],
                 tell: Callable[[str, str, str], None]) -> None:
        self.store = store
        self.recheck = recheck
        """Check a cut list (volume, relpath) again (called once the batch that asked for it is done)."""
        self._pending: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.tell = tell
        """(role, subject, text): a message that is not a finding (a new version's changes)."""
        self.config: Config | None = None
        self.busy: Callable[[], bool] | None = None
        """True while more files of the current batch are queued, settling or being checked."""
        self._later: dict[tuple[str, str], list[Timeline]] = {}
        self.on_totals: Callable[[dict[str, int]], None] | None = None
        """Told the current timelines' counts after each batch (``status``, metrics)."""
        self._events_of: dict[int, int] = {}
        self._read: OrderedDict[tuple[str, str, int, int], CutList] = OrderedDict()
        store.add_tables(SCHEMA + TIMELINE_SCHEMA)

    def schedule(self, volume: str, relpath: str) -> None:
        """Conform a cut list again once the current batch is done (many clips, one re-conform)."""
        with self._lock:
            self._pending.add((volume, relpath))

    def flush(self) -> None:
        with self._lock:
            due, self._pending = sorted(self._pending), set()
        for volume, relpath in due:
            self.recheck(volume, relpath)
        if self.on_totals is not None:
            self.on_totals(totals(self.store, self._events_of))

    # -- cut lists --------------------------------------------------------------------------
    def read(self, asset: Asset, source: TimelineSource | None) -> CutList:
        key = (asset.volume, asset.relpath, asset.size, asset.mtime_ns)
        cut = self._read.get(key)
        if cut is None:
            purpose = source.purpose if source is not None else None
            cut = read_isolated(asset.path, base_rate(self.config), purpose, settings(self.config).read_timeout)
            self._read[key] = cut
            while len(self._read) > KEEP_READ:
                self._read.popitem(last=False)
        self._read.move_to_end(key)
        return cut

    def cut_list(self, asset: Asset, history: Any) -> list[Finding]:
        source = source_for(asset.volume, asset.relpath, self.config)
        first = (asset.volume, asset.relpath, asset.size, asset.mtime_ns) not in self._read
        cut = self.read(asset, source)
        cfg = settings(self.config)
        with self.store.tx() as db:
            done = conform_all(db, cut, asset.volume, asset.relpath, history.open_findings,
                               fail_at=Severity.parse(cfg.fail_at),
                               shot_pattern=source.shot_pattern if source is not None else None)
        for c in done:  # their conform findings resolve: they are not current any more
            for volume, relpath in c.replaced_files:
                if (volume, relpath) != (asset.volume, asset.relpath):
                    self.schedule(volume, relpath)
        log.info("cut_list_read", volume=asset.volume, path=asset.relpath, format=cut.format,
                 sequences=len(cut.timelines), events=sum(len(c.timeline.events) for c in done),
                 issues=len(cut.issues))
        place = (asset.volume, asset.relpath)
        if first and self.busy is not None and self.busy():
            # A turnover: the media may be landing with it. Its events are stored (the clips find
            # them), and it is conformed once the batch is done, not before: no "offline" for
            # media that was still being copied.
            with self._lock:
                self._later.setdefault(place, []).extend(old for c in done for old in c.replaced)
            self.schedule(*place)
            log.info("cut_list_conform_after_batch", volume=asset.volume, path=asset.relpath)
            current = not cut.timelines or any(c.report is not None for c in done)
            return [i.finding(asset) for i in cut.issues] if current else []
        with self._lock:
            earlier = self._later.pop(place, [])
        self._news(done, earlier)
        return findings_of(asset, cut, done)

    def _news(self, done: Sequence[Conformed], earlier: Sequence[Timeline] = ()) -> None:
        """Editorial hears of a new version once: what changed against the one it replaces, and
        where the new one stands."""
        for c in done:
            olds = [*earlier, *c.replaced] if c is done[0] else list(c.replaced)
            if c.report is None or not olds:
                continue
            lines = [diff(old, c.timeline).text() for old in olds]
            lines += ["", c.report.summary.text(), *c.report.summary.reel_lines()[:20]]
            owner = "vfx" if c.timeline.purpose == "vfx_pull" else "editorial"
            self.tell(owner, f"{display_name(c.timeline)} replaces {display_name(olds[0])}", "\n".join(lines))

    # -- clips ------------------------------------------------------------------------------
    def clip(self, asset: Asset, facts: Facts, findings: list[Finding]) -> list[Finding]:
        """Put the clip in the catalog; schedule the cut lists that wait for it or use it; say
        where each finding's clip is used."""
        if facts.kind in NOT_CLIPS:
            return findings
        clip = clip_from_asset(asset, facts, base_rate=base_rate(self.config))
        with self.store.tx() as db:
            catalog = SqlCatalog(db)
            catalog.put(clip)
            timelines = SqlTimelines(db)
            waiting = timelines.waiting_for(clip)
            for tid, numbers in waiting.items():  # matched now, so this clip's own message can say where
                self._rematch(db, timelines, catalog, tid, numbers)
            uses = timelines.uses(asset.volume, asset.relpath)
            used_ids = [r[0] for r in db.execute("SELECT DISTINCT timeline FROM timeline_uses u JOIN timelines t ON "
                                                 "t.id = u.timeline WHERE u.volume = ? AND u.relpath = ? AND "
                                                 "t.current = 1", (asset.volume, asset.relpath))]
            known = bool(db.execute("SELECT 1 FROM timelines WHERE current = 1 LIMIT 1").fetchone())
            redo = {tuple(r) for tid in {*waiting, *used_ids}
                    for r in db.execute("SELECT volume, relpath FROM timelines WHERE id = ?", (tid,))}
        for volume, relpath in sorted(redo):
            self.schedule(volume, relpath)
        return annotate(findings, uses, demote=settings(self.config).demote_unused and known)

    def _rematch(self, db: Any, timelines: SqlTimelines, catalog: SqlCatalog, tid: int, numbers: list[int]) -> None:
        row = db.execute("SELECT volume, relpath FROM timelines WHERE id = ?", (tid,)).fetchone()
        source = source_for(row[0], row[1], self.config) if row else None
        timeline = timelines.timeline(tid)
        wanted = set(numbers)
        matches = [match_event(e, catalog) for e in timeline.events if e.number in wanted]
        timelines.rematched(tid, timeline, matches, shot_pattern=source.shot_pattern if source else None)

    def backfill(self, chunk: int = 500) -> int:
        """Put up to ``chunk`` clips of assets checked before the catalog existed (an upgrade, or a
        daemon without ``reelwatch[timelines]``); returns how many (0: none left). Image sequences
        wait for their next check (their frame range is not kept with the asset)."""
        rows = self.store.query(
            "SELECT volume, relpath, size, mtime_ns, facts FROM assets a WHERE gone_at IS NULL AND facts IS NOT NULL "
            "AND kind NOT IN ('sidecar', 'missing', 'image_sequence') AND NOT EXISTS (SELECT 1 FROM clips c "
            "WHERE c.volume = a.volume AND c.relpath = a.relpath) AND " + _NOT_CUT_LISTS + " LIMIT ?", (chunk,))
        rate = base_rate(self.config)
        clips = [clip_from_asset(Asset(r["volume"], "", r["relpath"], r["size"], r["mtime_ns"]),
                                 Facts.from_json(r["facts"]), base_rate=rate) for r in rows]
        with self.store.tx() as db:
            SqlCatalog(db).put_many(clips)
        return len(rows)

    def volume(self, name: str, up: bool) -> None:
        """A volume unmounted (its clips are offline) or mounted again: the cuts using its clips
        are conformed again at once (no batch may follow an unmount)."""
        with self.store.tx() as db:
            db.execute("UPDATE clips SET present = ? WHERE volume = ? AND (? = 0 OR EXISTS (SELECT 1 FROM assets a "
                       "WHERE a.volume = clips.volume AND a.relpath = clips.relpath AND a.gone_at IS NULL))",
                       (int(up), name, int(up)))
            redo = {tuple(r) for r in db.execute(
                "SELECT DISTINCT t.volume, t.relpath FROM timeline_uses u JOIN timelines t ON t.id = u.timeline "
                "WHERE u.volume = ? AND t.current = 1", (name,))}
        for volume, relpath in sorted(redo):
            self.schedule(volume, relpath)
        self.flush()

    def gone(self, assets: Iterable[Asset]) -> None:
        """Files that disappeared: their clips are offline now, and a cut list that went takes its
        timelines with it; the cuts that used them are conformed again."""
        redo: set[tuple[str, str]] = set()
        with self.store.tx() as db:
            timelines = SqlTimelines(db)
            for a in assets:
                db.execute("UPDATE clips SET present = 0 WHERE volume = ? AND relpath = ?", (a.volume, a.relpath))
                redo |= {tuple(r) for r in db.execute(
                    "SELECT DISTINCT t.volume, t.relpath FROM timeline_uses u JOIN timelines t ON t.id = u.timeline "
                    "WHERE u.volume = ? AND u.relpath = ? AND t.current = 1", (a.volume, a.relpath))}
                timelines.remove(a.volume, a.relpath)
        for volume, relpath in sorted(redo):
            self.schedule(volume, relpath)


FAILING = ("conform.media_error", "conform.source_range", "conform.frame_rate")


def totals(store: Store, events_of: dict[int, int] | None = None) -> dict[str, int]:
    """Current timelines, their events, and the events offline or failing by the open conform
    findings (for ``status`` and metrics; the same after a restart as before it)."""
    events_of = {} if events_of is None else events_of
    rows = store.query("SELECT id, volume, relpath, data FROM timelines WHERE current = 1")
    files = {(r["volume"], r["relpath"]) for r in rows}
    for r in rows:
        if r["id"] not in events_of:
            events_of[r["id"]] = len(Timeline.from_json(r["data"]).events)
    offline: set[tuple[str, str, int]] = set()
    failing: set[tuple[str, str, int]] = set()
    for f in store.query("SELECT rule, volume, relpath, data FROM findings WHERE status IN ('open', 'acked') "
                         "AND rule IN ('conform.offline', 'conform.media_error', 'conform.source_range', "
                         "'conform.frame_rate')"):
        if (f["volume"], f["relpath"]) not in files:
            continue  # a cut list that went, or an older version
        events = json.loads(f["data"]).get("details", {}).get("events") or []
        into = offline if f["rule"] == "conform.offline" else failing
        into.update((f["volume"], f["relpath"], int(e)) for e in events)
    return {"timelines": len(rows), "events": sum(events_of[r["id"]] for r in rows), "offline": len(offline),
            "failing": len(failing)}


def annotate(findings: Sequence[Finding], uses: Sequence[Any], *, demote: bool) -> list[Finding]:
    """A finding on a clip used in a cut says where, and reaches the roles that use it."""
    if not uses:
        return [replace(f, severity=_lower(f.severity)) for f in findings] if demote else list(findings)
    text, roles = impact_text(uses), impact_roles(uses)
    out = []
    for f in findings:
        impacts = (*f.impacts, *(r for r in roles if r not in f.impacts and r != f.owner))
        out.append(replace(f, impacts=impacts, details=freeze({**thaw(f.details), "used_in": text})))
    return out


class CutLists:
    """The builtin ``timeline`` plugin: ``[rules.conform]``, the ``conform.*`` rules, and (once a
    :class:`Conformer` is attached) cut lists read and clips' findings placed in the cut."""

    def __init__(self) -> None:
        self.conformer: Conformer | None = None
        self.config: Config | None = None

    @hookimpl
    def config_sections(self) -> Mapping[str, Any]:
        return {"conform": ConformConfig}

    @hookimpl
    def rules(self) -> Iterable[Any]:
        return rule_infos()

    @hookimpl
    def configure(self, config: Config) -> None:
        self.config = config
        if self.conformer is not None:
            self.conformer.config = config

    def attach(self, conformer: Conformer | None) -> None:
        self.conformer = conformer
        if conformer is not None:
            conformer.config = self.config

    @hookimpl(wrapper=True)
    def check(self, asset: Asset, facts: Facts, history: Any, config: Config) -> Any:
        results = yield
        conformer = self.conformer
        if conformer is None:
            return results
        findings = [f for r in results for f in (r or ())]
        if is_cut_list(asset, config):
            return [findings + conformer.cut_list(asset, history)]
        return [conformer.clip(asset, facts, findings)]

    @hookimpl
    def batch_done(self, assets: Sequence[Asset], history: Any, config: Config) -> None:
        if self.conformer is not None:
            gone = [a for a in assets if a.size == 0 and a.mtime_ns == 0 and not os.path.lexists(a.path)]
            if gone:
                self.conformer.gone(gone)
            self.conformer.flush()
