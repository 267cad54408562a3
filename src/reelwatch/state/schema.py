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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

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
