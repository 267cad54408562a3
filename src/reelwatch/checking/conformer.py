"""The daemon's side of the ``timeline`` plugin: the state database's catalog and timelines,
where cut lists are read, matched, stored and conformed, clips put and placed in the cut, and
re-conforms scheduled (docs/timelines.md; the plugin is :class:`reelwatch.checking.timelines.CutLists`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog

from ..core.config import Config, TimelineSource
from ..core.model import Asset, Facts, Finding, Severity
from ..state.store import Store
from ..timeline import (SCHEMA, TIMELINE_SCHEMA, CutList, SqlCatalog, SqlTimelines, Timeline, clip_from_asset, diff,
                        display_name, match_event, read_isolated)
from .timelines import (KEEP_READ, NOT_CLIPS, Conformed, annotate, base_rate, conform_all, findings_of, settings,
                        source_for, totals)

log = structlog.get_logger("reelwatch.timelines")


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
        with self._lock:  # checkers share the cache; the reading itself is done outside the lock
            cut = self._read.get(key)
        if cut is None:
            purpose = source.purpose if source is not None else None
            cut = read_isolated(asset.path, base_rate(self.config), purpose, settings(self.config).read_timeout)
        with self._lock:
            self._read[key] = cut
            self._read.move_to_end(key)
            while len(self._read) > KEEP_READ:
                self._read.popitem(last=False)
        return cut

    def cut_list(self, asset: Asset, history: Any) -> list[Finding]:
        source = source_for(asset.volume, asset.relpath, self.config)
        with self._lock:
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

    def place(self, findings: list[Finding]) -> list[Finding]:
        """Findings of ``batch_done`` rules (versions, mirrors) on a clip used in a cut say where,
        and reach the roles that use it; never demoted (a card verdict is on no clip)."""
        out = []
        with self.store.tx() as db:
            timelines = SqlTimelines(db)
            for f in findings:
                out += annotate([f], timelines.uses(f.asset.volume, f.asset.relpath), demote=False)
        return out

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
