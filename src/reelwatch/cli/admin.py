"""``reelwatch plugins | findings | ack | notify test``: read the state database (safe while the
daemon runs) or talk to the targets; nothing here checks files. ``history`` and ``status`` have
modules of their own."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..checking.runtime import load_runtime
from ..core.config import Config
from ..core.config_paths import mount_root
from ..core.model import Severity
from ..core.redact import Redactor
from ..state.store import Store
from .base import LazyGroup, SeverityType, config_option, format_option, user


def _ts(value: float | None) -> str:
    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _store(config: Config, readonly: bool = True) -> Store | None:
    from ..state.connect import open_state
    if not config.state.url and not config.resolve(config.state.path).exists():
        return None
    return open_state(config, readonly=readonly)


@click.command(help="List plugins, hooks and rules.")
@config_option(required=False)
@format_option()
def plugins(config: str | None, fmt: str) -> int:
    runtime = load_runtime(config, None)
    pm = runtime.pm
    hooks = {h: [n for n, _ in pm.implementations(h)] for h in pm.hook_names()}
    rules = pm.rule_infos()
    if fmt == "json":
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


@click.command(help="List open findings with their ids.")
@config_option()
@click.option("--role", help="only findings told to this role")
@click.option("--volume", help="only findings on this volume (a mount root: every drive under it)")
@click.option("--severity", type=SeverityType(), help="minimum severity: info, warning, error, blocker")
@click.option("--all", "include_all", is_flag=True, help="include acknowledged and resolved findings")
@format_option()
def findings(config: str, role: str | None, volume: str | None, severity: Severity | None, include_all: bool,
             fmt: str) -> int:
    cfg = load_runtime(config, None).config
    store = _store(cfg)
    root = mount_root(cfg, volume) if volume else None
    rows = [] if store is None else store.findings(
        status=("open", "acked", "resolved") if include_all else ("open",), role=role,
        volume=None if root is not None else volume, min_severity=severity)
    if root is not None:  # a mount root's name stands for every drive picked up under it
        rows = [r for r in rows if any(v == root.name or v.startswith(f"{root.name}-") for v in
                                       [r.volume, *(str(p.get("volume")) for p in r.data.get("locations") or ())])]
    if fmt == "json":
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


@click.command(help="Acknowledge findings by id or by path (stops escalation).")
@click.argument("targets", nargs=-1, required=True, metavar="ID_OR_PATH...")
@config_option()
@click.option("--by", default=user, show_default="$USER", help="who acknowledges")
def ack(targets: tuple[str, ...], config: str, by: str) -> int:
    store = _store(load_runtime(config, None).config, readonly=False)
    if store is None:
        print("no state database yet: nothing to acknowledge", file=sys.stderr)
        return 2
    ids: list[int] = []
    missed = False
    for target in targets:
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
    count = store.ack(list(dict.fromkeys(ids)), by)
    print(f"acknowledged {count} finding(s)")
    return 1 if missed or not count else 0


@click.group(cls=LazyGroup, help="Notification tools.")
def notify() -> None:
    pass


@notify.command("test", help="Send a test message to a role and report each target's result.")
@click.argument("role_name", metavar="ROLE")
@config_option()
def notify_test(role_name: str, config: str) -> int:
    from ..builtin.notify_apprise import deliver
    from ..notify.render import render_test
    cfg = load_runtime(config, None).config
    role = cfg.roles.get(role_name)
    redact = Redactor(role.notify if role else ())
    if role is None:
        print(f"role {role_name!r} is not defined; roles: {', '.join(cfg.roles) or 'none'}", file=sys.stderr)
        return 2
    if not role.notify:
        print(f"role {role_name!r} has no notification targets", file=sys.stderr)
        return 1
    results = deliver(render_test(role_name, cfg.production.name), role.notify, role_name, cfg.base_dir)
    for r in results:
        print(redact(f"{'ok  ' if r.ok else 'FAIL'} {r.target} {r.detail}".rstrip()))
    return 0 if all(r.ok for r in results) else 1
