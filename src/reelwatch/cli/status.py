"""``reelwatch status``: the daemon, the volumes (and the drives under mount roots), open findings,
the outbox, long hashes and MediaInfo's health, from the state database (safe while the daemon
runs). A table for people; ``--format json`` for scripts (its shape is a contract)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import click

from ..checking.runtime import load_runtime
from ..core.config import Config
from ..core.config_paths import mount_root
from ..core.model import Severity
from ..service.forecast_store import forecast_lines, read_status as read_forecasts
from ..state.store import Store
from .admin import _store, _ts
from .base import config_option, format_option
from .history import console, shown, status_lines


@click.command(help="Volumes, observers, queues and open findings, from the state database.")
@config_option()
@format_option()
def status(config: str, fmt: str) -> int:
    cfg = load_runtime(config, None).config
    store, away = _store_or_journal(cfg)
    data, lines = status_data(cfg, store)
    if away is not None:  # this node's own view while the fleet's database is away
        data["state"] = {"reachable": False, "error": away, "journal": str(store.path) if store else None}
        lines.insert(0, f"state: {away}; showing this node's journal")
    if fmt == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        print_status(data, lines, has_store=store is not None)
    return 0


def _store_or_journal(cfg: Config) -> tuple[Store | None, str | None]:
    """The state; or, when the fleet's database cannot be reached, this node's journal (what the
    node recorded offline) and why."""
    from ..state.pg import StateUnavailable
    try:
        return _store(cfg), None
    except StateUnavailable as err:
        from ..state.journal import journal_path
        path = journal_path(cfg)
        if not path.exists():
            raise
        return Store(path, readonly=True), str(err)


def status_data(config: Config, store: Store | None) -> tuple[dict[str, Any], list[str]]:
    """(the JSON of ``status --format json``, the daemon's lines for people)."""
    data: dict[str, Any] = {"production": config.production.name, "daemon": None, "volumes": [],
                            "findings": {}, "outbox": {}}
    vols: dict[str, dict[str, object]] = {}
    if store is not None:
        vols = {r["volume"]: dict(r) for r in store.query("SELECT * FROM volume_status")}
        try:
            tools = {r["name"]: dict(r) for r in store.query("SELECT * FROM tool_status")}
        except sqlite3.OperationalError:  # written by a daemon from before tool health was recorded
            tools = {}
        probe = tools.get("probe")
        data["probe"] = {k: probe[k] for k in ("health", "detail", "held", "updated")} if probe else {"health": None}
        hashing = tools.get("hash")
        data["hashing"] = hashing["detail"] if hashing and hashing["health"] == "running" else None
        data["timelines"] = tools["timelines"]["detail"] if "timelines" in tools else None
        data["findings"] = {Severity(r[0]).label: r[1] for r in store.query(
            "SELECT severity, COUNT(*) FROM findings WHERE status='open' GROUP BY severity ORDER BY severity DESC")}
        waiting = store.query("SELECT COUNT(*), MIN(created) FROM outbox WHERE state='pending'")[0]
        dead = store.query("SELECT COUNT(*) FROM outbox WHERE state='dead'")[0][0]
        data["outbox"] = {"pending": waiting[0], "dead": dead,
                          "oldest_age_s": round(time.time() - waiting[1], 1) if waiting[1] else None}
    keys = ("observer", "health", "last_event", "queue_depth", "detail")
    volumes: list[dict[str, object]] = []
    for v in config.volumes:
        root = mount_root(config, v.name)
        if root is None:
            volumes.append({"name": v.name, "path": v.path, "kind": v.kind, **{k: vols.get(v.name, {}).get(k)
                                                                                for k in keys}})
            continue
        drives = sorted(n for n in vols if n.startswith(f"{v.name}-"))
        volumes.append({"name": v.name, "path": v.path, "kind": v.kind, "mount_root": True, "drives": drives,
                        **dict.fromkeys(keys)})
        volumes += [{"name": n, "path": f"drive under {v.name}", "kind": v.kind, "drive_of": v.name,
                     **{k: vols[n].get(k) for k in keys}} for n in drives]
    data["volumes"] = volumes
    data["forecasts"] = read_forecasts(store) if store is not None else None
    lines, data["daemon"] = status_lines(store, vols)
    from ..service.fleet import claim_lines, fleet_lines
    fleet_text, data["nodes"] = fleet_lines(store)  # the nodes sharing this state, when there are several
    lines += fleet_text
    import socket
    claim_text, data["claims"] = claim_lines(store, config.state.node or socket.gethostname(),
                                             [v["name"] for v in volumes])  # files waiting on other nodes
    lines += claim_text
    health = store.daemon_status() if store is not None else None
    if health and data["daemon"].get("state") in ("running", "not responding", "unhealthy"):
        data["daemon"].update(health=health.get("health"), held=health.get("held", 0))
        if health.get("health") != "ok":
            lines.append(f"daemon: {health.get('health')} since {_ts(health.get('since'))}, "
                         f"{health.get('held', 0)} file(s) held (as of {_ts(health.get('updated'))})")
    return data, lines


HEALTHY = "green"
UNWELL = "bold red"


def print_status(data: dict[str, Any], lines: list[str], has_store: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console()
    out.print(Text(f"reelwatch: {shown(str(data['production']))}", style="bold"))
    for line in lines:  # the daemon: running, stopped, never run, UNHEALTHY, not responding, degraded
        calm = line.startswith(("daemon: running", "daemon: stopped", "daemon: never run", "fleet:",
                                "shared volumes:")) or (
            line.startswith("  ") and "not heard from" not in line and " held by " not in line)  # a node of the fleet
        out.print(Text(line, style=HEALTHY if line.startswith("daemon: running") else "" if calm else UNWELL))
    table = Table(title="volumes", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in ("volume", "kind", "health", "watching", "last event", "queued", "path"):
        table.add_column(col, no_wrap=col != "path", overflow="fold")
    for v in data["volumes"]:
        name = ("  " if v.get("drive_of") else "") + shown(str(v["name"]))
        path = "" if v.get("drive_of") else shown(str(v["path"]))
        if v.get("mount_root"):
            mounted = len(v["drives"])
            table.add_row(name, v["kind"], Text("mount root: " + (f"{mounted} drive(s) mounted" if mounted
                                                                  else "no drive mounted"), style="dim"),
                          "", "", "", path)
        elif not v["health"]:
            table.add_row(name, v["kind"], Text("not reported by the daemon (not running, or not watched yet)",
                                                style="dim"), "", "", "", path)
        else:
            how = f"{v['observer']}" + (f" ({v['detail']})" if v["detail"] else "")
            table.add_row(name, v["kind"], Text(str(v["health"]), style=HEALTHY if v["health"] == "ok" else UNWELL),
                          shown(how), _ts(v["last_event"]),
                          f"{v['queue_depth']} settling or queued" if v["queue_depth"] else "", path)
    out.print(table)
    counts = data["findings"]
    out.print(Text("open findings: " + (", ".join(f"{n} {label}{'s' if n != 1 else ''}"  # 2 errors, 1 warning
                                                  for label, n in counts.items()) if counts else "none"),
                   style=UNWELL if {"error", "blocker"} & set(counts) else ""))
    if not has_store:
        out.print("outbox: no state database yet (the daemon has not run)")
    else:
        ob = data["outbox"]
        age = f", the oldest waiting {ob['oldest_age_s']:.0f} s" if ob["oldest_age_s"] is not None else ""
        out.print(Text(f"outbox: {ob['pending']} message(s) waiting to be sent{age}; {ob['dead']} dead-lettered",
                       style=UNWELL if ob["dead"] else ""))
    if data.get("hashing"):
        out.print(Text(f"hashing: {data['hashing']}"))
    if data.get("timelines"):
        out.print(Text(f"timelines: {data['timelines']}"))
    probe = data.get("probe") or {}
    if probe.get("health") not in (None, "ok"):
        out.print(Text(f"MediaInfo: {probe.get('detail') or probe['health']}; "
                       f"{probe.get('held', 0)} file(s) waiting to be checked", style=UNWELL))
    for line in forecast_lines(data.get("forecasts")):
        out.print(Text(shown(line)))
