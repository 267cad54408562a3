"""What the pages show, read from the state database with indexed queries only.

A production may hold 1,000,000 assets and 100,000 findings: every query here is bounded by an
index and a LIMIT (keyset pagination by finding id, never OFFSET), and counts that would scan
are capped (bench/bench_web.py measures each page).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.config import Config
from ..core.config_paths import mount_root
from ..core.model import Severity
from ..forecast import units
from ..state.store import Store
from .fleet import Fleet, fleet_of, mark_volumes

PAGE = 50
COUNT_CAP = 1_000
"""Findings counted exactly up to here ("more than 1,000" beyond): a count reads every match."""
STALE_AFTER = 30.0
"""Seconds without a status update after which a daemon that says it runs is "not responding"."""
STATUSES = ("open", "acked", "resolved")


def indexed_by(store: Store, name: str) -> str:
    """``INDEXED BY name`` when the database has that index (a daemon of this version made it), else nothing:
    the planner would rather walk the whole table backwards by id than use a low-cardinality index."""
    if store.backend != "sqlite":  # PostgreSQL's planner needs no hint (and has no sqlite_master)
        return ""
    cache = getattr(store, "_web_indexes", None)
    if cache is None:
        cache = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='index'")}
        with contextlib.suppress(AttributeError):  # a slotted store: ask each time (one small read)
            store._web_indexes = cache  # type: ignore[attr-defined]
    return f"INDEXED BY {name} " if name in cache else ""


def has_text_index(store: Store) -> bool:
    """Whether the SQLite database has the trigram index of findings' text (migration 7 makes it when
    this SQLite has FTS5 and its trigram tokenizer)."""
    cache = getattr(store, "_web_text_index", None)
    if cache is None:
        cache = bool(store.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name='findings_text'"))
        with contextlib.suppress(AttributeError):
            store._web_text_index = cache  # type: ignore[attr-defined]
    return cache


def by_status(store: Store) -> str:
    return indexed_by(store, "findings_status")


def severity_label(value: int) -> str:
    try:
        return Severity(value).label
    except ValueError:
        return str(value)


def finding_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One findings row as the templates use it (``data`` decoded)."""
    data = json.loads(row["data"]) if isinstance(row["data"], str) else dict(row["data"])
    keys = row.keys() if hasattr(row, "keys") else row
    return {"id": row["id"], "rule": row["rule"], "severity": severity_label(row["severity"]),
            "volume": row["volume"], "relpath": row["relpath"], "status": row["status"], "owner": row["owner"],
            "roles": json.loads(row["roles"]) if isinstance(row["roles"], str) else list(row["roles"]),
            "first_seen": row["first_seen"], "last_seen": row["last_seen"],
            "acked_by": row["acked_by"] if "acked_by" in keys else None,
            "acked_at": row["acked_at"] if "acked_at" in keys else None,
            "escalated_at": row["escalated_at"] if "escalated_at" in keys else None,
            "message": data.get("message", ""), "expected": data.get("expected", ""),
            "impact": data.get("impact", ""), "fix": data.get("fix", ""), "impacts": data.get("impacts") or [],
            "path": data.get("path", ""), "locations": data.get("locations") or [],
            "also": (data.get("details") or {}).get("also") or [],
            "positive": bool((data.get("details") or {}).get("positive"))}


def daemon_state(store: Store, updated: float) -> dict[str, Any]:
    """Running, stopped, not responding or unhealthy, from the audit trail (newest first, by index)."""
    rows = store.query(f"SELECT ts, event, detail FROM audit {indexed_by(store, 'audit_event')}WHERE event IN "
                       "('started', 'stopped', 'thread_died') ORDER BY id DESC LIMIT 50")
    dead = []
    for r in rows:
        if r["event"] == "thread_died":
            dead.append(json.loads(r["detail"] or "{}").get("thread", "?"))
            continue
        if r["event"] == "stopped":
            return {"state": "stopped", "since": r["ts"]}
        if dead:
            return {"state": "unhealthy", "since": r["ts"], "detail": "thread(s) died: " + ", ".join(sorted(set(dead)))}
        if updated and time.time() - updated > STALE_AFTER:
            return {"state": "not responding", "since": r["ts"], "detail": "no status update since"}
        health = store.daemon_status() or {}
        if health.get("health") not in (None, "ok"):
            return {"state": "degraded", "since": r["ts"], "detail": str(health.get("health"))}
        return {"state": "running", "since": r["ts"]}
    return {"state": "never run", "since": None}


def prefix(store: Store, column: str, value: str) -> tuple[str, list[str]]:
    """SQL for "``column`` starts with ``value``". SQLite compares bytes, so a range reads the index; a
    PostgreSQL database in a language's collation ignores punctuation ('mirror.x' sorts after 'mirror/'),
    so there the test is a LIKE on the characters themselves (an index ``text_pattern_ops`` would serve it)."""
    past = successor(value)
    if store.backend == "sqlite":
        end = value + "\U0010ffff" if past is None else past
        if not column.endswith("relpath"):
            return f"({column}>=? AND {column}<?)", [value, end]
        # a name that is not UTF-8 is stored as bytes (reelwatch.state.dbfile), and SQLite sorts every
        # blob after every text: the same range again in bytes, or a card would hide its odd-named files
        return (f"(({column}>=? AND {column}<?) OR ({column}>=CAST(? AS BLOB) AND {column}<CAST(? AS BLOB)))",
                [value, end, value, end])
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if past is None:
        return f"{column} LIKE ? ESCAPE '\\'", [escaped + "%"]
    # the same test, and a range in the byte order that a (column text_pattern_ops) index holds
    # (migration 7): the LIKE alone is served by no index, and a range in the database's collation is wrong
    return f"({column} LIKE ? ESCAPE '\\' AND {column} ~>=~ ? AND {column} ~<~ ?)", [escaped + "%", value, past]


def successor(value: str) -> str | None:
    """The first string after every string that starts with ``value`` (its last character plus one: in
    code point order, which is UTF-8's byte order), or None when that character has no next one.
    (``value + "\uffff"`` as the end missed names with a character beyond U+FFFF after the prefix.)"""
    if not value or ord(value[-1]) >= 0x10FFFF or 0xD7FF <= ord(value[-1]) <= 0xDFFF:
        return None
    return value[:-1] + chr(ord(value[-1]) + 1)


def volumes(store: Store, config: Config, fl: Fleet | None = None) -> list[dict[str, Any]]:
    """Each configured volume, and each drive picked up under a mount root, with its state; in a
    fleet also the other nodes' volumes, each with the node(s) watching it."""
    rows = {r["volume"]: dict(r) for r in store.query("SELECT * FROM volume_status")}
    out: list[dict[str, Any]] = []
    for v in config.volumes:
        if mount_root(config, v.name) is None:
            out.append({"name": v.name, "kind": v.kind, "owner": v.owner, **rows.get(v.name, {"health": None})})
            continue
        drives = sorted(n for n in rows if n.startswith(f"{v.name}-"))
        out.append({"name": v.name, "kind": v.kind, "owner": v.owner, "health": "mount root",
                    "detail": f"{len(drives)} drive(s) mounted" if drives else "no drive mounted"})
        out += [{"name": n, "kind": v.kind, "owner": v.owner, "drive_of": v.name, **rows[n]} for n in drives]
    if fl is not None and fl.shown:
        listed = {v["name"] for v in out}
        others = sorted({*rows, *(name for n in fl.nodes for name in n["volumes"])} - listed)
        out += [{"name": n, "kind": "", "owner": None, **rows.get(n, {"health": None})} for n in others]
        mark_volumes(out, fl)
    return out


def forecasts(store: Store) -> dict[str, Any] | None:
    """What the daemons' forecasts said last (reelwatch.service.forecasts writes a row per node every
    5 s): status lines (each with its node in a fleet), and per volume free bytes, fill rate and
    seconds until full. None when none was written (no ``[rules.forecast]``, or no table yet)."""
    try:
        rows = store.query("SELECT node, status, updated FROM forecast_state WHERE status IS NOT NULL ORDER BY node")
    except Exception:  # no such table: nothing forecast here (the only error a plain read of it gives)
        return None
    if not rows:
        return None
    lines: list[str] = []
    by_volume: dict[str, dict[str, Any]] = {}
    for node, text, _ in rows:
        data = json.loads(text)
        lines += [f"{node}: {line}" if len(rows) > 1 else line for line in data.get("lines", ())]
        for v in data.get("volumes", ()):
            left = v.get("seconds_until_full")
            by_volume[v["volume"]] = {**v, "full_in": units.about(left) if left is not None else "not filling",
                                      "rate": units.rate(float(v.get("fill_rate_bytes_per_second", {}).get("current")
                                                               or 0))}
    return {"lines": lines, "volumes": by_volume, "updated": max(r[2] for r in rows)}


def overview(store: Store, config: Config) -> dict[str, Any]:
    fl = fleet_of(store)
    vols = volumes(store, config, fl)
    ahead = forecasts(store)
    for v in vols:
        v["forecast"] = ahead["volumes"].get(v["name"]) if ahead else None
    updated = max((float(v.get("updated") or 0) for v in vols), default=0.0)
    by_sev: dict[str, int] = {}
    by_role: dict[str, dict[str, int]] = {}
    for r in store.query("SELECT owner, severity, COUNT(*) FROM findings WHERE status='open' "  # one covering
                         "GROUP BY owner, severity"):                                          # index read
        by_role.setdefault(r[0] or "(volume owner)", {})[severity_label(r[1])] = r[2]
        by_sev[severity_label(r[1])] = by_sev.get(severity_label(r[1]), 0) + r[2]
    # ids grow with first_seen (a finding is inserted when first seen): the first open error by id, read
    # through the (status) index, instead of sorting every open error by first_seen
    oldest = store.query(f"SELECT * FROM findings {by_status(store)}WHERE status='open' AND +severity>=? "
                         "ORDER BY id LIMIT 1",
                         (int(Severity.ERROR),))
    waiting = store.query("SELECT COUNT(*), MIN(created) FROM outbox WHERE state='pending'")[0]
    dead = store.query("SELECT COUNT(*) FROM outbox WHERE state='dead'")[0][0]
    # a fleet's start/stop events come from every node: its state is its nodes' heartbeats
    daemon = fl.headline() if fl.shown else daemon_state(store, updated)
    return {"daemon": daemon, "fleet": fl, "volumes": vols, "by_severity": by_sev,
            "by_role": dict(sorted(by_role.items())), "oldest": finding_view(oldest[0]) if oldest else None,
            "outbox": {"pending": waiting[0], "oldest": waiting[1], "dead": dead}, "forecasts": ahead}


@dataclass
class Filters:
    role: str = ""
    volume: str = ""
    severity: str = ""
    rule: str = ""
    status: str = "open"
    text: str = ""
    path: str = ""
    before: int | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        f = cls(**{k: str(params.get(k, "")).strip()[:200] for k in ("role", "volume", "severity", "rule", "text",
                                                                        "path")})
        f.status = str(params.get("status", "open"))
        if f.status not in (*STATUSES, "all"):
            f.problems.append(f"unknown status {f.status!r}")
            f.status = "open"
        if f.severity:
            try:
                Severity.parse(f.severity)
            except ValueError as exc:
                f.problems.append(str(exc))
                f.severity = ""
        before = str(params.get("before", ""))
        f.before = int(before) if before.isdigit() else None
        return f

    def query(self, **change: Any) -> dict[str, str]:
        """These filters as URL parameters (empty ones left out)."""
        values = {k: getattr(self, k) for k in ("role", "volume", "severity", "rule", "status", "text", "path")}
        values.update(change)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}


def findings_page(store: Store, flt: Filters, limit: int = PAGE, volumes: Sequence[str] = ()) -> dict[str, Any]:
    """One page of findings, newest first, and how many match (exactly up to :data:`COUNT_CAP`)."""
    where, args = ["1=1"], []
    # Newest first, read backwards along the (status) index or the primary key until a page is full: a
    # common filter stops after a few hundred rows, a rare one reads the findings once (bench/bench_web.py).
    if flt.status != "all":
        where.append("f.status=?")
        args.append(flt.status)
    if flt.severity:
        where.append("+f.severity>=?")  # not through (status, severity): that would sort every match by id
        args.append(int(Severity.parse(flt.severity)))
    if flt.rule:
        family, more = prefix(store, "f.rule", flt.rule + ".")
        where.append(f"(f.rule=? OR {family})")  # a family ("spec") or one rule id
        args += [flt.rule, *more]
    if flt.role:
        where.append("(f.owner=? OR instr(f.roles, ?) > 0)")  # roles: a JSON list of plain role names
        args += [flt.role, json.dumps(flt.role)]
    if flt.volume:
        where.append("(f.volume=? OR EXISTS (SELECT 1 FROM finding_locations l WHERE l.finding_id=f.id AND "
                     "l.volume=?))")
        args += [flt.volume, flt.volume]
    if flt.path:  # a card, roll or shot folder, or one file: by the (volume, relpath) index, volume by volume
        names = [flt.volume] if flt.volume else volume_names(store, volumes)
        rel = flt.path.strip("/")
        under, more = prefix(store, "relpath", rel + "/")
        near = " OR ".join(f"(volume=? AND (relpath=? OR {under}))" for _ in names) or "1=0"
        where.append(f"f.id IN (SELECT finding_id FROM finding_locations WHERE {near})")
        args += [x for name in names for x in (name, rel, *more)]
    source, order = "findings f " + (by_status(store) if flt.status != "all" else ""), "f.id"
    if flt.text:
        source, order, text, more = text_search(store, flt.text, source)
        where.append(text)
        args += more
    sql = " AND ".join(where)
    page_where = sql + (f" AND {order}<?" if flt.before else "")
    rows = store.query(f"SELECT f.* FROM {source}WHERE {page_where} ORDER BY {order} DESC LIMIT ?",
                       [*args, *([flt.before] if flt.before else []), limit + 1])
    if flt.before is None and len(rows) <= limit:
        total = len(rows)  # the first page holds them all: no second read (a rare text search read twice)
    else:
        total = store.query(f"SELECT COUNT(*) FROM (SELECT 1 FROM {source}WHERE {sql} LIMIT ?) AS m",
                            [*args, COUNT_CAP + 1])[0][0]
    items = [finding_view(r) for r in rows[:limit]]
    return {"items": items, "total": total, "capped": total > COUNT_CAP,
            "next": items[-1]["id"] if len(rows) > limit else None}


def text_search(store: Store, text: str, source: str) -> tuple[str, str, str, list[str]]:
    """(the rows to read, the id they are read newest first by, the test, its arguments) for findings
    whose text (``data``) or relpath holds ``text``, over every finding, case-insensitively (letters A-Z as
    SQLite's LIKE; PostgreSQL's ILIKE folds every letter).

    The test is always the plain substring match (an escaped LIKE: ``%``, ``_`` and ``\\`` are themselves);
    an index only narrows what is read. SQLite: the trigram index (``findings_text``, migration 7) yields
    the findings holding the text as a phrase newest first, each then tested, until a page is full. It
    reads a name stored as bytes (not UTF-8) with the same lenient UTF-8 decoding as LIKE, so it finds
    every row LIKE does (tests/test_web_search.py compares them on random byte names). Without that
    index, or for text under 3 characters (no trigram), every finding is read newest first; text that
    is not UTF-8 is found by its exact bytes. PostgreSQL: ILIKE, first on both joined, which pg_trgm's
    GIN index serves when the server has it (else a read of every finding)."""
    if "\x00" in text:  # in no file name, nor in a PostgreSQL text
        return source, "f.id", "1=0", []
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if store.backend != "sqlite":  # (f.data || ' ' || f.relpath: what the index holds, schema.PG_TEXT)
        return "findings f ", "f.id", ("(f.data || ' ' || f.relpath) ILIKE ? ESCAPE '\\' AND "
                                       "(f.data ILIKE ? ESCAPE '\\' OR f.relpath ILIKE ? ESCAPE '\\')"), [like, like, like]
    test = "(f.data LIKE ? ESCAPE '\\' OR f.relpath LIKE ? ESCAPE '\\')"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes of a name that is not UTF-8: LIKE reads them as U+FFFD, never equal
        return source, "f.id", "(instr(f.relpath, ?) > 0 OR instr(f.data, ?) > 0)", [text, json.dumps(text)[1:-1]]
    if len(text) < 3 or not has_text_index(store):
        return source, "f.id", test, [like, like]
    # the index first (CROSS JOIN keeps that order), read backwards by rowid: a common word stops at a page
    return ("findings_text CROSS JOIN findings f ON f.id=findings_text.rowid ", "findings_text.rowid",
            f"findings_text MATCH ? AND {test}", ['"' + text.replace('"', '""') + '"', like, like])


def volume_names(store: Store, configured: Sequence[str] = ()) -> list[str]:
    """Every volume findings may sit on: the configured ones and those reporting a status (drives)."""
    return sorted({*configured, *(r[0] for r in store.query("SELECT volume FROM volume_status"))})


def last_finding_id(store: Store) -> int:
    return int(store.query("SELECT COALESCE(MAX(id), 0) FROM findings")[0][0])


def finding(store: Store, fid: int) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM findings WHERE id=?", (fid,))
    if not rows:
        return None
    out = finding_view(rows[0])
    out["assigned"] = assigned(store, [fid]).get(fid)
    out["events"] = finding_events(store, fid, out["volume"], out["relpath"])
    return out


def found_by(store: Store, volume: str, relpath: str, first_seen: float) -> str | None:
    """The node whose check raised a finding, when the audit says so (a fleet's node names itself in
    each ``checked`` row): the file's last check at or before the finding was first seen, by index."""
    rows = store.query("SELECT detail FROM audit WHERE volume=? AND relpath=? AND event='checked' AND ts<=? "
                       "ORDER BY id DESC LIMIT 1", (volume, relpath, first_seen))
    if not rows:
        return None
    try:
        node = json.loads(rows[0][0] or "{}").get("node")
    except (ValueError, AttributeError):
        return None
    return str(node) if node else None


def finding_events(store: Store, fid: int, volume: str, relpath: str) -> list[dict[str, Any]]:
    """The audit events about one finding (its asset's trail, by index, filtered by id)."""
    rows = store.query("SELECT ts, event, detail FROM audit WHERE volume=? AND relpath=? ORDER BY id DESC LIMIT 500",
                       (volume, relpath))
    out = []
    for r in rows:
        detail = json.loads(r["detail"] or "{}")
        if isinstance(detail, dict) and detail.get("id") == fid:
            from .history import describe
            out.append({"ts": r["ts"], "event": r["event"], "detail": detail, "text": describe(r["event"], detail)})
    return out[::-1]


def assigned(store: Store, ids: Sequence[int]) -> dict[int, str]:
    """The role each finding is assigned to now (the latest ``assign`` in its trail)."""
    if not ids:
        return {}
    rows = store.query(
        "SELECT a.detail FROM findings f JOIN audit a ON a.volume=f.volume AND a.relpath=f.relpath "
        f"WHERE f.id IN ({','.join('?' * len(ids))}) AND a.event='assign' ORDER BY a.id", list(ids))
    out: dict[int, str] = {}
    for r in rows:
        d = json.loads(r[0] or "{}")
        if d.get("id") in ids:
            out[int(d["id"])] = str(d.get("role", ""))
    return out


def asset(store: Store, volume: str, relpath: str) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM assets WHERE volume=? AND relpath=?", (volume, relpath))
    if not rows:
        return None
    r = rows[0]
    facts = json.loads(r["facts"]) if r["facts"] else {}
    return {"volume": volume, "relpath": relpath, "size": r["size"], "mtime_ns": r["mtime_ns"], "kind": r["kind"],
            "first_seen": r["first_seen"], "checked_at": r["checked_at"], "gone_at": r["gone_at"],
            "fields": json.loads(r["fields"] or "{}"), "facts": facts}


def asset_findings(store: Store, volume: str, relpath: str) -> list[dict[str, Any]]:
    rows = store.query("SELECT f.* FROM findings f JOIN finding_locations l ON l.finding_id=f.id "
                       "WHERE l.volume=? AND l.relpath=? UNION SELECT f.* FROM findings f WHERE f.volume=? AND "
                       "f.relpath=? ORDER BY id DESC LIMIT 200", (volume, relpath, volume, relpath))
    return [finding_view(r) for r in rows]


def checksums(store: Store, path: str) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT algo, digest, size, mtime_ns, hashed_at FROM hashes WHERE path=?",
                                         (path,))]


def new_events(store: Store, after: int, limit: int = 200) -> list[dict[str, Any]]:
    """Audit events after ``after`` (by id: the primary key) that the live page shows."""
    rows = store.query("SELECT id, ts, event, volume, relpath, detail FROM audit WHERE id>? AND event IN "
                       "('finding','resolved','ack','unack','assign','note','escalated') ORDER BY id LIMIT ?",
                       (after, limit))
    ids = sorted({json.loads(r["detail"] or "{}").get("id") for r in rows} - {None})
    found = {r["id"]: finding_view(r) for r in store.query(
        f"SELECT * FROM findings WHERE id IN ({','.join('?' * len(ids))})", ids)} if ids else {}
    out = []
    for r in rows:
        detail = json.loads(r["detail"] or "{}")
        f = found.get(detail.get("id"))
        out.append({"seq": r["id"], "ts": r["ts"], "event": r["event"], "volume": r["volume"],
                    "relpath": r["relpath"], "detail": detail, "finding": f,
                    "verdict": bool(f and f["rule"].startswith("mirror."))})
    return out


def last_event_id(store: Store) -> int:
    return int(store.query("SELECT COALESCE(MAX(id), 0) FROM audit")[0][0])
