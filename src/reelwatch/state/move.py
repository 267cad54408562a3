"""``reelwatch state migrate --to postgresql://...``: move a node's SQLite state into the
fleet's PostgreSQL database, keeping every row and id.

Findings keep their ids and fingerprints (the next rescan does not notify them again), notices
keep pointing at their messages, sent messages keep the targets that got them: the salt of
target ids is moved too, so that ``delivered`` still names the same targets. Everything is
copied in one PostgreSQL transaction and counted again before it commits; the SQLite file is
only read. The target must be empty: merging the states of several nodes (whose ids collide)
is not done here; migrate one node, and start the others against the shared database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .store import Store

SKIP_META = frozenset({"schema", "daemon"})
"""Meta rows not moved: the target records its own schema; the daemon's health is per node."""
CHUNK = 2000


class MigrateRefused(Exception):
    """Why the state cannot be moved, in plain words."""


def tables_of(src: Store) -> list[str]:
    rows = src.query("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [r[0] for r in rows]


def _columns(store: Store, table: str) -> list[str]:
    return [d[0] for d in store.db.execute(f"SELECT * FROM {table} LIMIT 0").description]


def _rows(src: Store, table: str, columns: list[str]) -> Iterable[list[tuple[Any, ...]]]:
    order = "rowid"  # insertion order: finding_locations lists a finding's copies in it
    last = -1
    while True:
        part = src.query(f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY {order} LIMIT ?",
                         (last, CHUNK))
        if not part:
            return
        last = part[-1][0]
        yield [tuple(r)[1:] for r in part]


def move(src: Store, dst: Store) -> dict[str, int]:
    """Copy every row of ``src`` (SQLite) into ``dst`` (PostgreSQL, empty); rows per table."""
    if src.backend != "sqlite" or dst.backend != "postgresql":
        raise MigrateRefused("state migrate moves an SQLite state into PostgreSQL")
    busy = [t for t in ("findings", "outbox", "assets", "audit") if dst.query(f"SELECT 1 FROM {t} LIMIT 1")]
    if busy:
        raise MigrateRefused(f"{dst.path} already holds a state ({', '.join(busy)} not empty). Merging two states "
                             "is not supported: migrate one node into an empty database and start the other nodes "
                             "against it (they check their volumes afresh and notify only what is new to the fleet).")
    have = {t for t in tables_of(src) if dst.db.has_table(t)}
    copied: dict[str, int] = {}
    with dst.tx() as db:
        for table in tables_of(src):
            if table not in have:
                continue  # a table this release does not know (never written by reelwatch)
            want = set(_columns(dst, table))
            columns = [c for c in _columns(src, table) if c in want and c != "rowid"]
            marks = ", ".join("?" * len(columns))
            verb = "INSERT OR REPLACE" if table == "meta" else "INSERT"
            sql = f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            n = 0
            for part in _rows(src, table, columns):
                if table == "meta":
                    part = [r for r in part if r[0] not in SKIP_META]
                db.executemany(sql, part)
                n += len(part)
            copied[table] = n
            if "id" in columns:  # new rows continue after the copied ids
                db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"GREATEST(COALESCE(MAX(id), 0), 1), MAX(id) IS NOT NULL) FROM {table}")
        for table, n in copied.items():  # counted again before the commit
            got = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            if table != "meta" and got != n:
                raise MigrateRefused(f"{table}: {got} rows in PostgreSQL after copying {n}: nothing was kept")
    return copied
