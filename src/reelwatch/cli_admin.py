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

from .app import load_runtime
from .config import Config
from .model import Severity
from .redact import Redactor
from .store import Store


def _ts(value: float | None) -> str:
    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _store(config: Config, readonly: bool = True) -> Store | None:
    path = config.resolve(config.state.path)
    if not path.exists():
        return None
    return Store(path, readonly=readonly)


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
    rows = [] if store is None else store.findings(
        status=("open", "acked", "resolved") if args.all else ("open",), role=args.role, volume=args.volume,
        min_severity=Severity.parse(args.severity) if args.severity else None)
    if args.format == "json":
        print(json.dumps([{"id": r.id, "rule": r.rule, "severity": r.severity.label, "status": r.status,
                           "volume": r.volume, "path": r.data.get("path"), "message": r.data.get("message"),
                           "owner": r.owner, "roles": list(r.roles), "first_seen": r.first_seen} for r in rows],
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
    for target in args.targets:
        if target.isdigit():
            ids.append(int(target))
        else:
            path = str(Path(target).resolve()) if Path(target).exists() else target
            ids += [r.id for r in store.findings(path=path)]
    count = store.ack(ids, args.by)
    print(f"acknowledged {count} finding(s)")
    return 0 if count else 1


def cmd_history(args: argparse.Namespace) -> int:
    config = load_runtime(args.config, None).config
    store = _store(config)
    if store is None:
        print("no state database yet", file=sys.stderr)
        return 1
    target = args.path
    rel = target
    for vol in config.volumes:
        root = config.resolve(vol.path).resolve()
        p = Path(target).resolve()
        if root in p.parents:
            rel = p.relative_to(root).as_posix()
            break
    rows = store.history_of(None, rel)
    console = Console(highlight=False, soft_wrap=True)
    if not rows:
        console.print(f"nothing recorded for {escape(rel)}")
        return 1
    for row in rows:
        console.print(f"{_ts(row['ts'])}  {row['event']:<12} {escape(row['volume'] or '')}  {escape(row['detail'])}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    config = load_runtime(args.config, None).config
    store = _store(config)
    data: dict[str, object] = {"production": config.production.name, "volumes": [], "findings": {}, "outbox": {}}
    vols = {}
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
            "SELECT severity, COUNT(*) FROM findings WHERE status='open' GROUP BY severity")}
        out = store.query("SELECT COUNT(*), MIN(created) FROM outbox WHERE state='pending'")[0]
        dead = store.query("SELECT COUNT(*) FROM outbox WHERE state='dead'")[0][0]
        data["outbox"] = {"pending": out[0], "oldest_age_s": round(time.time() - out[1], 1) if out[1] else None,
                          "dead": dead}
    data["volumes"] = [{"name": v.name, "path": v.path, "kind": v.kind, **{k: vols.get(v.name, {}).get(k) for k in
                        ("observer", "health", "last_event", "queue_depth", "detail")}} for v in config.volumes]
    if args.format == "json":
        print(json.dumps(data, indent=2, default=str))
        return 0
    console = Console(highlight=False)
    table = Table(title=f"reelwatch: {escape(config.production.name)}")
    for col in ("volume", "path", "observer", "health", "last event", "queue"):
        table.add_column(col, overflow="fold")
    for v in data["volumes"]:  # type: ignore[union-attr]
        table.add_row(escape(v["name"]), escape(v["path"]), str(v["observer"] or "-"), str(v["health"] or "-"),
                      _ts(v["last_event"]), str(v["queue_depth"] if v["queue_depth"] is not None else "-"))
    console.print(table)
    console.print(f"open findings: {data['findings'] or 'none'}")
    console.print(f"outbox: {data['outbox'] or 'no state database yet'}")
    if data.get("hashing"):
        console.print(f"hashing: {escape(str(data['hashing']))}")
    probe = data.get("probe") or {}
    if probe.get("health") not in (None, "ok"):
        console.print(f"[red]MediaInfo: {escape(str(probe.get('detail') or probe['health']))}; "
                      f"{probe.get('held', 0)} file(s) waiting to be checked[/red]")
    return 0


def cmd_notify_test(args: argparse.Namespace) -> int:
    from .builtin.notify_apprise import deliver
    from .render import render_test
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
