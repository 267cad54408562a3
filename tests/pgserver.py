"""A real PostgreSQL 15 server for the tests: started once per test session (per xdist worker)
in a temporary data directory, as the ``postgres`` user (the server refuses to run as root), on a
free port of 127.0.0.1 with password authentication. Each test gets a database of its own.

Skips with the reason when the server binaries (Debian's ``postgresql`` package, installed by
``.ci/run``), the ``postgres`` user or psycopg are missing.

``REELWATCH_TEST_STATE=postgresql`` also runs the daemon tests written with ``write_config``
against it (their ``[state]`` points at a fresh database); without it they use SQLite.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(os.environ.get("REELWATCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "rw"
PASSWORD = "s3cretPgPassw0rd"
_names = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing() -> str | None:
    """Why no server can be started here (None: it can)."""
    if not (BIN / "initdb").exists():
        return f"PostgreSQL server binaries not found in {BIN} (apt-get install postgresql; .ci/run does)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no 'postgres' user to run the server as (it refuses to run as root)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser(1) is needed to start the server as the postgres user"
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "psycopg and psycopg-pool are not installed (pip install '.[postgresql]')"
    return None


class PgServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="reelwatch-pg-"))
        self.port = _free_port()
        self.data = self.dir / "data"
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
                          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        pwfile.unlink()
        self.start()

    def _as_postgres(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        argv = ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {done.stdout}{done.stderr}")
        return done

    def start(self) -> None:
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                          "-c max_connections=200", "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL (the password is :data:`PASSWORD`)."""
        import psycopg
        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), password=PASSWORD, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already stopped by a test
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    why = missing()
    if why:
        pytest.skip(why)
    server = PgServer()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the session's server; the password is in $REELWATCH_STATE_PASSWORD."""
    monkeypatch.setenv("REELWATCH_STATE_PASSWORD", PASSWORD)
    return pg_server.new_database()


@pytest.fixture
def own_pg_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[PgServer]:
    """A server of the test's own, for tests that stop and start it."""
    why = missing()
    if why:
        pytest.skip(why)
    monkeypatch.setenv("REELWATCH_STATE_PASSWORD", PASSWORD)
    server = PgServer()
    yield server
    server.close()


def state_backend() -> str:
    return os.environ.get("REELWATCH_TEST_STATE", "sqlite")


_shared: list[PgServer] = []


_urls: dict[str, str] = {}
"""SQLite path a test's config names -> the PostgreSQL database used instead (REELWATCH_TEST_STATE)."""


def test_state_url(path: object = None) -> str | None:
    """With REELWATCH_TEST_STATE=postgresql: a fresh database on this process's server (started
    on first use, stopped at exit), for ``write_config``'s ``[state] url``; else None. ``path``:
    the config's SQLite path, which :func:`open_state_db` and ``Store(path)`` then map to it."""
    if state_backend() != "postgresql":
        return None
    if path is not None and str(path) in _urls:
        return _urls[str(path)]
    why = missing()
    if why:
        raise RuntimeError(f"REELWATCH_TEST_STATE=postgresql, but {why}")
    if not _shared:
        import atexit
        _shared.append(PgServer())
        atexit.register(_shared[0].close)
    os.environ["REELWATCH_STATE_PASSWORD"] = PASSWORD  # the daemons started by the tests inherit it
    url = _shared[0].new_database()
    if path is not None:
        _urls[str(path)] = url
    return url


class _StateDb:
    """What the tests use of ``sqlite3.connect(state.db)``, on the database that replaced it."""

    def __init__(self, url: str) -> None:
        from reelwatch.state.store import Store
        self._store = Store(url, password=PASSWORD)

    def execute(self, sql: str, args: object = ()) -> object:
        return self._store.db.execute(sql, args)

    def commit(self) -> None:
        pass  # each statement outside a transaction commits by itself

    def close(self) -> None:
        self._store.close()


def open_state_db(path: object) -> object:
    """``sqlite3.connect(path)``, or with REELWATCH_TEST_STATE=postgresql the database the
    daemon of that config writes to: tests read the daemon's state through it."""
    import sqlite3
    url = _urls.get(str(path))
    return _StateDb(url) if url else sqlite3.connect(path)


@pytest.fixture(autouse=True)
def _store_paths_to_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    """With REELWATCH_TEST_STATE=postgresql, ``Store(path)`` of a config's state path opens the
    database that config's daemon uses."""
    if state_backend() != "postgresql":
        return
    from reelwatch.state.store import Store
    original = Store.__init__

    def init(self, path=":memory:", **kw):  # type: ignore[no-untyped-def]
        url = _urls.get(str(path))
        if url:
            kw.setdefault("password", PASSWORD)
            kw.pop("readonly", None)
        original(self, url or path, **kw)
    monkeypatch.setattr(Store, "__init__", init)


test_state_url.__test__ = False  # type: ignore[attr-defined]  (not a test)
