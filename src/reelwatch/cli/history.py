"""``reelwatch history PATH``: an asset's life (checks, findings, who was told, acks) as a timeline
for people, and the daemon line of ``reelwatch status``, from the audit trail in the state
database. Scripts get the same events with ``--format json`` (its shape is a contract). File
names are shown, never interpreted."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console

from ..state.store import Store
from ..web.history import detail_of, told
from .base import config_option, format_option

STALE_AFTER = 30.0
"""Seconds without a status update after which a daemon that says it runs is "not responding"
(it writes the volume status every 2 s)."""


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _finding_texts(store: Store, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    if not ids:
        return {}
    rows = store.query(f"SELECT id, data FROM findings WHERE id IN ({','.join('?' * len(ids))})", list(ids))
    return {r["id"]: json.loads(r["data"]) for r in rows}


def describe(event: str, detail: Mapping[str, Any], findings: Mapping[int, Mapping[str, Any]]) -> str:
    """One audit event in plain words."""
    fid = detail.get("id")
    ref = f"finding #{fid}" if fid is not None else "a finding"
    if event == "checked":
        n = int(detail.get("findings", 0))
        modified = _when(int(detail["mtime_ns"]) / 1e9) if detail.get("mtime_ns") else "-"
        return (f"checked: {_size(int(detail.get('size', 0)))}, last modified {modified}; "
                + (f"{n} problem(s) found" if n else "no problems")
                + (f" (by node {detail['node']})" if detail.get("node") else ""))  # a fleet sharing a volume
    if event == "finding":
        message = (findings.get(fid) or {}).get("message", "")
        return f"{ref} ({detail.get('severity')}, {detail.get('rule')}): {message}".rstrip(": ")
    if event == "resolved":
        return f"{ref} ({detail.get('rule')}) resolved: the file passes that rule now"
    if event == "ack":
        return f"{ref} acknowledged by {detail.get('by')}"
    if event == "escalated":
        return f"{ref} escalated to {detail.get('to')} (not acknowledged in time)"
    if event == "told":
        return f"{ref} told to {detail.get('role')}: {detail.get('state')}"
    if event == "gone":
        return "deleted or moved away"
    if event == "rehash_verified":
        return f"re-read in full: the {detail.get('algo', '')} checksum still matches".replace("the  ", "the ")
    words = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in detail.items())
    return f"{event.replace('_', ' ')}" + (f": {words}" if words else "")


def timeline(store: Store, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
    """The audit rows of one asset plus when each of its findings was told to whom."""
    events = [{"ts": row["ts"], "event": row["event"], "volume": row["volume"], "path": row["relpath"],
               "detail": detail_of(row["detail"])} for row in rows]
    ids = sorted({e["detail"]["id"] for e in events if e["event"] == "finding" and "id" in e["detail"]})
    for t in told(store, ids):
        events.append({"ts": t["ts"], "event": "told", "volume": None, "path": None,
                       "detail": {"id": t["id"], "role": t["role"], "kind": t["kind"], "state": t["state"]}})
    events.sort(key=lambda e: e["ts"])
    texts = _finding_texts(store, ids)
    for e in events:
        e["time"] = datetime.fromtimestamp(e["ts"]).isoformat(timespec="seconds")
        e["text"] = describe(e["event"], e["detail"], texts)
    return events


def shown(text: str) -> str:
    """A name for a terminal: control characters as ``\\xNN``, never interpreted."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def console() -> Console:
    """A console for people: on a terminal, its width; into a pipe or a file, one line per row
    whatever its length, so that ``grep`` finds a volume or an event on one line."""
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 100_000)


@click.command(help="Show an asset's life: checks, findings, who was told, acks.")
@click.argument("path")
@config_option()
@format_option(help="table (a timeline) for people; json (the same events) for scripts")
def history(path: str, config: str, fmt: str) -> int:
    from ..checking.runtime import load_runtime
    from ..core.config_paths import volume_of
    from .admin import _store
    cfg = load_runtime(config, None).config
    store = _store(cfg)
    if store is None:
        print("no state database yet", file=sys.stderr)
        return 1
    where = volume_of(cfg, path)
    volume, rel = (where[0], where[2]) if where else (None, path)
    rows = store.history_of(volume, rel)
    if not rows:
        print(f"nothing recorded for {rel}" + (f" on volume {volume}" if volume else ""), file=sys.stderr)
        return 1
    print_history(store, volume, rel, rows, fmt)
    return 0


STYLE = {"finding": "bold red", "resolved": "green", "ack": "cyan", "told": "", "checked": "dim",
         "gone": "yellow", "rehash_verified": "green", "escalated": "bold yellow"}


def print_history(store: Store, volume: str | None, relpath: str, rows: Sequence[sqlite3.Row], fmt: str) -> None:
    events = timeline(store, rows)
    if fmt == "json":
        print(json.dumps({"volume": volume, "path": relpath, "events": events}, indent=2, default=str))
        return
    from rich.table import Table
    from rich.text import Text

    out = console()
    out.print(Text(shown(f"history of {relpath}" + (f" on volume {volume}" if volume else "")), style="bold"))
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("time", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("what", overflow="fold")
    day = None
    for e in events:  # the date once per day, then the times: a timeline read down the page
        when = datetime.fromtimestamp(e["ts"])
        if when.date() != day:
            day = when.date()
            table.add_row(Text(day.isoformat(), style="bold"), "", "")
        where = f"  [{e['volume']}]" if volume is None and e["volume"] else ""
        table.add_row(when.strftime("%H:%M:%S"), Text(e["event"].replace("_", " "), style=STYLE.get(e["event"], "")),
                      Text(shown(f"{e['text']}{where}")))
    out.print(table)


def status_lines(store: Store | None, volumes: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """The daemon's state from the audit trail: running, stopped, not responding, or
    unhealthy with the threads that died. Returns (lines for people, data for JSON)."""
    if store is None:
        return ["daemon: never run with this state database"], {"state": "never run"}
    rows = store.query("SELECT ts, event, detail FROM audit WHERE event IN ('started', 'stopped', 'thread_died') "
                       "ORDER BY ts DESC, id DESC LIMIT 200")  # by time: a journal replayed later adds older rows
    dead: list[tuple[float, str]] = []
    boundary = None
    for r in rows:
        if r["event"] == "thread_died":
            dead.append((r["ts"], json.loads(r["detail"] or "{}").get("thread", "?")))
            continue
        boundary = r
        break
    if boundary is None:
        return ["daemon: never run with this state database"], {"state": "never run"}
    if boundary["event"] == "stopped":
        return [f"daemon: stopped at {_when(boundary['ts'])}"], {"state": "stopped", "since": boundary["ts"]}
    if dead:
        names = ", ".join(sorted({name for _, name in dead}))
        return ([f"daemon: UNHEALTHY since {_when(min(ts for ts, _ in dead))}: the {names} thread(s) died; "
                 "the watchdog restarts it under systemd, otherwise restart it yourself"],
                {"state": "unhealthy", "since": boundary["ts"], "dead_threads": sorted({n for _, n in dead})})
    updated = max((float(v.get("updated") or 0) for v in volumes.values()), default=0.0)
    if volumes and time.time() - updated > STALE_AFTER:
        return ([f"daemon: not responding: started {_when(boundary['ts'])}, last status update "
                 f"{_when(updated)} (killed, or hung?)"], {"state": "not responding", "since": boundary["ts"],
                                                           "last_update": updated})
    return [f"daemon: running since {_when(boundary['ts'])}"], {"state": "running", "since": boundary["ts"]}
