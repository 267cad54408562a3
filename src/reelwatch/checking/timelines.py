"""Cut lists in the pipeline: read when they land, matched to the clips in the state database,
conformed, and every finding on a clip told where the cut uses it (docs/timelines.md).

The builtin ``timeline`` plugin (:class:`CutLists`) owns ``[rules.conform]`` and documents the
``conform.*`` rules. It acts only once a :class:`~.conformer.Conformer` is attached (the daemon does that,
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
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core import globs
from ..core.config import Config, TimelineSource
from ..core.hookspecs import hookimpl
from ..core.model import Asset, Facts, Finding, Severity, freeze, parse_rate, thaw
from ..state.store import Store
from ..timeline import (CutList, Match, Report, SqlCatalog, SqlTimelines, Timeline, conform, cut_list_format,
                        impact_roles, impact_text, match_timeline, rule_infos)
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
        self.conformer: Any = None  # a reelwatch.checking.conformer.Conformer, once attached
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

    def attach(self, conformer: Any) -> None:
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

    @hookimpl(specname="batch_done", wrapper=True)
    def place_batch_findings(self, assets: Sequence[Asset], history: Any, config: Config) -> Any:
        results = yield
        if self.conformer is None:
            return results
        return [self.conformer.place([f for r in results for f in (r or ())])]

    @hookimpl
    def batch_done(self, assets: Sequence[Asset], history: Any, config: Config) -> None:
        if self.conformer is not None:
            gone = [a for a in assets if a.size == 0 and a.mtime_ns == 0 and not os.path.lexists(a.path)]
            if gone:
                self.conformer.gone(gone)
            self.conformer.flush()
