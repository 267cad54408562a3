"""``reelwatch timeline PATH --config FILE``: the conform report of one cut list (docs/timelines.md).

The cut list is read in-process, its events matched against the clips in the production's
state database (opened read-only, so it works while the daemon runs) and conformed with the
store's open findings. Exit 0 when no issue is error or worse, 1 when one is (an unreadable cut
list is an error), 2 for a usage or config error.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import click

from .base import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, config_option, format_option


def _rate(rate: Fraction | None) -> str | None:
    return None if rate is None else f"{rate.numerator}/{rate.denominator}"


def _where(path: Path, config: Any) -> tuple[str, str]:
    """(volume, relpath) of a cut list on a configured volume; ("", path) elsewhere."""
    resolved = path.resolve()
    for vol in config.volumes:
        root = config.resolve(vol.path).resolve()
        if resolved.is_relative_to(root):
            return vol.name, resolved.relative_to(root).as_posix()
    return "", str(resolved)


def _issue(issue: Any) -> dict[str, Any]:
    return {"rule": issue.rule, "severity": issue.severity.label, "message": issue.message, "fix": issue.fix,
            "events": list(issue.events)}


def _event(state: Any, timeline: Any) -> dict[str, Any]:
    m, ev = state.match, state.match.event
    copy = m.clip
    return {"number": ev.number, "track": ev.track, "record_in": timeline.tc(ev.record_in),
            "source": ev.source_tc(timeline.drop_frame and ev.source_rate == timeline.rate),
            "source_rate": _rate(ev.source_rate), "clip_name": ev.clip_name, "reel": ev.reel,
            "source_path": ev.source_path, "match": m.status, "method": m.method, "note": m.note,
            "copy": copy.where if copy is not None and m.status == "matched" else None,
            "candidates": [c.where for c in m.clips] if m.status == "ambiguous" else [],
            "states": list(state.states) or ["ok"]}


def _has_clips(store: Any) -> bool:
    """Whether the daemon made the clip catalog in this state (SQLite or PostgreSQL)."""
    if store.backend != "sqlite":
        return bool(store.db.has_table("clip_keys"))
    return bool(store.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'clip_keys'").fetchone())


def report(path: str, config_path: str | None) -> dict[str, Any]:
    """The conform report as data (what ``--format json`` prints)."""
    from ..checking.runtime import load_runtime
    from ..checking.timelines import base_rate, conform_all, settings, source_for
    from ..core.model import Severity
    from ..state.connect import location, open_state
    from ..timeline import SCHEMA, TIMELINE_SCHEMA, read_cut_list
    config = load_runtime(config_path, None).config
    volume, relpath = _where(Path(path), config)
    source = source_for(volume, relpath, config) if volume else None
    cut = read_cut_list(path, base_rate(config), source.purpose if source else None)
    state = config.resolve(config.state.path)
    store = open_state(config, readonly=True) if config.state.url or state.exists() else None  # [state] url too
    notes: list[str] = []
    try:
        db = store.db if store is not None else None
        if db is None or not _has_clips(store):
            notes.append(f"the state database {location(config)} knows no clips yet (is the daemon running with "
                         "reelwatch[timelines]?): every event is offline")
            db = sqlite3.connect(":memory:")
            db.executescript(SCHEMA + TIMELINE_SCHEMA)
        open_findings = store.history().open_findings if store is not None else (lambda v, r: [])
        done = conform_all(db, cut, volume, relpath, open_findings, fail_at=Severity.parse(settings(config).fail_at),
                           shot_pattern=source.shot_pattern if source else None, store=False)
    finally:
        if store is not None:
            store.close()
    issues = [*cut.issues, *(i for c in done if c.report for i in c.report.issues)]
    worst = max((i.severity for i in issues), default=None)
    return {
        "path": path, "format": cut.format, "volume": volume or None, "relpath": relpath if volume else None,
        "notes": notes, "worst": worst.label if worst else None,
        "exit_code": EXIT_FINDINGS if worst is not None and worst >= Severity.ERROR else EXIT_OK,
        "issues": [_issue(i) for i in cut.issues],
        "timelines": [{
            "name": c.timeline.name, "rate": _rate(c.timeline.rate), "drop_frame": c.timeline.drop_frame,
            "purpose": c.timeline.purpose, "summary": c.report.summary.text(),
            "by_reel": c.report.summary.reel_lines(),
            "counts": {"events": c.report.summary.events, "offline": c.report.summary.offline,
                       "failing": c.report.summary.failing, "ambiguous": c.report.summary.ambiguous},
            "issues": [_issue(i) for i in sorted(c.report.issues, key=lambda i: -i.severity)],
            "events": [_event(s, c.timeline) for s in c.report.events],
        } for c in done if c.report is not None],
    }


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(data: dict[str, Any], out: Any = sys.stdout) -> None:
    from ..notify.channels import visible
    w = out.write
    w(f"{visible(data['path'])} ({data['format'] or 'not a known cut list format'})\n")
    for note in data["notes"]:
        w(f"note: {note}\n")
    for issue in data["issues"]:
        w(f"  {issue['severity'].upper()}: {visible(issue['message'])} [{issue['rule']}]\n")
    for tl in data["timelines"]:
        w(f"\n{visible(tl['summary'])}\n")
        for line in tl["by_reel"]:
            w(f"  {visible(line)}\n")
        if tl["issues"]:
            w("\nIssues, worst first:\n")
        for issue in tl["issues"]:
            w(f"  {issue['severity'].upper()}: {visible(issue['message'])} [{issue['rule']}]\n")
            w(f"      fix: {visible(issue['fix'])}\n")
        w(f"\n{'#':>4}  {'track':<5} {'record in':<11}  {'source':<23}  {'clip / reel':<28}  {'match':<42}  state\n")
        for ev in tl["events"]:
            who = ev["clip_name"] or ev["source_path"] or ev["reel"]
            if ev["match"] == "matched":
                match = f"{ev['method']}: {ev['copy']}"
            elif ev["match"] == "ambiguous":
                match = f"ambiguous: {', '.join(ev['candidates'])}"
            else:
                match = f"unmatched: {ev['note']}"
            w(f"{ev['number']:>4}  {_clip(ev['track'], 5):<5} {ev['record_in']:<11}  {_clip(ev['source'], 23):<23}  "
              f"{_clip(visible(who), 28):<28}  {_clip(visible(match), 42):<42}  {', '.join(ev['states'])}\n")


@click.command(help="The conform report of one cut list (EDL, FCP 7 XML, FCPXML, AAF, .otio) against the media "
                    "the state database knows. Exit 0 when no issue is error or worse, 1 when one is (an "
                    "unreadable cut list is an error), 2 for a usage or config error.")
@click.argument("path")
@config_option()
@format_option()
def timeline(path: str, config: str, fmt: str) -> int:
    where = Path(path)
    if not where.exists():
        click.echo(f"reelwatch: {path}: no such file", err=True)
        return EXIT_USAGE
    if where.is_dir() and where.suffix.lower() != ".fcpxmld":
        click.echo(f"reelwatch: {path}: a folder; name one cut list file", err=True)
        return EXIT_USAGE
    data = report(path, config)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_table(data)
    return int(data["exit_code"])
