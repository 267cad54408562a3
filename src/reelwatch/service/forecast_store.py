"""The forecasts in the state database: what a tick said, committed whole, and what counts as delivered.

One small table of its own, ``forecast_state`` (a row per node: the engine's snapshot and the status
lines ``reelwatch status`` prints), created through the store's connection; the findings, notices and
outbox rows are the store's own tables, written the way the pipeline writes them. Everything a tick
says goes in one transaction with the snapshot (docs/forecast.md), so a kill at any moment either
loses the whole tick (it is judged again) or records it whole (never said twice).

A forecast's finding is keyed by its alert key, not its message: "full in about 35 min" becomes
"34 min" every minute and is still the same finding (``fingerprint = key``, ``origin = 'forecast'``).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..checking.pipeline import apply_defaults
from ..core.config import Config
from ..core.model import Finding, Severity
from ..forecast import Delivered, Outcome, shot_of
from ..notify.outbox import message_to_json
from ..state import locations
from ..state.store import Router, Store, scope_of

ORIGIN = "forecast"
TABLE = """CREATE TABLE IF NOT EXISTS forecast_state (
    node TEXT PRIMARY KEY, snapshot TEXT, status TEXT, updated REAL NOT NULL)"""
"""One row per node: in a fleet each node forecasts its own drives, and one shared row would hand a
node the rates and alerts of another at its next start."""


def ensure_table(store: Store) -> None:
    with store.tx() as db:
        db.execute(TABLE)


def load_state(store: Store, node: str) -> str | None:
    rows = store.query("SELECT snapshot FROM forecast_state WHERE node = ?", (node,))
    return rows[0][0] if rows else None


def set_status(store: Store, status: Mapping[str, Any], node: str = "") -> None:
    """What ``reelwatch status`` shows under "Forecasts" (lines and gauges), written by the daemon."""
    with store.tx() as db:
        db.execute("INSERT INTO forecast_state (node, status, updated) VALUES (?, ?, ?) ON CONFLICT (node) DO UPDATE "
                   "SET status=excluded.status, updated=excluded.updated", (node, json.dumps(status), store.clock()))


def read_status(store: Store) -> dict[str, Any] | None:
    """The forecast status the daemons last wrote, every node's (None: no daemon with forecasts has
    run). In a fleet each line says which node it comes from."""
    try:
        rows = store.query("SELECT node, status, updated FROM forecast_state WHERE status IS NOT NULL ORDER BY node")
    except Exception as exc:
        if _no_table(exc):  # a state database from before the forecasts
            return None
        raise
    if not rows:
        return None
    out: dict[str, Any] = {"lines": [], "volumes": [], "at": None, "updated": max(r[2] for r in rows)}
    for node, text, _ in rows:
        status = json.loads(text)
        out["lines"] += [f"{node}: {line}" if len(rows) > 1 else line for line in status.get("lines", ())]
        out["volumes"] += [{**v, "node": node} for v in status.get("volumes", ())]
        at = status.get("at")
        if isinstance(at, int | float):
            out["at"] = max(out["at"] or at, at)
    return out


def forecast_lines(status: Mapping[str, Any] | None) -> list[str]:
    """``reelwatch status``'s "forecasts:" block (nothing when no daemon has written one)."""
    if not status or not status.get("lines"):
        return []
    at = status.get("at")
    when = f" (as of {datetime.fromtimestamp(at).strftime('%Y-%m-%d %H:%M:%S')})" if isinstance(at, int | float) else ""
    return [f"forecasts{when}:", *(f"  {line}" for line in status["lines"])]


def _no_table(exc: Exception) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return "no such table" in text or "undefinedtable" in text or ("forecast_state" in text and "not exist" in text)


def commit(store: Store, outcome: Outcome, router: Router, config: Config,
           roles: Callable[[str], bool], node: str = "") -> list[Finding]:
    """Record one tick's transitions, reminder messages and snapshot in one transaction.
    ``roles(name)``: whether a role is configured (a reminder to an unknown role is not written).
    Returns the findings opened or changed (for the metrics)."""
    now = store.clock()
    told: list[Finding] = []
    with store.tx() as db:
        for t in outcome.transitions:
            f = apply_defaults(t.finding, config)
            if f is None:  # switched off in [overrides]
                continue
            row = db.execute("SELECT * FROM findings WHERE fingerprint=? AND origin=? AND status IN ('open','acked') "
                             "ORDER BY id DESC LIMIT 1", (t.key, ORIGIN)).fetchone()
            if t.kind == "resolved":
                if row is not None:
                    _resolve(db, row, f, now)
                continue
            data = f.to_dict()
            if row is None:
                _insert(db, t.key, f, data, router(f), now)
            else:  # worse than before: back to open (an acknowledgement was for the milder state)
                db.execute("UPDATE findings SET severity=?, data=?, last_seen=?, status='open', owner=?, "
                           "acked_at=NULL, acked_by=NULL WHERE id=?",
                           (int(f.severity), json.dumps(data, default=str), now, f.owner, row["id"]))
                routes = [(role, "changed" if kind == "new" else kind) for role, kind in router(f)]
                _notices(db, routes, row["id"], f.severity, data, now)
                _audit(db, "finding_changed", f, {"id": row["id"], "rule": f.rule, "severity": f.severity.label}, now)
            told.append(f)
        for m in outcome.messages:
            if roles(m.role):
                db.execute("INSERT INTO outbox (role, payload, created, next_at) VALUES (?,?,?,?)",
                           (m.role, message_to_json(m), now, now))
        if outcome.snapshot is not None:
            db.execute("INSERT INTO forecast_state (node, snapshot, updated) VALUES (?, ?, ?) ON CONFLICT (node) DO "
                       "UPDATE SET snapshot=excluded.snapshot, updated=excluded.updated", (node, outcome.snapshot, now))
    return told


def _insert(db: sqlite3.Connection, key: str, f: Finding, data: dict[str, Any], routes: Sequence[tuple[str, str]],
            now: float) -> None:
    roles = sorted({role for role, _ in routes})
    scope = scope_of(f.asset.volume, f.asset.relpath)
    cur = db.execute(
        "INSERT INTO findings (fingerprint, origin, plugin, volume, relpath, scope, rule, severity, owner, roles, "
        "data, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (key, ORIGIN, ORIGIN, f.asset.volume, f.asset.relpath, scope, f.rule, int(f.severity), f.owner,
         json.dumps(roles), json.dumps(data, default=str), now, now))
    fid = int(cur.lastrowid or 0)
    locations.add(db, fid, f, scope)
    _notices(db, routes, fid, f.severity, data, now)
    _audit(db, "finding", f, {"id": fid, "rule": f.rule, "severity": f.severity.label}, now)


def _resolve(db: sqlite3.Connection, row: sqlite3.Row, f: Finding, now: float) -> None:
    """Resolved, with the reason (``f.message``: "has room again", "was delivered 2 h late") in the notice."""
    db.execute("UPDATE findings SET status='resolved', resolved_at=? WHERE id=?", (now, row["id"]))
    data = {**f.to_dict(), "resolution": f.message}
    _notices(db, [(role, "resolved") for role in json.loads(row["roles"])], row["id"], Severity.INFO, data, now)
    _audit(db, "resolved", f, {"id": row["id"], "rule": row["rule"]}, now)


def _notices(db: sqlite3.Connection, routes: Sequence[tuple[str, str]], fid: int, severity: Severity,
             data: Mapping[str, Any], now: float) -> None:
    payload = json.dumps({**data, "id": fid}, default=str)
    db.executemany("INSERT INTO notices (role, kind, finding_id, severity, data, created) VALUES (?,?,?,?,?,?)",
                   [(role, kind, fid, int(severity), payload, now) for role, kind in routes])


def _audit(db: sqlite3.Connection, event: str, f: Finding, detail: Mapping[str, Any], now: float) -> None:
    db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?,?,?,?,?)",
               (now, event, f.asset.volume, f.asset.relpath, json.dumps(detail)))


class StoreDeliveries:
    """What has been delivered, from the state database (:class:`reelwatch.forecast.DeliveredVersions`).

    One indexed query per due item: the live, checked assets whose naming fields have the task (any
    task when it is ``""``) and spell the shot, each with the rule ids of its open (or acknowledged)
    findings of severity error or worse: a version that fails its checks is not delivered."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def versions(self, shot: str, task: str) -> list[Delivered]:
        field, value = ("task", task) if task else ("shot", shot.rsplit("_", 1)[-1])
        rows = self.store.query(  # plain joins, no aggregate: the same SQL runs on SQLite and PostgreSQL
            "SELECT a.volume, a.relpath, a.fields, a.first_seen, f.rule FROM asset_fields t JOIN assets a "
            "ON a.volume = t.volume AND a.relpath = t.relpath LEFT JOIN finding_locations l ON l.volume = a.volume "
            "AND l.relpath = a.relpath LEFT JOIN findings f ON f.id = l.finding_id AND f.status IN ('open','acked') "
            "AND f.severity >= ? WHERE t.name = ? AND t.value = ? AND a.gone_at IS NULL AND a.checked_at IS NOT NULL",
            (int(Severity.ERROR), field, value))
        files: dict[tuple[str, str], tuple[int, float, set[str]]] = {}
        for r in rows:
            key = (r["volume"], r["relpath"])
            if key not in files:
                fields = json.loads(r["fields"])
                if shot_of(fields) != shot:
                    continue
                try:
                    files[key] = (int(fields["version"]), r["first_seen"], set())
                except (KeyError, TypeError, ValueError):
                    continue
            if r["rule"]:
                files[key][2].add(r["rule"])
        return [Delivered(version, landed, tuple(sorted(errors)), volume, relpath)
                for (volume, relpath), (version, landed, errors) in files.items()]
