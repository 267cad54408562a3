"""``reelwatch fleet [list] | fleet retire NODE``: the nodes of a production sharing one state, and
taking one out of the fleet for good (a cart returned to the rental house).

``fleet`` lists every node ever registered (retired ones too): its host, volumes, version, the
age of its last heartbeat, the health it last reported, whether it is online, and how many files
of a shared volume it holds claims on. ``fleet retire`` marks a node retired
(:func:`reelwatch.state.fleet.retire`): it leaves ``status`` and the web pages' health and stays in
the audit trail and the histories. A node whose heartbeat is fresh is refused (it is running:
stop it first) unless ``--force``; a retired node that runs again is active again and says so.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from ..checking.runtime import load_runtime
from .admin import _store, _ts
from .base import CONFIG_ENV, DEFAULT_CONFIG, EXIT_USAGE, config_option, format_option, user


def _config(ctx: click.Context, config: str | None) -> str:
    """``retire``'s own ``--config``, else the group's (``reelwatch fleet --config F retire N``)."""
    config = config or (ctx.parent.params.get("config") if ctx.parent is not None else None)
    if config is None:
        raise click.UsageError(f"no production config: give --config FILE or set ${CONFIG_ENV} "
                               f"(or install {DEFAULT_CONFIG})", ctx)
    return config


@click.group(invoke_without_command=True, help="The nodes sharing this production's state; retire one.")
@config_option(required=False)
@format_option()
@click.pass_context
def fleet(ctx: click.Context, config: str | None, fmt: str) -> int:
    if ctx.invoked_subcommand is None:
        return _list(_config(ctx, config), fmt)
    return 0


@fleet.command("list", help="Every node: host, volumes, version, last heartbeat, health, claims (the default).")
@config_option()
@format_option()
def fleet_list(config: str, fmt: str) -> int:
    return _list(config, fmt)


def rows(store: Any, now: float) -> list[dict[str, Any]]:
    """Every node with its state and claims, as ``fleet --format json`` gives them."""
    from ..service.fleet import node_state
    from ..state import fleet as nodes
    held = nodes.holdings(store, now)
    retired = nodes.retirements(store)
    out = []
    for n in nodes.nodes(store):
        state = node_state(n, now)
        h = held.get(n.name)
        out.append({"name": n.name, "host": n.host, "volumes": list(n.volumes), "version": n.version, "pid": n.pid,
                    "started": n.started, "heartbeat": n.heartbeat, "heartbeat_age_s": round(now - n.heartbeat, 1),
                    "health": n.health, "detail": n.detail,
                    "state": {"not heard from": "offline", "stopped": "stopped", nodes.RETIRED: "retired"}.get(
                        state, "online"),
                    "claims": {"files": h.files, "oldest_age_s": round(now - h.oldest, 1), "expired": h.expired}
                    if h else {"files": 0, "oldest_age_s": None, "expired": 0},
                    "retired": retired.get(n.name) if n.health == nodes.RETIRED else None})
    return out


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h" if seconds < 2 * 86400 else f"{seconds / 86400:.0f} days"


def _list(config: str, fmt: str) -> int:
    from rich.table import Table
    from rich.text import Text

    from .history import console, shown
    store = _store(load_runtime(config, None).config)
    data = rows(store, time.time()) if store is not None else []
    if fmt == "json":
        print(json.dumps(data, indent=2, default=str))
        return 0
    if not data:
        print("no node has registered yet (the daemon registers at its first start)")
        return 0
    table = Table(title=f"fleet: {sum(d['state'] != 'retired' for d in data)} node(s)"
                  + (f", {sum(d['state'] == 'retired' for d in data)} retired" if any(d["state"] == "retired"
                                                                                    for d in data) else ""),
                  title_justify="left")
    for col in ("node", "state", "last heard", "health", "host", "volumes", "version", "claims"):
        table.add_column(col, overflow="fold")
    for d in data:
        style = {"online": "green", "offline": "bold red", "retired": "dim"}.get(d["state"], "")
        state = d["state"] + (f" by {d['retired']['by']} {_ts(d['retired']['at'])}" if d["retired"] else "")
        c = d["claims"]
        claims = (f"{c['files']} file(s), oldest {_age(c['oldest_age_s'])}"
                  + (f", {c['expired']} with the lease run out" if c["expired"] else "")) if c["files"] else "-"
        table.add_row(Text(shown(d["name"])), Text(shown(state), style=style), f"{_age(d['heartbeat_age_s'])} ago",
                      Text(shown(d["health"] + (f" ({d['detail']})" if d["detail"] and d["state"] != "retired"
                                                else ""))),
                      Text(shown(d["host"])), Text(shown(", ".join(d["volumes"]) or "-")), Text(shown(d["version"])),
                      claims)
    console().print(table)
    return 0


@fleet.command("retire", help="Take a node out of the fleet's health for good (a cart returned); its history stays.")
@click.argument("node", metavar="NODE")
@config_option(required=False)
@click.option("--by", default=user, show_default="$USER", help="who retires it (recorded in the audit trail)")
@click.option("--force", is_flag=True, help="retire it even though its heartbeat is fresh")
@click.pass_context
def retire(ctx: click.Context, node: str, config: str | None, by: str, force: bool) -> int:
    from ..service.fleet import BEAT_EVERY, node_state
    from ..state import fleet as nodes
    store = _store(load_runtime(_config(ctx, config), None).config, readonly=False)
    if store is None:
        print("no state database yet: no node to retire", file=sys.stderr)
        return EXIT_USAGE
    now = time.time()
    known = {n.name: n for n in nodes.nodes(store)}
    n = known.get(node)
    if n is None:
        print(f"no node named {node!r} in this fleet; `reelwatch fleet` lists them: "
              f"{', '.join(sorted(known)) or 'none registered yet'}", file=sys.stderr)
        return EXIT_USAGE
    if n.health == nodes.RETIRED:
        when = nodes.retirements(store).get(node, {})
        print(f"{node} is already retired (by {when.get('by', '?')} at {_ts(when.get('at'))}); nothing changed")
        return 0
    age = now - n.heartbeat
    if node_state(n, now) not in ("not heard from", "stopped") and not force:
        print(f"{node} is running: its last heartbeat was {age:.0f} s ago (host {n.host}, pid {n.pid}), and a node is "
              f"heard from every {BEAT_EVERY:.0f} s. Stop its service first (systemctl stop reelwatch@NAME on "
              f"{n.host}), then retire it. If you are sure it is gone (killed a moment ago, or a clock that runs "
              "ahead), use --force; a node that is still running is active again at its next heartbeat.",
              file=sys.stderr)
        return EXIT_USAGE
    done = nodes.retire(store, node, by, now, forced=force)
    assert done is not None
    print(f"retired {node} (host {n.host}, last heard {_age(age)} ago) by {by} at {_ts(now)}. It is left out of "
          "status and the web pages' health; its checks, findings and audit entries stay.")
    if done.claims:
        print(f"It held {done.claims} claim(s) on shared files: let go, other nodes check those files now.")
    print("If it runs again under this name, it is active again and says so (log and a message to the admin).")
    return 0
