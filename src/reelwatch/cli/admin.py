"""``reelwatch plugins | findings | ack | history | status | notify test``: read the state
database (safe while the daemon runs) or talk to the targets; nothing here checks files."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..checking.runtime import load_runtime
from .history import print_history, status_lines
from ..core.config import Config
from ..core.config_paths import mount_root, volume_of
from ..core.model import Severity
from ..core.redact import Redactor
from ..state.store import Store


def _ts(value: float | None) -> str:
    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _store(config: Config, readonly: bool = True) -> Store | None:
    from ..state.connect import open_state
    if not config.state.url and not config.resolve(config.state.path).exists():
        return None
    return open_state(config, readonly=readonly)


def cmd_plugins(args: argparse.Namespace) -> int:
    runtime = load_runtime(args.config, None)
    pm = runtime.pm
    hooks = {h: [n for n, _ in pm.implementations(h)] for h in pm.hook_names()}
    rules = pm.rule_infos()
    if args.format == "json":
        print(json.dumps({"plugins": pm.plugin_names(), "hooks": hooks, "load_errors": pm.load_errors,
                          "rules": [{"id": r.id, "summary": r.summary, "severity": r.severity.label,
                                     "owner": r.owner, "impacts": list(r.impacts)} for r in rules]}, indent=2))
        return 0
    console = Console(highlight=False)
    table = Table(title="hooks")
    table.add_column("hook")
    table.add_column("implemented by (call order)")
    for hook, names in hooks.items():
        table.add_row(hook, ", ".join(names) or "-")
    console.print(table)
    rt = Table(title=f"{len(rules)} rules")
    for col in ("rule", "severity", "owner", "impacts", "summary"):
        rt.add_column(col, overflow="fold")
    for r in rules:
        rt.add_row(r.id, r.severity.label, r.owner or "(volume owner)", ", ".join(r.impacts), escape(r.summary))
    console.print(rt)
    for err in pm.load_errors:
        console.print(f"[red]load error:[/red] {escape(err)}")
    return 0


def cmd_findings(args: argparse.Namespace) -> int:
    config = load_runtime(args.config, None).config
    store = _store(config)
    root = mount_root(config, args.volume) if args.volume else None
    rows = [] if store is None else store.findings(
        status=("open", "acked", "resolved") if args.all else ("open",), role=args.role,
        volume=None if root is not None else args.volume, min_severity=args.severity)
    if root is not None:  # a mount root's name stands for every drive picked up under it
        rows = [r for r in rows if any(v == root.name or v.startswith(f"{root.name}-") for v in
                                       [r.volume, *(str(p.get("volume")) for p in r.data.get("locations") or ())])]
    if args.format == "json":
        print(json.dumps([{"id": r.id, "rule": r.rule, "severity": r.severity.label, "status": r.status,
                           "volume": r.volume, "path": r.data.get("path"), "message": r.data.get("message"),
                           "owner": r.owner, "roles": list(r.roles), "first_seen": r.first_seen,
                           "locations": r.data.get("locations") or []} for r in rows],
                         indent=2))
        return 0
    table = Table(title=f"{len(rows)} finding(s)")
    for col in ("id", "severity", "status", "volume", "path", "message", "owner", "since"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r.id), r.severity.label, r.status, escape(r.volume), escape(r.relpath),
                      escape(str(r.data.get("message", ""))), r.owner or "-", _ts(r.first_seen))
    Console(highlight=False).print(table)
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    config = load_runtime(args.config, None).config
    store = _store(config, readonly=False)
    if store is None:
        print("no state database yet: nothing to acknowledge", file=sys.stderr)
        return 2
    ids: list[int] = []
    missed = False
    for target in args.targets:
        if target.isdigit():
            ids.append(int(target))
            continue
        path = str(Path(target).resolve()) if Path(target).exists() else target
        found = [r.id for r in store.findings(path=path)]
        if not found:
            print(f"no open finding on {target}", file=sys.stderr)
            missed = True
        ids += found
    status = {r["id"]: r["status"] for r in store.query(
        f"SELECT id, status FROM findings WHERE id IN ({','.join('?' * len(ids))})", ids)} if ids else {}
    for fid in dict.fromkeys(ids):
        if fid not in status:
            print(f"finding {fid} does not exist; `reelwatch findings` lists the open ones with their ids",
                  file=sys.stderr)
            missed = True
        elif status[fid] != "open":
            print(f"finding {fid} is already {status[fid]}", file=sys.stderr)
    count = store.ack(list(dict.fromkeys(ids)), args.by)
    print(f"acknowledged {count} finding(s)")
    return 1 if missed or not count else 0


def cmd_history(args: argparse.Namespace) -> int:
    config = load_runtime(args.config, None).config
    store = _store(config)
    if store is None:
        print("no state database yet", file=sys.stderr)
        return 1
    where = volume_of(config, args.path)
    volume, rel = (where[0], where[2]) if where else (None, args.path)
    rows = store.history_of(volume, rel)
    if not rows:
        print(f"nothing recorded for {rel}" + (f" on volume {volume}" if volume else ""), file=sys.stderr)
        return 1
    print_history(store, volume, rel, rows, args.format)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    config = load_runtime(args.config, None).config
    store = _store(config)
    data: dict[str, object] = {"production": config.production.name, "daemon": None, "volumes": [],
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
    lines, data["daemon"] = status_lines(store, vols)
    health = store.daemon_status() if store is not None else None
    if health and data["daemon"].get("state") in ("running", "not responding", "unhealthy"):  # type: ignore[union-attr]
        data["daemon"].update(health=health.get("health"), held=health.get("held", 0))  # type: ignore[union-attr]
        if health.get("health") != "ok":
            lines.append(f"daemon: {health.get('health')} since {_ts(health.get('since'))}, "
                         f"{health.get('held', 0)} file(s) held (as of {_ts(health.get('updated'))})")
    from ..service.fleet import fleet_lines
    fleet_text, data["nodes"] = fleet_lines(store)
    if args.format == "json":
        print(json.dumps(data, indent=2, default=str))
        return 0
    out: list[str] = [f"reelwatch: {config.production.name}", *lines, *fleet_text, "volumes:"]
    width = max((len(str(v["name"])) for v in volumes), default=0)
    for v in volumes:  # one line each: readable at any terminal width, and greppable
        name = str(v["name"]).ljust(width)
        if v.get("mount_root"):
            mounted = len(v["drives"])  # type: ignore[arg-type]
            out.append(f"  {name}  mount root {v['path']}: "
                       + (f"{mounted} drive(s) mounted" if mounted else "no drive mounted"))
        elif not v["health"]:
            out.append(f"  {name}  not reported by the daemon (not running, or not watched yet)  [{v['path']}]")
        else:
            how = f"{v['observer']}" + (f" ({v['detail']})" if v["detail"] else "")
            queued = f"; {v['queue_depth']} file(s) settling or queued" if v["queue_depth"] else ""
            out.append(f"  {name}  {v['health']}, {how}; last event {_ts(v['last_event'])}{queued}"  # type: ignore[arg-type]
                       + ("" if v.get("drive_of") else f"  [{v['path']}]"))
    counts = data["findings"]
    out.append("open findings: " + (", ".join(f"{n} {label}{'s' if n != 1 else ''}"  # 2 errors, 1 warning
                                              for label, n in counts.items()) if counts else "none"))  # type: ignore[union-attr]
    if store is None:
        out.append("outbox: no state database yet (the daemon has not run)")
    else:
        ob = data["outbox"]
        age = f", the oldest waiting {ob['oldest_age_s']:.0f} s" if ob["oldest_age_s"] is not None else ""  # type: ignore[index]
        out.append(f"outbox: {ob['pending']} message(s) waiting to be sent{age}; "  # type: ignore[index]
                   f"{ob['dead']} dead-lettered")  # type: ignore[index]
    if data.get("hashing"):
        out.append(f"hashing: {data['hashing']}")
    probe = data.get("probe") or {}
    if probe.get("health") not in (None, "ok"):  # type: ignore[union-attr]
        out.append(f"MediaInfo: {probe.get('detail') or probe['health']}; "  # type: ignore[union-attr,index]
                   f"{probe.get('held', 0)} file(s) waiting to be checked")  # type: ignore[union-attr]
    Console(highlight=False, soft_wrap=True).print("\n".join(out), markup=False)
    return 0


def cmd_notify_test(args: argparse.Namespace) -> int:
    from ..builtin.notify_apprise import deliver
    from ..notify.render import render_test
    config = load_runtime(args.config, None).config
    role = config.roles.get(args.role)
    redact = Redactor(role.notify if role else ())
    if role is None:
        print(f"role {args.role!r} is not defined; roles: {', '.join(config.roles) or 'none'}", file=sys.stderr)
        return 2
    if not role.notify:
        print(f"role {args.role!r} has no notification targets", file=sys.stderr)
        return 1
    results = deliver(render_test(args.role, config.production.name), role.notify, args.role, config.base_dir)
    for r in results:
        print(redact(f"{'ok  ' if r.ok else 'FAIL'} {r.target} {r.detail}".rstrip()))
    return 0 if all(r.ok for r in results) else 1


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "plugins":
        return cmd_plugins(args)
    if args.command == "findings":
        return cmd_findings(args)
    if args.command == "ack":
        return cmd_ack(args)
    if args.command == "history":
        return cmd_history(args)
    if args.command == "status":
        return cmd_status(args)
    if args.command == "notify":
        return cmd_notify_test(args)
    raise SystemExit(2)
