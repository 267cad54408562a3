"""The state database file itself: what can go wrong with it, and how it is kept and repaired.

* **A full disk.** SQLite answers ``SQLITE_FULL`` (or an I/O error when the disk is full);
  :func:`is_disk_full` recognises both so that the daemon can hold its work instead of
  losing it (:mod:`reelwatch.state.disk`).
* **A damaged file.** ``SQLITE_NOTADB`` and ``SQLITE_CORRUPT`` become :class:`StateCorrupt`,
  which says where the file is, what is wrong and what to do; :func:`check_file` and
  :func:`salvage` are ``reelwatch state check`` and ``reelwatch state recover``.
* **Names that are not UTF-8.** A file name may hold any bytes but ``/`` and NUL; Python
  shows the bytes that are not UTF-8 as lone surrogates, which SQLite's text type refuses.
  :class:`Connection` stores such a string as the file system's own bytes (a blob) and gives
  it back as the same string, so every name the file system allows can be recorded.
* **Secrets at rest.** The outbox records which targets already received a message by
  :func:`target_id`, a salted slow hash of the target, never the URL itself.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 10, 11, 13, 26
TARGET_ID = re.compile(r"t-[0-9a-f]{16}")
TARGET_ID_ROUNDS = 20_000
"""PBKDF2 rounds per target id: about 10 ms once per target and process, and as much per
guess for anyone trying to recover a password from a copy of the database."""
DISK_LOW = 1 << 20
"""An I/O error with less than this free on the state disk is taken for a full disk."""


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_disk_full(exc: BaseException, folder: str | Path | None = None) -> bool:
    """True when ``exc`` says the state disk is full (SQLITE_FULL, ENOSPC, EDQUOT, or an
    I/O error while almost no space is left)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not isinstance(exc, sqlite3.Error):
        return False
    code = _code(exc)
    if code == SQLITE_FULL or "database or disk is full" in str(exc):
        return True
    if code == SQLITE_IOERR and folder is not None:
        try:
            st = os.statvfs(folder)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < DISK_LOW
    return False


def is_corrupt(exc: BaseException) -> bool:
    """True when ``exc`` says the state database file is damaged."""
    if isinstance(exc, StateCorrupt):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    text = str(exc)
    return _code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB) or "file is not a database" in text \
        or "malformed" in text


class StateCorrupt(sqlite3.DatabaseError):
    """The state database is damaged. ``str()`` says where, what and what to do."""

    def __init__(self, path: str, problem: str, config: str | None = None) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
        self.config = config

    def __str__(self) -> str:
        cfg = self.config or "CONFIG"
        return (f"the state database {self.path} is damaged: {self.problem}.\n"
                "reelwatch cannot read or record its state until it is repaired (the watched volumes are "
                "not affected). To repair it:\n"
                "  1. stop the service (systemctl stop reelwatch@NAME)\n"
                f"  2. reelwatch state check --config {cfg}      says what is wrong\n"
                f"  3. reelwatch state recover --config {cfg}    keeps the damaged file next to it, starts a "
                "fresh database and copies into it every finding, message and checked file it can still read, "
                "so that nothing already sent is sent again\n"
                "  4. start the service: it rescans every volume and checks what the fresh database does not know\n"
                "Details: docs/deploy.md, 'A damaged state database'.")


def corrupt_from(exc: sqlite3.DatabaseError, path: str) -> StateCorrupt:
    text = str(exc)
    if _code(exc) == SQLITE_NOTADB or "file is not a database" in text:
        problem = "the file is not an SQLite database (its header is damaged or it was overwritten)"
    else:
        problem = f"SQLite reports '{text}' (pages of the file are damaged)"
    return StateCorrupt(path, problem)


# -- names that are not UTF-8 ---------------------------------------------------------------

def _bindable(value: str) -> str | bytes:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return os.fsencode(value)  # the file system's own bytes: the name round-trips exactly
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace")
    return value


def _decoding_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> sqlite3.Row:
    for value in row:
        if type(value) is bytes:  # the schema has no blob columns: every blob is such a name
            row = tuple(os.fsdecode(v) if type(v) is bytes else v for v in row)
            break
    return sqlite3.Row(cursor, row)


class Connection(sqlite3.Connection):
    """A connection that can bind strings holding bytes that are not UTF-8.

    Reads stay on the fast C row factory until such a name is seen (in this process, or
    recorded in the database by an earlier one: :attr:`odd`)."""

    odd = False

    def use_odd_names(self) -> None:
        self.odd = True
        self.row_factory = _decoding_row

    def _adapt(self, args: Any) -> Any:
        if not isinstance(args, list | tuple):
            return args
        out = None
        for i, value in enumerate(args):
            if type(value) is str and not value.isascii():
                bound = _bindable(value)
                if bound is not value:
                    out = out if out is not None else list(args)
                    out[i] = bound
        if out is None:
            return args
        if not self.odd:
            self.use_odd_names()
        return out

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, self._adapt(parameters))

    def executemany(self, sql: str, seq: Iterable[Any], /) -> sqlite3.Cursor:
        return super().executemany(sql, (self._adapt(args) for args in seq))

    def executescript_in_tx(self, script: str) -> None:
        """Run a DDL script inside the open transaction (``executescript`` would commit it first)."""
        from .schema import statements
        for stmt in statements(script):
            super().execute(stmt)


# -- target ids and the schema ---------------------------------------------------------------

def target_id(target: str, salt: bytes) -> str:
    """``t-`` and 16 hex digits: names one notification target in the database, and cannot be
    turned back into its URL, token or password."""
    digest = hashlib.pbkdf2_hmac("sha256", target.encode("utf-8", "surrogateescape"), salt, TARGET_ID_ROUNDS,
                                 dklen=8)
    return "t-" + digest.hex()


def _scrub_json(text: str) -> str:
    from ..core.redact import URL_IN_TEXT, redact_url

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value
    try:
        return json.dumps(walk(json.loads(text)), default=str)
    except ValueError:
        return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def migrate(db: sqlite3.Connection, to_id: Callable[[str], str]) -> None:
    """Bring a version 1 database to version 2, in the caller's transaction: the outbox
    records target ids instead of URLs, gets its ``sending`` column, and URLs quoted in
    stored config errors are redacted."""
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if row is not None and int(row[0]) >= 2:
        return
    if "sending" not in {r[1] for r in db.execute("PRAGMA table_info(outbox)")}:
        db.execute("ALTER TABLE outbox ADD COLUMN sending TEXT")
    for msg_id, delivered in db.execute("SELECT id, delivered FROM outbox WHERE delivered != '[]'").fetchall():
        try:
            items = json.loads(delivered)
        except ValueError:
            items = []
        ids = sorted({str(x) if TARGET_ID.fullmatch(str(x)) else to_id(str(x)) for x in items})
        db.execute("UPDATE outbox SET delivered=? WHERE id=?", (json.dumps(ids), msg_id))
    for table, column in (("audit", "detail"), ("outbox", "payload")):
        for rowid, text in db.execute(f"SELECT rowid, {column} FROM {table} WHERE instr({column}, '://') > 0"
                                      ).fetchall():
            db.execute(f"UPDATE {table} SET {column}=? WHERE rowid=?", (_scrub_json(text), rowid))
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', '2')")


def schema_of(db: sqlite3.Connection) -> int | None:
    """The schema recorded in a state database (None: a fresh file, no tables yet)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    return int(row[0]) if row is not None else None


def backup_before_upgrade(db: sqlite3.Connection, path: str, found: int) -> Path | None:
    """Copy a database about to be migrated next to it (``state.db.schema-2``), once: an upgrade
    that goes wrong, or a return to the older release, starts from it."""
    if path == ":memory:":
        return None
    kept = Path(f"{path}.schema-{found}")
    if kept.exists():
        return kept
    copy = sqlite3.connect(str(kept))
    try:
        db.backup(copy)
    finally:
        copy.close()
    return kept


def open_db(path: str, *, readonly: bool = False) -> tuple[Connection, bytes]:
    """Open a state database (creating it, or migrating an older one, unless ``readonly``).
    Returns the connection and the salt of its target ids; :class:`StateCorrupt` when the file
    is damaged, :class:`~reelwatch.state.schema.StateTooNew` when a newer reelwatch wrote it."""
    from .locations import SCHEMA as LOCATIONS
    from .schema import BASE, BASE_VERSION, SCHEMA_VERSION, StateTooNew, upgrade
    if readonly:
        db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, check_same_thread=False,
                             isolation_level=None, timeout=10, factory=Connection)
    else:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30, factory=Connection)
    db.row_factory = sqlite3.Row
    salt = b""
    try:
        found = schema_of(db)
        if found is not None and found > SCHEMA_VERSION:  # before any write: a newer release's file stays as it is
            raise StateTooNew(path, found)
        if not readonly:
            if found is not None and BASE_VERSION <= found < SCHEMA_VERSION:  # (schema 1 kept URLs: no copy)
                backup_before_upgrade(db, path, found)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # rewritten rows may hold secrets (version 1 kept URLs): zero what they leave behind
            db.execute("PRAGMA secure_delete=ON")
            db.execute("BEGIN IMMEDIATE")
            found = schema_of(db)  # again, under the write lock: another process may have migrated it
            if found is not None and found > SCHEMA_VERSION:
                raise StateTooNew(path, found)
            if found is None or found <= BASE_VERSION:
                db.executescript_in_tx(BASE + LOCATIONS)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(BASE_VERSION),))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('target_salt', ?)", (os.urandom(16).hex(),))
            salt = bytes.fromhex(db.execute("SELECT value FROM meta WHERE key='target_salt'").fetchone()[0])
            migrate(db, lambda target: target_id(target, salt))
            upgrade(db, int(db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]))
            db.execute("COMMIT")
            db.execute("PRAGMA secure_delete=OFF")
        if db.execute("SELECT 1 FROM meta WHERE key='odd_names'").fetchone() is not None:
            db.use_odd_names()
    except sqlite3.DatabaseError as exc:
        db.close()
        if is_corrupt(exc):
            raise corrupt_from(exc, path) from None
        raise
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
        raise
    return db, salt


# -- state check and state recover ----------------------------------------------------------

def check_file(path: str | Path) -> list[str]:
    """What is wrong with a state database file, in plain words ([] when it is sound)."""
    path = Path(path)
    if not path.exists():
        return [f"{path} does not exist"]
    try:
        db = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return [f"it cannot be opened: {exc}"]
    try:
        rows = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
        problems = [] if rows == ["ok"] else rows[:20]
        if not problems:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            missing = {"meta", "assets", "findings", "notices", "outbox", "audit"} - tables
            if missing:
                problems.append(f"it is not a reelwatch state database (no {', '.join(sorted(missing))} table)")
        return problems
    except sqlite3.DatabaseError as exc:
        return [corrupt_from(exc, str(path)).problem]
    finally:
        db.close()


def _rows(db: sqlite3.Connection, table: str, columns: Sequence[str], chunk: int = 2000) -> Iterable[tuple[Any, ...]]:
    """Every row of ``table`` that can still be read, in rowid order; damaged stretches are
    narrowed down by halving, so that one bad page costs only the rows on it."""
    cols = ", ".join(columns)
    try:
        high = db.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        return  # the table's root page is damaged: none of its rows can be found
    stack = [(lo, min(lo + chunk - 1, high)) for lo in range(1, high + 1, chunk)][::-1]
    while stack:
        lo, hi = stack.pop()
        try:
            yield from db.execute(f"SELECT {cols} FROM {table} WHERE rowid BETWEEN ? AND ?", (lo, hi)).fetchall()
        except sqlite3.DatabaseError:
            if lo < hi:
                mid = (lo + hi) // 2
                stack += [(mid + 1, hi), (lo, mid)]


SALVAGED = ("meta", "assets", "asset_fields", "findings", "notices", "outbox", "hashes", "audit")


def salvage(broken: Path, fresh: sqlite3.Connection) -> dict[str, int]:
    """Copy every readable row of the known tables from ``broken`` into ``fresh`` (same ids,
    so notices and messages keep pointing at their findings). Returns rows copied per table."""
    copied = {table: 0 for table in SALVAGED}
    old = None
    # as a database first (its write-ahead log is read too), else byte for byte as it lies
    for uri in (f"file:{broken}", f"file:{broken}?immutable=1"):
        try:
            old = sqlite3.connect(uri, uri=True)
            old.execute("SELECT name FROM sqlite_master").fetchall()
            break
        except sqlite3.DatabaseError:
            if old is not None:
                old.close()
            old = None
    if old is None:
        return copied  # not a database at all: nothing can be read from it
    try:
        for table in SALVAGED:
            try:
                have = [r[1] for r in old.execute(f"PRAGMA table_info({table})")]
            except sqlite3.DatabaseError:
                continue
            want = [r[1] for r in fresh.execute(f"PRAGMA table_info({table})")]
            columns = [c for c in want if c in have]
            if not columns:
                continue
            sql = (f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
            if table == "meta":
                sql = f"INSERT OR REPLACE INTO meta ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for row in _rows(old, table, columns):
                if table == "meta" and row[0] == "schema":
                    continue
                try:
                    fresh.execute(sql, tuple(row))
                except sqlite3.Error:
                    continue
                copied[table] += 1
    finally:
        old.close()
    return copied


def set_aside(path: Path) -> Path:
    """Move a damaged database (and its -wal and -shm) aside, keeping it; returns the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    kept = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.broken-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            shutil.move(str(src), str(kept) + suffix)
    return kept
