"""State in SQLite: assets seen, cached facts, findings, notices, the outbox and the audit trail.

One file, WAL mode, no pickles: everything is JSON or plain columns. Each asset check is
committed in one transaction together with its findings and the notices they cause, so
a kill -9 at any moment either leaves the asset unchecked (it is checked again on restart)
or fully recorded (it is never re-alerted).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import locations
from ..core.model import Asset, Facts, Finding, Severity
from .dbfile import corrupt_from, is_corrupt, is_disk_full, open_db, target_id
from .pg import is_url, open_pg
from .schema import BASE as SCHEMA, SCHEMA_VERSION  # noqa: F401  (SCHEMA: the 0.1.0 tables, for tests)

HASH_MEMO = 200_000
"""Hashes an in-memory state keeps in a dict (about 30 MB at most)."""


@dataclass(frozen=True, slots=True)
class AssetRecord:
    volume: str
    relpath: str
    size: int
    mtime_ns: int
    kind: str | None
    fields: Mapping[str, Any]
    first_seen: float
    checked_at: float | None
    batch: int
    gone_at: float | None = None


@dataclass(frozen=True, slots=True)
class FindingRow:
    id: int
    rule: str
    severity: Severity
    volume: str
    relpath: str
    status: str
    owner: str | None
    roles: tuple[str, ...]
    data: Mapping[str, Any]
    first_seen: float
    last_seen: float
    acked_at: float | None = None
    escalated_at: float | None = None


Router = Callable[[Finding], Sequence[tuple[str, str]]]
"""Given a finding, the (role, notice kind) pairs that must hear about it."""


def scope_of(volume: str, relpath: str) -> str:
    """The unit that batch-level findings are resolved in: the volume's top folder."""
    head = relpath.split("/", 1)[0] if "/" in relpath else ""
    return f"{volume}/{head}"


def _record(row: sqlite3.Row) -> AssetRecord:
    return AssetRecord(volume=row["volume"], relpath=row["relpath"], size=row["size"],
                       mtime_ns=row["mtime_ns"], kind=row["kind"], fields=json.loads(row["fields"]),
                       first_seen=row["first_seen"], checked_at=row["checked_at"], batch=row["batch"],
                       gone_at=row["gone_at"])


def _finding_row(row: sqlite3.Row) -> FindingRow:
    return FindingRow(id=row["id"], rule=row["rule"], severity=Severity(row["severity"]),
                      volume=row["volume"], relpath=row["relpath"], status=row["status"],
                      owner=row["owner"], roles=tuple(json.loads(row["roles"])),
                      data=json.loads(row["data"]), first_seen=row["first_seen"],
                      last_seen=row["last_seen"], acked_at=row["acked_at"],
                      escalated_at=row["escalated_at"])


class Store:
    """The state database. Thread-safe; other processes may read it at the same time."""

    def __init__(self, path: str | Path = ":memory:", *, clock: Callable[[], float] = time.time,
                 readonly: bool = False, password: str | None = None) -> None:
        """``path``: an SQLite file, ``:memory:``, or a ``postgresql://`` URL (then ``password``,
        if the server asks for one: never part of the URL)."""
        self.path = str(path)
        self.clock = clock
        self.hasher: Callable[[str, str], str] | None = None
        """How files are hashed for ``History.file_hash`` (None: plain streaming hash)."""
        self.on_gone: Callable[[str, str], None] | None = None
        """Told (volume, relpath) when a live asset is marked gone: what it fed (a card verdict, a
        folder's seal) must be judged again."""
        self._lock = threading.RLock()
        self._hashes: dict[tuple[str, str, int, int], str] = {}
        """Hashes by file version, for an in-memory state: read back without a query (rules share them)."""
        self.on_fault: Callable[[str, BaseException], None] | None = None
        """Called with ("full" | "corrupt", error) when a write finds the disk full or the file damaged."""
        self._target_ids: dict[str, str] = {}
        self._tables: list[str] = []
        self.backend = "postgresql" if is_url(self.path) else "sqlite"
        self.db: Any
        """An SQLite :class:`~.dbfile.Connection`, or a :class:`~.pg.PgConnection` that answers alike."""
        if self.backend == "postgresql":
            self.db, self._salt = open_pg(self.path, password, readonly=readonly)
            self.path = self.db.url  # without any password: logs and errors show it
        else:
            self.db, self._salt = open_db(self.path, readonly=readonly)
        self._odd_recorded = self.db.odd
        if not readonly:
            with self.tx() as db:
                locations.backfill(db)

    def add_tables(self, script: str) -> None:
        """Create the tables of an engine that keeps its own in this database (the timeline
        catalog: :data:`reelwatch.timeline.SCHEMA` and ``TIMELINE_SCHEMA``); ``CREATE ... IF NOT
        EXISTS`` statements only, run outside any transaction."""
        with self._lock:
            self.db.executescript(script)
            self._tables.append(script)  # for a connection switched to later

    def target_id(self, target: str) -> str:
        """The id the outbox records for a notification target (never the URL itself)."""
        tid = self._target_ids.get(target)
        if tid is None:
            tid = self._target_ids[target] = target_id(target, self._salt)
        return tid

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @property
    def lock(self) -> threading.RLock:
        """Held around every use of the connection (:mod:`.journal` holds it to switch)."""
        return self._lock

    def switch(self, db: Any, path: str, salt: bytes) -> Any:
        """Point this store at another connection (the fleet's database going away, or coming back:
        see :mod:`.journal`); returns the one it used. Call with :attr:`lock` held."""
        with self._lock:
            old, self.db, self.path, self._salt = self.db, db, path, salt
            self.backend = "postgresql" if is_url(path) else "sqlite"
            self._target_ids.clear()
            self._odd_recorded = db.odd
            for script in self._tables:  # the engines' own tables (timelines) exist there too
                db.executescript(script)
            return old

    @contextmanager
    def tx(self, *, shared: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on error).

        In PostgreSQL write transactions take turns across the fleet, as in SQLite; ``shared``
        skips that, for a transaction that locks only the rows it claims (see :mod:`.fleet`).

        A full disk or a damaged file is reported to :attr:`on_fault` before the error is
        raised; after a failed COMMIT the transaction is rolled back, so that the connection
        stays usable once the fault is gone."""
        with self._lock:
            try:
                if shared and self.backend == "postgresql":
                    self.db.begin(exclusive=False)
                else:
                    self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                    if self.db.odd and not self._odd_recorded:  # other readers must decode such names too
                        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('odd_names', '1')")
                        self._odd_recorded = True
                    self.db.execute("COMMIT")
                except BaseException:
                    if self.db.in_transaction:
                        with suppress(sqlite3.Error):
                            self.db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._fault(exc)
                raise

    def _fault(self, exc: BaseException) -> None:
        if self.on_fault is None:
            return
        if getattr(exc, "unreachable", False):  # the PostgreSQL server or the network went away
            self.on_fault("unreachable", exc)
            return
        folder = Path(self.path).parent if self.path != ":memory:" else None
        if is_disk_full(exc, folder):
            self.on_fault("full", exc)
        elif is_corrupt(exc):
            self.on_fault("corrupt", exc)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                rows: list[sqlite3.Row] = self.db.execute(sql, args).fetchall()  # (or pg.Row: read alike)
                return rows
            except sqlite3.DatabaseError as exc:
                if is_corrupt(exc):
                    self._fault(exc)
                    raise corrupt_from(exc, self.path) from None
                if getattr(exc, "unreachable", False):
                    self._fault(exc)
                raise

    # -- meta --------------------------------------------------------------------------
    def next_batch(self) -> int:
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='batch'").fetchone()
            batch = int(row["value"]) + 1 if row else 1
            db.execute("INSERT OR REPLACE INTO meta VALUES ('batch', ?)", (str(batch),))
        return batch

    # -- assets ------------------------------------------------------------------------
    def asset(self, volume: str, relpath: str) -> AssetRecord | None:
        rows = self.query("SELECT * FROM assets WHERE volume=? AND relpath=?", (volume, relpath))
        return _record(rows[0]) if rows else None

    def is_checked(self, asset: Asset) -> bool:
        rec = self.asset(asset.volume, asset.relpath)
        return bool(rec and rec.checked_at is not None and rec.gone_at is None
                    and rec.size == asset.size and rec.mtime_ns == asset.mtime_ns)

    def cached_facts(self, asset: Asset) -> Facts | None:
        rows = self.query("SELECT facts FROM assets WHERE volume=? AND relpath=? AND size=? AND mtime_ns=?"
                          " AND facts IS NOT NULL", (asset.volume, asset.relpath, asset.size, asset.mtime_ns))
        return Facts.from_json(rows[0]["facts"]) if rows else None

    def save_facts(self, asset: Asset, facts: Facts) -> None:
        """Cache probed facts for this asset version before checks run (not a check yet)."""
        now = self.clock()
        with self.tx() as db:
            db.execute(
                "INSERT INTO assets (volume, relpath, folder, size, mtime_ns, kind, facts, first_seen) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (volume, relpath) DO UPDATE SET "
                "size=excluded.size, mtime_ns=excluded.mtime_ns, kind=excluded.kind, facts=excluded.facts, "
                "checked_at=CASE WHEN assets.size=excluded.size AND assets.mtime_ns=excluded.mtime_ns "
                "THEN assets.checked_at ELSE NULL END, gone_at=NULL",
                (asset.volume, asset.relpath, asset.folder, asset.size, asset.mtime_ns, facts.kind,
                 facts.to_json(), now))

    def in_folder(self, volume: str, folder: str) -> dict[str, tuple[int, int]]:
        """relpath -> (size, mtime_ns) of the live assets directly in one folder."""
        rows = self.query("SELECT relpath, size, mtime_ns FROM assets WHERE volume=? AND folder=? "
                          "AND gone_at IS NULL", (volume, folder))
        return {r[0]: (r[1], r[2]) for r in rows}

    def folder_signatures(self, volume: str, folder: str) -> dict[str, tuple[int, int]]:
        """name -> (size, mtime_ns) of the live assets directly in one folder, keyed by name
        (the reconcile's per-folder lookup: plain tuples, as sqlite3.Row objects cost about
        3 us each, a third of a reconcile of folders holding 1,000 clips)."""
        sql = "SELECT {} FROM assets WHERE volume=? AND folder=? AND gone_at IS NULL"
        with self._lock:
            if self.db.odd:  # names kept as bytes come back as strings only through the row factory
                cut = len(folder) + 1 if folder else 0
                rows = self.db.execute(sql.format("relpath, size, mtime_ns"), (volume, folder))
                return {r[0][cut:]: (r[1], r[2]) for r in rows}
            cur = self.db.execute(sql.format("substr(relpath, ?), size, mtime_ns"),
                                  (len(folder) + 2 if folder else 1, volume, folder))
            cur.row_factory = None
            return {name: (size, mtime) for name, size, mtime in cur}

    def folders(self, volume: str) -> Iterator[str]:
        """Every folder holding live assets on a volume."""
        for row in self.query("SELECT DISTINCT folder FROM assets WHERE volume=? AND gone_at IS NULL", (volume,)):
            yield row[0]

    def known_paths(self, volume: str, prefix: str = "") -> Iterator[tuple[str, int, int]]:
        """(relpath, size, mtime_ns) of every live asset on a volume, streamed in path order."""
        sql = "SELECT relpath, size, mtime_ns FROM assets WHERE volume=? AND gone_at IS NULL"
        args: list[Any] = [volume]
        if prefix:
            sql += " AND relpath >= ? AND relpath < ?"
            args += [prefix, prefix + "\uffff"]
        sql += " ORDER BY relpath"
        with self._lock:
            cur = self.db.execute(sql, args)
            rows = cur.fetchmany(2000)
        while rows:
            yield from ((r[0], r[1], r[2]) for r in rows)
            with self._lock:
                rows = cur.fetchmany(2000)

    def mark_gone(self, volume: str, relpath: str) -> None:
        now = self.clock()
        with self.tx() as db:
            cur = db.execute("UPDATE assets SET gone_at=? WHERE volume=? AND relpath=? AND gone_at IS NULL",
                             (now, volume, relpath))
            db.execute("INSERT INTO audit (ts, event, volume, relpath) VALUES (?, 'gone', ?, ?)",
                       (now, volume, relpath))
        if cur.rowcount and self.on_gone is not None:
            self.on_gone(volume, relpath)  # outside the transaction: the listener may write

    # -- the check transaction ---------------------------------------------------------
    def cached_facts_many(self, assets: Sequence[Asset]) -> dict[Asset, Facts]:
        """Cached facts of many asset versions, one query per volume and 500 paths."""
        out: dict[Asset, Facts] = {}
        by_volume: dict[str, dict[str, Asset]] = {}
        for a in assets:
            by_volume.setdefault(a.volume, {})[a.relpath] = a
        for volume, wanted in by_volume.items():
            rels = list(wanted)
            for n in range(0, len(rels), 500):
                part = rels[n:n + 500]
                rows = self.query(f"SELECT relpath, size, mtime_ns, facts FROM assets WHERE volume=? AND relpath IN "
                                  f"({','.join('?' * len(part))}) AND facts IS NOT NULL", (volume, *part))
                for r in rows:
                    a = wanted[r["relpath"]]
                    if (a.size, a.mtime_ns) == (r["size"], r["mtime_ns"]):
                        out[a] = Facts.from_json(r["facts"])
        return out

    def commit_check(self, asset: Asset, facts: Facts, findings: Sequence[Finding], router: Router,
                     batch: int) -> list[int]:
        """Record a checked asset version, its findings and their notices in one transaction.

        Findings already open for this asset stay open silently; new ones are inserted and
        noticed to their roles; open ones that are gone are resolved and noticed as resolved.
        Returns the ids of the new findings.
        """
        return self.commit_checks([(asset, facts, findings)], router, batch)

    def commit_checks(self, checks: Sequence[tuple[Asset, Facts, Sequence[Finding]]], router: Router,
                      batch: int) -> list[int]:
        """:meth:`commit_check` for many assets in one transaction: all of them are recorded with
        their findings and notices, or (killed half-way) none, and each is checked again."""
        if not checks:
            return []
        now = self.clock()
        rows, field_rows, audit_rows = [], [], []
        for asset, facts, findings in checks:
            fields = facts.derived.get("fields") or {}
            rows.append((asset.volume, asset.relpath, asset.folder, asset.size, asset.mtime_ns, facts.kind,
                         facts.to_json(), json.dumps(dict(fields), sort_keys=True, default=str), now, now, batch))
            field_rows += [(asset.volume, asset.relpath, str(k), str(v)) for k, v in fields.items() if v is not None]
            audit_rows.append((now, asset.volume, asset.relpath, json.dumps(
                {"size": asset.size, "mtime_ns": asset.mtime_ns, "findings": len(findings)})))
        new_ids: list[int] = []
        with self.tx() as db:
            db.executemany(
                "INSERT INTO assets (volume, relpath, folder, size, mtime_ns, kind, facts, fields, first_seen, "
                "checked_at, batch) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (volume, relpath) DO UPDATE SET size=excluded.size, "
                "mtime_ns=excluded.mtime_ns, kind=excluded.kind, facts=excluded.facts, fields=excluded.fields, "
                "checked_at=excluded.checked_at, batch=excluded.batch, gone_at=NULL", rows)
            db.executemany("DELETE FROM asset_fields WHERE volume=? AND relpath=?", [r[:2] for r in rows])
            db.executemany("INSERT INTO asset_fields VALUES (?,?,?,?)", field_rows)
            db.executemany("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'checked', ?, ?, ?)",
                           audit_rows)
            for asset, _, findings in checks:
                here = locations.open_at(db, "f.origin='check' AND l.volume=? AND l.relpath=?",
                                         (asset.volume, asset.relpath))
                new_ids += self._apply(db, findings, here, router, "check", now)
        return new_ids


    def commit_batch(self, findings: Sequence[Finding], scopes: Iterable[str], plugins: Iterable[str],
                     router: Router) -> list[int]:
        """Record findings from ``batch_done``; resolve earlier batch findings of the same
        plugins in the same scopes (volume top folders) that were not raised again."""
        now = self.clock()
        scopes, plugins = list(set(scopes)), list(set(plugins))
        with self.tx() as db:
            here: dict[str, tuple[sqlite3.Row, str, str]] = {}
            if scopes and plugins:
                marks = ",".join("?" * len(scopes))
                pmarks = ",".join("?" * len(plugins))
                here = locations.open_at(db, f"f.origin='batch' AND l.scope IN ({marks}) AND f.plugin IN ({pmarks})",
                                         (*scopes, *plugins))
            return self._apply(db, findings, here, router, "batch", now)

    def commit_watch(self, volume: str, rule: str, findings: Sequence[Finding], scope: Sequence[str] | None,
                     router: Router) -> list[int]:
        """Record what the watcher itself found (links leading outside, files that never stop
        growing): ``findings`` are the rule's current ones within ``scope`` (relpaths, or folder
        prefixes ending in "/"; None: the whole volume). Open ones there not raised again are resolved."""
        now = self.clock()
        with self.tx() as db:
            here = locations.open_at(db, "f.origin='watch' AND l.volume=? AND f.rule=?", (volume, rule))
            if scope is not None:
                exact = {s for s in scope if not s.endswith("/")}
                prefixes = tuple(s for s in scope if s.endswith("/")) or ("\0",)
                here = {k: v for k, v in here.items() if v[2] in exact or v[2].startswith(prefixes)}
            return self._apply(db, findings, here, router, "watch", now)

    def _apply(self, db: sqlite3.Connection, findings: Sequence[Finding],
               here: Mapping[str, tuple[sqlite3.Row, str, str]], router: Router, origin: str, now: float) -> list[int]:
        """``here``: the open findings at the places judged now, by location (see :mod:`reelwatch.state.locations`)."""
        new_ids: list[int] = []
        seen: set[str] = set()
        for f in findings:
            fp = f.fingerprint
            if fp in seen:
                continue
            seen.add(fp)
            if fp in here:
                db.execute("UPDATE findings SET last_seen=? WHERE id=?", (now, here[fp][0]["id"]))
                continue
            held = locations.already(db, f) if origin == "batch" else None
            if held is not None:  # raised by a batch judging another scope, still open
                db.execute("UPDATE findings SET last_seen=? WHERE id=?", (now, held))
                continue
            twin = locations.same_content(db, f, origin)
            if twin is not None:  # the same problem on another copy of the same content
                locations.merge(db, twin, f, scope_of(f.asset.volume, f.asset.relpath), now)
                continue
            routes = list(router(f))
            roles = sorted({role for role, _ in routes})
            data = f.to_dict()
            cur = db.execute(
                "INSERT INTO findings (fingerprint, origin, plugin, volume, relpath, scope, rule, severity, owner, "
                "roles, data, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (fp, origin, f.plugin, f.asset.volume, f.asset.relpath, scope_of(f.asset.volume, f.asset.relpath),
                 f.rule, int(f.severity), f.owner, json.dumps(roles), json.dumps(data, default=str), now, now))
            fid = int(cur.lastrowid or 0)
            locations.add(db, fid, f, scope_of(f.asset.volume, f.asset.relpath))
            new_ids.append(fid)
            data["id"] = fid
            payload = json.dumps(data, default=str)
            db.executemany("INSERT INTO notices (role, kind, finding_id, severity, data, created) VALUES (?,?,?,?,?,?)",
                           [(role, kind, fid, int(f.severity), payload, now) for role, kind in routes])
            db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'finding', ?, ?, ?)",
                       (now, f.asset.volume, f.asset.relpath, json.dumps({"id": fid, "rule": f.rule,
                                                                          "severity": f.severity.label})))
        for fp, (row, volume, relpath) in here.items():
            if fp in seen or not locations.drop(db, row["id"], volume, relpath, now):
                continue  # still raised here, or still open on another copy
            row = db.execute("SELECT * FROM findings WHERE id=?", (row["id"],)).fetchone()
            db.execute("UPDATE findings SET status='resolved', resolved_at=? WHERE id=?", (now, row["id"]))
            data = json.loads(row["data"])
            data["id"] = row["id"]
            payload = json.dumps(data, default=str)
            db.executemany("INSERT INTO notices (role, kind, finding_id, severity, data, created) VALUES (?,?,?,?,?,?)",
                           [(role, "resolved", row["id"], int(Severity.INFO), payload, now)
                            for role in json.loads(row["roles"])])
            db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'resolved', ?, ?, ?)",
                       (now, row["volume"], row["relpath"], json.dumps({"id": row["id"], "rule": row["rule"]})))
        return new_ids

    # -- findings ------------------------------------------------------------------------
    def findings(self, *, status: Sequence[str] = ("open",), role: str | None = None, volume: str | None = None,
                 min_severity: Severity | None = None, path: str | None = None) -> list[FindingRow]:
        sql = f"SELECT * FROM findings WHERE status IN ({','.join('?' * len(status))})"
        args: list[Any] = list(status)
        if volume:
            sql += " AND (volume=? OR id IN (SELECT finding_id FROM finding_locations WHERE volume=?))"
            args += [volume, volume]
        if min_severity is not None:
            sql += " AND severity>=?"
            args.append(int(min_severity))
        if path:
            sql += (" AND (relpath=? OR json_extract(data, '$.path')=? OR id IN (SELECT finding_id FROM "
                    "finding_locations WHERE relpath=? OR path=?))")
            args += [path, path, path, path]
        rows = [_finding_row(r) for r in self.query(sql + " ORDER BY id", args)]
        if role:
            rows = [r for r in rows if role in r.roles or r.owner == role]
        return rows

    def ack(self, finding_ids: Sequence[int], who: str) -> int:
        now = self.clock()
        with self.tx() as db:
            count = 0
            for fid in finding_ids:
                cur = db.execute("UPDATE findings SET status='acked', acked_at=?, acked_by=? "
                                 "WHERE id=? AND status='open'", (now, who, fid))
                if cur.rowcount:
                    count += 1
                    db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) SELECT ?, 'ack', volume, "
                               "relpath, ? FROM findings WHERE id=?", (now, json.dumps({"id": fid, "by": who}), fid))
            return count

    # -- volume status (for `reelwatch status`, read by another process) -----------------
    def set_volume_status(self, volume: str, observer: str, health: str, last_event: float | None,
                          queue_depth: int, detail: str = "") -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO volume_status VALUES (?,?,?,?,?,?,?)",
                       (volume, observer, health, last_event, queue_depth, detail, self.clock()))

    def set_tool_status(self, name: str, health: str, detail: str = "", held: int = 0) -> None:
        """The health of a tool the daemon depends on (``probe``: the MediaInfo workers)."""
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO tool_status VALUES (?,?,?,?,?)",
                       (name, health, detail, held, self.clock()))

    def set_daemon_status(self, health: str, detail: str, since: float | None, held: int) -> None:
        """The daemon's own health (``ok`` or ``degraded: ...``) for ``reelwatch status``."""
        value = json.dumps({"health": health, "detail": detail, "since": since, "held": held,
                            "updated": self.clock()})
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('daemon', ?)", (value,))

    def daemon_status(self) -> dict[str, Any] | None:
        rows = self.query("SELECT value FROM meta WHERE key='daemon'")
        return json.loads(rows[0][0]) if rows else None

    def clear_volume_status(self, volumes: Sequence[str] | None = None) -> None:
        """Forget the status of ``volumes`` (and their drives), or of every volume: other nodes of a
        fleet keep theirs."""
        with self.tx() as db:
            if volumes is None:
                db.execute("DELETE FROM volume_status")
            for name in volumes or ():
                db.execute("DELETE FROM volume_status WHERE volume=? OR substr(volume, 1, ?)=?",
                           (name, len(name) + 1, name + "-"))

    # -- hashes --------------------------------------------------------------------------
    def cached_hash(self, path: str, algo: str, size: int, mtime_ns: int) -> str | None:
        if self.path == ":memory:":
            return self._hashes.get((path, algo, size, mtime_ns))
        rows = self.query("SELECT digest FROM hashes WHERE path=? AND algo=? AND size=? AND mtime_ns=?",
                          (path, algo, size, mtime_ns))
        return rows[0]["digest"] if rows else None

    def save_hash(self, path: str, algo: str, size: int, mtime_ns: int, digest: str) -> None:
        """Remember a hash for this file version. A throw-away (in-memory) state, as ``reelwatch
        check`` uses, keeps hashes in a dict only: a statement and a transaction per file cost
        more than hashing a 1 MB frame (bench/bench_offload.py). A state on disk is always read
        afresh: ``reelwatch rehash``, another process, may record a silent change there."""
        if self.path == ":memory:":
            with self._lock:
                if len(self._hashes) >= HASH_MEMO:
                    self._hashes.clear()
                self._hashes[(path, algo, size, mtime_ns)] = digest
            return
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO hashes VALUES (?,?,?,?,?,?)",
                       (path, algo, size, mtime_ns, digest, self.clock()))

    # -- audit ---------------------------------------------------------------------------
    def audit(self, event: str, volume: str | None = None, relpath: str | None = None,
              **detail: Any) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?,?,?,?,?)",
                       (self.clock(), event, volume, relpath, json.dumps(detail, default=str)))

    def history_of(self, volume: str | None, relpath: str) -> list[sqlite3.Row]:
        if volume is None:
            return self.query("SELECT * FROM audit WHERE relpath=? ORDER BY ts, id", (relpath,))
        # in event order: a node back from offline adds what happened meanwhile (:mod:`.journal`)
        return self.query("SELECT * FROM audit WHERE volume=? AND relpath=? ORDER BY ts, id", (volume, relpath))

    def history(self, batch: int = 0) -> StoreHistory:
        return StoreHistory(self, batch, self.hasher)


@dataclass(slots=True)
class StoreHistory:
    """The :class:`reelwatch.core.hookspecs.History` view handed to checks."""

    store: Store
    batch: int = 0
    _hasher: Callable[[str, str], str] | None = field(default=None)

    def previous(self, volume: str, relpath: str) -> AssetRecord | None:
        return self.store.asset(volume, relpath)

    def with_fields(self, **fields: str) -> list[AssetRecord]:
        items = [(k, str(v)) for k, v in fields.items() if v is not None]
        if not items:
            return []
        sql = ("SELECT a.* FROM assets a WHERE a.gone_at IS NULL AND " +
               " AND ".join("EXISTS (SELECT 1 FROM asset_fields f WHERE f.volume=a.volume AND f.relpath=a.relpath "
                            "AND f.name=? AND f.value=?)" for _ in items) + " ORDER BY a.first_seen, a.relpath")
        args = [x for kv in items for x in kv]
        return [_record(r) for r in self.store.query(sql, args)]

    def open_findings(self, volume: str, relpath: str) -> list[tuple[str, str]]:
        rows = self.store.query("SELECT f.rule, f.severity FROM findings f JOIN finding_locations l ON "
                                "l.finding_id = f.id WHERE l.volume=? AND l.relpath=? AND f.status IN "
                                "('open','acked') ORDER BY f.id", (volume, relpath))
        return [(r["rule"], Severity(r["severity"]).label) for r in rows]

    def fleet_copy(self, node: str, volume: str, card: str) -> dict[str, Any]:
        """Another node's copy of a card, if its word counts now (see :mod:`reelwatch.state.copies`)."""
        from . import copies
        return copies.read(self.store, node, volume, card)

    def publish_copy(self, node: str, volume: str, card: str, record: Mapping[str, Any]) -> None:
        """Tell the fleet what this node's copy of a card holds (see :mod:`reelwatch.state.copies`)."""
        from . import copies
        copies.publish(self.store, node, volume, card, record)

    def file_hash(self, path: str, algo: str = "xxh128") -> str:
        import os
        st = os.stat(path)
        cached = self.store.cached_hash(path, algo, st.st_size, st.st_mtime_ns)
        if cached:
            return cached
        if self._hasher is not None:
            digest = self._hasher(path, algo)
        else:
            from ..integrity.hashing import hash_file
            digest = hash_file(path, algo)
        self.store.save_hash(path, algo, st.st_size, st.st_mtime_ns, digest)
        return digest
