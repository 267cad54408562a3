"""The state in PostgreSQL: one database shared by every node of a production's fleet.

:class:`PgConnection` offers what :class:`reelwatch.state.store.Store` uses of an SQLite
connection (``execute``, ``executemany``, ``BEGIN``/``COMMIT``/``ROLLBACK``, rows readable by
name and by position, ``lastrowid``), over a small psycopg pool that replaces a connection the
server dropped. Statements are rewritten once by :func:`reelwatch.state.sql.to_postgres`.

* **Writers take turns, as in SQLite.** ``BEGIN IMMEDIATE`` becomes ``BEGIN`` and a transaction
  advisory lock (:data:`WRITE_LOCK`), so that the store's read-then-write steps (a finding
  already open on another copy, a digest claiming its notices) stay right with several nodes.
  Claiming outbox messages is the exception: ``FOR UPDATE SKIP LOCKED``, never waiting
  (:meth:`reelwatch.state.store.Store.claim_messages`).
* **Errors** from the server are raised as :class:`StateDbError`, a ``sqlite3.OperationalError``
  (``IntegrityError`` for a broken constraint): the daemon and the outbox already treat those as
  "the state database cannot record now", whichever backend it is.
* **The password** comes from ``[state] password_file``, ``$REELWATCH_STATE_PASSWORD`` or
  libpq's own ``PGPASSWORD``/``~/.pgpass``, never from the URL; it is passed to libpq apart from
  the URL and scrubbed from every error text (:func:`display_url` is what logs show).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .schema import BASE, BASE_VERSION, SCHEMA_VERSION, StateRefused, StateTooNew, statements, upgrade
from .sql import Catalog, to_postgres

WRITE_LOCK = 0x7265656C  # "reel": one key for the whole production's writes
MIGRATE_LOCK = 0x72656D67  # held while a node creates or migrates the schema
URL_SCHEMES = ("postgresql://", "postgres://")
IDLE_CHECK = 2.0
"""Seconds after which a pooled connection is tried before use."""


def is_url(path: object) -> bool:
    return isinstance(path, str) and path.startswith(URL_SCHEMES)


def display_url(url: str) -> str:
    """The URL without any password (what logs, status and errors show)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def url_problem(url: str) -> str | None:
    """What is wrong with a state URL, in plain words (None: fine)."""
    if not is_url(url):
        return f"{display_url(url)!r} is not a postgresql:// URL"
    if urlsplit(url).password is not None:
        return ("the state URL holds a password: put it in [state] password_file or $REELWATCH_STATE_PASSWORD "
                "instead (a URL ends up in logs and process lists)")
    return None


class StateUnavailable(StateRefused):
    """The PostgreSQL server cannot be reached or refused the connection."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(url, detail)
        self.url = url
        self.detail = detail

    def __str__(self) -> str:
        return (f"the state database {self.url} cannot be reached: {self.detail}. Check that the server runs and "
                "that this machine may connect (pg_hba.conf, the password in [state] password_file).")


class StateDbError(sqlite3.OperationalError):
    """An error from the PostgreSQL server, raised as the sqlite3 error the code base handles."""

    unreachable = False
    """True when the server or the network is away (the store then reports a state fault)."""


class StateDbIntegrityError(sqlite3.IntegrityError):
    unreachable = False


class Row:
    """A row readable by column name and by position, like ``sqlite3.Row``."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key.lower()]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Row | tuple) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=False))!r})"


class Result:
    """What a statement returned, read in full (the connection is back in the pool already)."""

    def __init__(self, rows: list[Row], description: Any, rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self._at = 0
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.row_factory: Any = None  # accepted and ignored: rows unpack like tuples either way

    def fetchone(self) -> Row | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int = 1) -> list[Row]:
        part = self._rows[self._at:self._at + size]
        self._at += len(part)
        return part

    def fetchall(self) -> list[Row]:
        part = self._rows[self._at:]
        self._at = len(self._rows)
        return part

    def __iter__(self) -> Iterator[Row]:
        while (row := self.fetchone()) is not None:
            yield row


# Names that are not UTF-8: Python shows each such byte as a lone surrogate (U+DC80..U+DCFF),
# which PostgreSQL's text refuses; they are stored as the last 128 code points of plane 16
# (private use, never seen in a real file name) and turned back when read.
# Inside JSON (a finding's data, a payload) json.dumps writes such a byte as the escape "\udcff",
# a lone surrogate that jsonb refuses ("Unicode low surrogate must follow a high surrogate"): in a
# JSON object or array the escape becomes the same private-use character, which reads back as the
# surrogate itself (json.loads takes it raw or escaped alike).
_TO_PG = {0xDC80 + i: 0x10FF80 + i for i in range(128)}
_FROM_PG = {v: k for k, v in _TO_PG.items()}
_JSON_ESCAPE = re.compile(r"\\(\\|u[dD][cC][89a-fA-F][0-9a-fA-F])")
_HIGH = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}$")


def _unescape_lone(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) == "\\" or _HIGH.search(text, 0, m.start()):  # an escaped backslash; a surrogate pair
            return m.group(0)
        return chr(0x10FF80 + int(m.group(1)[1:], 16) - 0xDC80)
    return _JSON_ESCAPE.sub(one, text)


def _bindable(value: Any) -> Any:
    if type(value) is not str:
        return value
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.translate(_TO_PG)
    if value[:1] in ("{", "[") and "\\u" in value:  # JSON text (a name is never turned: its backslashes are its own)
        return _unescape_lone(value)
    return value


def _args(args: Any) -> Any:
    return tuple(_bindable(v) for v in args)


def _readable(value: Any) -> Any:
    if type(value) is str and not value.isascii():
        return value.translate(_FROM_PG)
    return value


def _rows_of(cursor: Any) -> list[Row]:
    if cursor.description is None:
        return []
    index = {d.name.lower(): i for i, d in enumerate(cursor.description)}
    return [Row([_readable(v) for v in values], index) for values in cursor.fetchall()]


class PgConnection:
    """What the store needs of a connection, over a psycopg pool (see the module docstring).
    Not thread-safe by itself: the store holds its lock around every use, as with SQLite."""

    odd = False  # (SQLite's flag for names that are not UTF-8: here every read turns them back, see _TO_PG)

    def __init__(self, url: str, password: str | None = None, *, size: int = 4, connect_timeout: float = 5) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool
        self._psycopg = psycopg
        self.url = display_url(url)
        self._secret = password or ""
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": int(max(1, connect_timeout))}
        if password:
            kwargs["password"] = password
        self._used: dict[int, float] = {}
        self._pool = ConnectionPool(url, kwargs=kwargs, min_size=1, max_size=size, open=False,
                                    check=self._check, timeout=connect_timeout, name="reelwatch-state")
        try:
            psycopg.connect(url, **kwargs).close()  # first alone: the pool would hide why it fails
            self._pool.open(wait=True, timeout=connect_timeout)
        except Exception as exc:
            self._pool.close()
            raise StateUnavailable(self.url, self._scrub(str(exc)) or type(exc).__name__) from None
        self._tx: Any = None
        self._catalog: Catalog = {}
        self._sql: dict[str, tuple[str, bool]] = {}
        self.refresh_catalog()

    def _check(self, conn: Any) -> None:
        """Before handing out a connection: one that sat idle is tried first (the server may have
        restarted since), one used a moment ago is not (a round trip per statement, measured:
        bench/bench_state.py)."""
        if time.monotonic() - self._used.get(id(conn), 0.0) > IDLE_CHECK:
            from psycopg_pool import ConnectionPool
            ConnectionPool.check_connection(conn)

    def _give_back(self, conn: Any) -> None:
        self._used[id(conn)] = time.monotonic()
        self._pool.putconn(conn)

    # -- errors ------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        text = " ".join(text.split())
        return text.replace(self._secret, "***") if self._secret else text

    def _error(self, exc: BaseException) -> StateDbError | StateDbIntegrityError:
        cls = StateDbIntegrityError if isinstance(exc, self._psycopg.IntegrityError) else StateDbError
        err = cls(f"PostgreSQL {self.url}: {self._scrub(str(exc)) or type(exc).__name__}")
        # the server or the network is away (connection errors, an admin shutdown, no connection in time)
        err.unreachable = isinstance(exc, self._psycopg.OperationalError) or "pool" in type(exc).__module__
        return err

    # -- tables ------------------------------------------------------------------------------
    def refresh_catalog(self) -> None:
        rows = self._run("SELECT c.table_name, c.column_name, (k.column_name IS NOT NULL) FROM "
                         "information_schema.columns c LEFT JOIN (SELECT u.table_name, u.column_name FROM "
                         "information_schema.table_constraints t JOIN information_schema.key_column_usage u "
                         "ON u.constraint_name = t.constraint_name AND u.table_schema = t.table_schema "
                         "WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = current_schema()) k "
                         "ON k.table_name = c.table_name AND k.column_name = c.column_name "
                         "WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position",
                         (), raw=True).fetchall()
        catalog: dict[str, tuple[list[str], list[str]]] = {}
        for table, column, key in rows:
            cols, pk = catalog.setdefault(table, ([], []))
            cols.append(column)
            if key:
                pk.append(column)
        self._catalog = {t: (tuple(c), tuple(p)) for t, (c, p) in catalog.items()}
        self._sql.clear()

    def has_table(self, name: str) -> bool:
        return name in self._catalog

    # -- statements --------------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    def _translate(self, sql: str) -> tuple[str, bool]:
        done = self._sql.get(sql)
        if done is None:
            done = self._sql[sql] = to_postgres(sql, self._catalog)
        return done

    def _run(self, sql: str, args: Any, *, raw: bool = False, many: bool = False) -> Result:
        text, returning = (sql, False) if raw else self._translate(sql)
        try:
            if self._tx is not None:
                return self._on(self._tx, text, args, returning, many)
            conn = self._pool.getconn()
            try:
                return self._on(conn, text, args, returning, many)
            finally:
                self._give_back(conn)
        except self._psycopg.Error as exc:
            raise self._error(exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):  # PoolTimeout: no connection to the server
                raise self._error(exc) from None
            raise

    @staticmethod
    def _on(conn: Any, text: str, args: Any, returning: bool, many: bool) -> Result:
        with conn.cursor() as cur:
            if many:
                cur.executemany(text, [_args(a) for a in args])
                return Result([], None, cur.rowcount, None)
            cur.execute(text, _args(args) if args else None)
            rows = _rows_of(cur)
            lastrowid = rows[0][0] if returning and rows else None
            return Result([] if returning else rows, cur.description, cur.rowcount, lastrowid)

    def execute(self, sql: str, args: Sequence[Any] | None = ()) -> Result:
        word = sql.strip().upper()
        if word in ("BEGIN", "BEGIN IMMEDIATE"):
            return self.begin()
        if word in ("COMMIT", "ROLLBACK"):
            return self.end(word)
        return self._run(sql, args or ())

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Result:
        items = list(seq)
        if not items:
            return Result([], None, 0, None)
        return self._run(sql, items, many=True)

    def executescript(self, script: str) -> None:
        """DDL (``CREATE ... IF NOT EXISTS``) rewritten for PostgreSQL, under the schema lock: IF NOT
        EXISTS is not atomic (two nodes starting at once: one failed on a duplicate key in pg_class)."""
        own = self._tx is None  # else the caller's transaction (a migration) holds the lock already
        if own:
            self.begin(lock=MIGRATE_LOCK)
        try:
            for stmt in statements(script):
                self._run(stmt, ())
        except BaseException:
            if own:
                self.end("ROLLBACK")
            raise
        if own:
            self.end("COMMIT")
        self.refresh_catalog()

    def begin(self, *, exclusive: bool = True, lock: int = WRITE_LOCK) -> Result:
        if self._tx is not None:
            raise StateDbError("a transaction is already open")
        try:
            conn = self._pool.getconn()
        except Exception as exc:
            raise self._error(exc) from None
        try:
            conn.execute("BEGIN")
            if exclusive:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        except self._psycopg.Error as exc:
            self._give_back(conn)
            raise self._error(exc) from None
        self._tx = conn
        return Result([], None, -1, None)

    def end(self, word: str) -> Result:
        conn, self._tx = self._tx, None
        if conn is None:
            raise StateDbError(f"{word} without a transaction")
        try:
            conn.execute(word)
        except self._psycopg.Error as exc:
            raise self._error(exc) from None
        finally:
            self._give_back(conn)
        return Result([], None, -1, None)

    def close(self) -> None:
        if self._tx is not None:
            self.end("ROLLBACK")
        self._pool.close()


def read_password(password_file: str | None) -> str | None:
    """The state database password: ``password_file``, else ``$REELWATCH_STATE_PASSWORD`` (else
    None: libpq looks at ``PGPASSWORD`` and ``~/.pgpass`` itself)."""
    if password_file:
        try:
            with open(password_file, encoding="utf-8") as fh:
                return fh.read().strip() or None
        except OSError as exc:
            raise StateRefused(f"the state database password file {password_file} cannot be read: "
                               f"{exc.strerror or exc}") from None
    return os.environ.get("REELWATCH_STATE_PASSWORD") or None


def open_pg(url: str, password: str | None = None, *, readonly: bool = False) -> tuple[PgConnection, bytes]:
    """Connect, create or migrate the schema (one node at a time), and return the connection and
    the salt of target ids (shared by the fleet, so that every node names a target alike)."""
    problem = url_problem(url)
    if problem:
        raise StateRefused(problem)
    db = PgConnection(url, password)
    try:
        db.begin(exclusive=False)
        db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_LOCK,))
        found = None
        if db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            found = int(row[0]) if row else None
        if found is not None and found > SCHEMA_VERSION:
            raise StateTooNew(db.url, found)
        if not readonly or found is None:  # (a reader of a database no node has used yet creates it)
            from .locations import SCHEMA as LOCATIONS
            fresh = found is None
            if found is None:
                for stmt in statements(BASE + LOCATIONS):
                    db.execute(stmt)
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(BASE_VERSION),))
                found = BASE_VERSION
            db.refresh_catalog()
            db.execute("INSERT OR IGNORE INTO meta VALUES ('target_salt', ?)", (os.urandom(16).hex(),))
            if found < SCHEMA_VERSION and (fresh or not readonly):
                upgrade(_Refreshing(db), found)
        row = db.execute("SELECT value FROM meta WHERE key='target_salt'").fetchone()
        db.end("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.end("ROLLBACK")
        db.close()
        raise
    db.refresh_catalog()
    return db, bytes.fromhex(row[0]) if row else b""


class _Refreshing:
    """A migration's view of the connection: the table catalog follows each DDL statement."""

    def __init__(self, db: PgConnection) -> None:
        self.db = db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        out = self.db.execute(sql, args)
        if sql.lstrip()[:6].upper() in ("CREATE", "ALTER "):
            self.db.refresh_catalog()
        return out

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Result:
        return self.db.executemany(sql, seq)
