"""The tables of the state database, and the migrations that bring an older one up to date.

One schema for both backends, written in the SQL that SQLite and PostgreSQL share (types
``TEXT``, ``INTEGER``, ``REAL``; :mod:`reelwatch.state.sql` turns ``INTEGER`` into ``BIGINT``,
``REAL`` into ``DOUBLE PRECISION`` and ``id INTEGER PRIMARY KEY`` into an identity column for
PostgreSQL). :data:`BASE` is the schema reelwatch 0.1.0 wrote (schema 2, frozen: never edit
it); every change since is a :class:`Migration` in :data:`MIGRATIONS`, applied in order, each
in the same transaction as the ``meta.schema`` row that records it. A database newer than this
reelwatch is refused (:class:`StateTooNew`) and left untouched.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("reelwatch.state")

BASE_VERSION = 2
"""The schema reelwatch 0.1.0 wrote (schema 1 was a development release: see :func:`dbfile.migrate`)."""
BASE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assets (
    volume TEXT NOT NULL, relpath TEXT NOT NULL, folder TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, kind TEXT, facts TEXT, fields TEXT NOT NULL DEFAULT '{}', first_seen REAL NOT NULL,
    checked_at REAL, batch INTEGER NOT NULL DEFAULT 0, gone_at REAL,
    PRIMARY KEY (volume, relpath));
CREATE INDEX IF NOT EXISTS assets_folder ON assets (volume, folder);
CREATE TABLE IF NOT EXISTS asset_fields (
    volume TEXT NOT NULL, relpath TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS asset_fields_nv ON asset_fields (name, value);
CREATE INDEX IF NOT EXISTS asset_fields_asset ON asset_fields (volume, relpath);
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, origin TEXT NOT NULL, plugin TEXT NOT NULL,
    volume TEXT NOT NULL, relpath TEXT NOT NULL, scope TEXT NOT NULL, rule TEXT NOT NULL,
    severity INTEGER NOT NULL, owner TEXT, roles TEXT NOT NULL, data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open', first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    resolved_at REAL, acked_at REAL, acked_by TEXT, escalated_at REAL);
CREATE INDEX IF NOT EXISTS findings_asset ON findings (volume, relpath, status);
CREATE INDEX IF NOT EXISTS findings_open ON findings (status, severity);
CREATE INDEX IF NOT EXISTS findings_fp ON findings (fingerprint, status);
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY, role TEXT NOT NULL, kind TEXT NOT NULL, finding_id INTEGER,
    severity INTEGER NOT NULL, data TEXT NOT NULL, created REAL NOT NULL, message_id INTEGER);
CREATE INDEX IF NOT EXISTS notices_pending ON notices (message_id, role);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, role TEXT NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, delivered TEXT NOT NULL DEFAULT '[]', last_error TEXT, sent_at REAL,
    sending TEXT);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, role, id);
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT NOT NULL, algo TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL, hashed_at REAL NOT NULL, PRIMARY KEY (path, algo));
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, event TEXT NOT NULL, volume TEXT, relpath TEXT,
    detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS audit_asset ON audit (volume, relpath);
CREATE INDEX IF NOT EXISTS audit_relpath ON audit (relpath);
CREATE TABLE IF NOT EXISTS tool_status (
    name TEXT PRIMARY KEY, health TEXT NOT NULL, detail TEXT, held INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS volume_status (
    volume TEXT PRIMARY KEY, observer TEXT, health TEXT, last_event REAL, queue_depth INTEGER,
    detail TEXT, updated REAL NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step from ``version - 1`` to ``version``: portable DDL (``;``-separated), then
    ``run(db)`` for data that must be rewritten (both optional)."""

    version: int
    what: str
    sql: str = ""
    run: Callable[[Any], None] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(3, "fleet: outbox leases, registered nodes", """
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until REAL;
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY, host TEXT NOT NULL, volumes TEXT NOT NULL DEFAULT '[]', version TEXT NOT NULL,
    pid INTEGER, started REAL NOT NULL, heartbeat REAL NOT NULL, health TEXT NOT NULL DEFAULT 'ok',
    detail TEXT NOT NULL DEFAULT '')
"""),
    # The web pages read newest first along findings (status) and count by role and severity; without
    # these each page scanned a million rows (bench/README.md, "Web pages": overview 366 -> 70 ms).
    Migration(4, "indexes for the web pages", """
CREATE INDEX IF NOT EXISTS findings_status ON findings (status);
CREATE INDEX IF NOT EXISTS findings_owner ON findings (status, owner, severity);
CREATE INDEX IF NOT EXISTS findings_rule ON findings (rule, status);
CREATE INDEX IF NOT EXISTS notices_finding ON notices (finding_id);
CREATE INDEX IF NOT EXISTS audit_event ON audit (event)
"""),
    # A card copied to volumes on several nodes: each node publishes what its own copies hold (names,
    # sizes, checksums, the seal's verdict) so that every node judges the card by every copy
    # (reelwatch.state.copies). Keyed by node too: two carts may both call a drive "raid".
    Migration(5, "fleet: copies of a card published by the node that holds them", """
CREATE TABLE IF NOT EXISTS fleet_copies (
    node TEXT NOT NULL, volume TEXT NOT NULL, card TEXT NOT NULL, record TEXT NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (node, volume, card))
"""),
    # Nodes that mount one shared volume check each asset version once: the version being checked
    # now, by which node, until when (reelwatch.state.claims). Rows live only while a check runs.
    Migration(6, "claims: one node checks each version of a shared volume", """
CREATE TABLE IF NOT EXISTS claims (
    volume TEXT NOT NULL, relpath TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    node TEXT NOT NULL, claimed_at REAL NOT NULL, lease_until REAL NOT NULL,
    PRIMARY KEY (volume, relpath, size, mtime_ns));
CREATE INDEX IF NOT EXISTS claims_node ON claims (node)
"""),
    # Text search over every finding (web page, issue 14 left it reading the newest 20,000), and the
    # card prefix on PostgreSQL as an index range (bench/README.md, "Web pages"): see text_index.
    Migration(7, "indexes for text search and folder prefixes", run=lambda db: text_index(db)),
)
SCHEMA_VERSION = MIGRATIONS[-1].version if MIGRATIONS else BASE_VERSION


class StateRefused(Exception):
    """The state cannot be opened, for a reason ``str()`` says in plain words (never a secret)."""


class StateTooNew(StateRefused):
    """The state database was written by a newer reelwatch. ``str()`` says what to do."""

    def __init__(self, where: str, found: int) -> None:
        super().__init__(where, found)
        self.where = where
        self.found = found

    def __str__(self) -> str:
        return (f"the state database {self.where} has schema {self.found}, written by a newer reelwatch; this "
                f"reelwatch reads schema {SCHEMA_VERSION} and older. Nothing was changed. Upgrade reelwatch on this "
                "machine (every node of a fleet runs the same release), or point [state] at another database.")


def statements(script: str) -> Iterator[str]:
    """The statements of a DDL script (our DDL holds no ``;`` inside a literal)."""
    for part in script.split(";"):
        if part.strip():
            yield part.strip()


ADD_COLUMN = re.compile(r"ALTER TABLE (?P<table>\w+) ADD COLUMN (?P<column>\w+)", re.I)


def columns(db: Any, table: str) -> set[str]:
    """The columns a table has now (in either backend)."""
    return {d[0] for d in db.execute(f"SELECT * FROM {table} LIMIT 0").description}


def pending(found: int) -> list[Migration]:
    """The migrations a database at schema ``found`` still needs, in order."""
    return [m for m in MIGRATIONS if m.version > found]


def upgrade(db: Any, found: int) -> int:
    """Apply every pending migration in the caller's transaction (``db.execute`` takes portable
    SQL: the backend's connection translates it). Returns the schema now recorded."""
    if found > SCHEMA_VERSION:
        raise StateTooNew("", found)
    for m in pending(found):
        for stmt in statements(m.sql):
            added = ADD_COLUMN.match(stmt)
            if added and added["column"] in columns(db, added["table"]):
                continue  # `state recover` marks a salvaged database older than its tables are
            db.execute(stmt)
        if m.run is not None:
            m.run(db)
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(m.version),))
        found = m.version
    return found


FTS_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS findings_text_ai AFTER INSERT ON findings BEGIN "
    "INSERT INTO findings_text (rowid, data, relpath) VALUES (new.id, new.data, new.relpath); END",
    "CREATE TRIGGER IF NOT EXISTS findings_text_ad AFTER DELETE ON findings BEGIN "
    "INSERT INTO findings_text (findings_text, rowid, data, relpath) VALUES ('delete', old.id, old.data, old.relpath); END",
    "CREATE TRIGGER IF NOT EXISTS findings_text_au AFTER UPDATE OF id, data, relpath ON findings BEGIN "
    "INSERT INTO findings_text (findings_text, rowid, data, relpath) VALUES ('delete', old.id, old.data, old.relpath); "
    "INSERT INTO findings_text (rowid, data, relpath) VALUES (new.id, new.data, new.relpath); END",
)


PG_TEXT = "data || ' ' || relpath"
"""What PostgreSQL's trigram index holds of a finding (text search tests ``data`` and ``relpath`` exactly)."""


def text_index(db: Any) -> None:
    """Migration 7. SQLite: ``findings_text``, an FTS5 trigram index over each finding's ``data`` and
    ``relpath`` (external content: the rows stay in ``findings``; triggers keep it current; filled here).
    PostgreSQL: a pg_trgm GIN index on :data:`PG_TEXT` when the extension is there or may be created,
    and ``text_pattern_ops`` indexes for a folder prefix on ``finding_locations`` and ``assets``. Without FTS5, its trigram tokenizer (SQLite before 3.34) or
    pg_trgm, text search still reads every finding (right, slower); the log says so once."""
    if isinstance(db, sqlite3.Connection):
        try:
            db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS findings_text USING fts5(data, relpath, content='findings', "
                       "content_rowid='id', tokenize='trigram')")
        except sqlite3.OperationalError as exc:  # no such module: fts5 / no such tokenizer: trigram
            log.warning("state_text_index_missing", sqlite=sqlite3.sqlite_version, problem=str(exc),
                        consequence="text search reads every finding (correct, slower)")
            return
        for stmt in FTS_TRIGGERS:
            db.execute(stmt)
        db.execute("INSERT INTO findings_text (findings_text) VALUES ('rebuild')")
        return
    db.execute("CREATE INDEX IF NOT EXISTS finding_locations_prefix ON finding_locations (volume, relpath "
               "text_pattern_ops)")
    db.execute("CREATE INDEX IF NOT EXISTS assets_prefix ON assets (volume, relpath text_pattern_ops)")
    db.execute("SAVEPOINT text_index")
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # one index over both (two, OR-ed, cost the planner more than a scan: 290 ms, measured, against 1 ms)
        db.execute(f"CREATE INDEX IF NOT EXISTS findings_text_trgm ON findings USING gin (({PG_TEXT}) gin_trgm_ops)")
    except sqlite3.Error as exc:  # the server refuses the extension (not installed, or no right to create it)
        db.execute("ROLLBACK TO SAVEPOINT text_index")
        log.warning("state_text_index_missing", problem=str(exc),
                    consequence="text search reads every finding (correct, slower)",
                    fix="as a database owner: CREATE EXTENSION pg_trgm; CREATE INDEX findings_text_trgm ON "
                        f"findings USING gin (({PG_TEXT}) gin_trgm_ops)")
    db.execute("RELEASE SAVEPOINT text_index")
