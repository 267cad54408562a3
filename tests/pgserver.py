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
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

def _newest_bin() -> str:
    """Debian's server binaries of the newest major version installed (15 on bookworm)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
                   if p.parts[-3].isdigit() else 0)
    return str(found[-1].parent) if found else "/usr/lib/postgresql/15/bin"


BIN = Path(os.environ.get("REELWATCH_PG_BIN") or _newest_bin())
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


def _prefix(mark: str) -> str:
    """How the directories of the servers of the pytest run marked ``mark`` (conftest's
    ``REELWATCH_TEST_RUN``) begin: the sweep at the end of that run finds them, and only them, by it."""
    return f"reelwatch-pg-{mark}-" if mark else "reelwatch-pg-"


def _postmaster(data: Path) -> int | None:
    """The pid of the server running on ``data``, if one is."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        with open(f"/proc/{pid}/cmdline", "rb") as fh:  # (a stale pid file: that pid may be another process now)
            return pid if os.fsencode(str(data)) in fh.read().split(b"\0") else None
    except (OSError, ValueError):
        return None


def stop_servers_of_run(mark: str, timeout: float = 5) -> list[Path]:
    """Stop the servers the pytest run marked ``mark`` left running (a worker that died, a
    fixture whose teardown never ran) and remove their directories; returns the directories of
    those that were running. ``pg_ctl`` starts a server in a session of its own, so a process
    group does not reach it: its directory names it."""
    if not mark:
        return []
    dirs = sorted(Path(tempfile.gettempdir()).glob(_prefix(mark) + "*"))
    running = {pid: d for d in dirs if (pid := _postmaster(d / "data")) is not None}
    for pid in running:  # SIGQUIT: immediate shutdown, the server stops its backends and frees its memory
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + timeout
    while running and time.monotonic() < deadline and any(_postmaster(d / "data") == pid
                                                          for pid, d in running.items()):
        time.sleep(0.05)
    for pid, d in running.items():
        if _postmaster(d / "data") == pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    return list(running.values())


class PgServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=_prefix(os.environ.get("REELWATCH_TEST_RUN", ""))))
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


class StateDb:
    """A connection to the state database a test's config names, on the backend the suite runs:
    ``execute`` (SQLite's SQL, rewritten for PostgreSQL as the store's is), ``commit``, ``close``,
    and ``with`` (commits, then closes). Errors are ``sqlite3`` errors on both backends
    (``sqlite3.OperationalError`` while the daemon has not created its tables yet)."""

    def __init__(self, path: object, *, readonly: bool = False, timeout: float = 10) -> None:
        import sqlite3
        self.url = _urls.get(str(path))
        self._db: Any
        if self.url:
            from reelwatch.state.pg import PgConnection
            self._db = PgConnection(self.url, PASSWORD, size=1)
        elif readonly:  # never creates the file: a daemon that has not started yet leaves none
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
        else:
            self._db = sqlite3.connect(path, timeout=timeout)  # type: ignore[arg-type]

    def execute(self, sql: str, args: Sequence[object] = ()) -> Any:
        return self._db.execute(sql, args)

    def commit(self) -> None:
        if not self.url:  # (PostgreSQL: each statement outside a transaction commits by itself)
            self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateDb:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        try:
            if kind is None:
                self.commit()
        finally:
            self.close()


def open_state_db(path: object, *, readonly: bool = False, timeout: float = 10) -> StateDb:
    """The state database of the config whose ``[state] path`` is ``path`` (what the daemon of
    that config writes to), on either backend: tests look into the state through this, never
    with ``sqlite3.connect``. ``readonly``: SQLite's file is never created by looking."""
    return StateDb(path, readonly=readonly, timeout=timeout)


def state_rows(path: object, sql: str, args: Sequence[object] = ()) -> list[Any]:
    """The rows of one query on the state database of ``path`` ([] while it holds no tables yet:
    the daemon has not started)."""
    import sqlite3
    try:
        with open_state_db(path, readonly=True) as db:
            return list(db.execute(sql, args).fetchall())
    except sqlite3.OperationalError:
        return []


def state_has_table(path: object, table: str) -> bool:
    """Whether the state database of ``path`` holds ``table`` yet."""
    with open_state_db(path) as db:
        if db.url:
            return bool(db.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                                   "AND table_name = ?", (table,)).fetchone())
        return bool(db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone())


def state_exists(path: object) -> bool:
    """Whether the state database of ``path`` exists (PostgreSQL: created with the config)."""
    return str(path) in _urls or Path(str(path)).exists()


def state_bytes(path: object) -> bytes:
    """Everything the state database of ``path`` holds, as bytes to search (a secret must not be
    there): SQLite's files (the WAL too), or every row of every table in PostgreSQL."""
    url = _urls.get(str(path))
    if not url:
        return b"".join(p.read_bytes() for p in Path(str(path)).parent.glob(Path(str(path)).name + "*")
                        if p.is_file())
    import psycopg
    out: list[bytes] = []
    with psycopg.connect(url, password=PASSWORD, autocommit=True) as conn:
        tables = [t for (t,) in conn.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = current_schema()")]
        for table in tables:
            out.append(table.encode())
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                out.append(repr(row).encode("utf-8", "surrogateescape"))
    return b"\n".join(out)


def sqlite_only(why: str) -> pytest.MarkDecorator:
    """Skips a test about the SQLite file itself when the suite runs on PostgreSQL, saying why."""
    return pytest.mark.skipif(state_backend() == "postgresql",
                              reason=f"about the SQLite state file ({why}); REELWATCH_TEST_STATE=postgresql")


def sqlite_case(why: str) -> pytest.MarkDecorator:
    """Skips the SQLite case of a test about the backends themselves when the suite runs on
    PostgreSQL: the SQLite pass runs it (mapping its store to PostgreSQL would test nothing)."""
    return pytest.mark.skipif(state_backend() == "postgresql",
                              reason=f"the SQLite case ({why}): the SQLite pass runs it; REELWATCH_TEST_STATE=postgresql")


@pytest.fixture(autouse=True)
def _store_paths_to_postgresql(monkeypatch: pytest.MonkeyPatch, no_leaked_threads: None) -> Iterator[None]:
    """With REELWATCH_TEST_STATE=postgresql, ``Store(path)`` in the tests' own process opens a
    PostgreSQL database instead of an SQLite file: the one of the config naming that path (what
    its daemon uses), or a fresh one the first time a path is named. So every test that makes a
    store of a path runs on PostgreSQL too, with no change. Left on SQLite: ``:memory:`` (what
    ``reelwatch check`` uses), and a file the test made itself before (an SQLite fixture, such as a
    0.1.0 database to migrate).

    The stores a test leaves open are closed after it (before ``no_leaked_threads`` looks: each
    holds the pool's threads), as an SQLite file needs no closing."""
    if state_backend() != "postgresql":
        yield
        return
    from reelwatch.state.store import Store
    original = Store.__init__
    opened: list[Store] = []

    def init(self, path=":memory:", **kw):  # type: ignore[no-untyped-def]
        where = str(path)
        url = _urls.get(where)
        if url is None and where != ":memory:" and "://" not in where and not Path(where).exists():
            url = test_state_url(path)
        if url:
            kw.setdefault("password", PASSWORD)
            kw.pop("readonly", None)
        original(self, url or path, **kw)
        if self.backend == "postgresql":
            opened.append(self)
    monkeypatch.setattr(Store, "__init__", init)
    yield
    for store in opened:
        with contextlib.suppress(Exception):  # (closed by the test already)
            store.close()


def state_arg(path: object) -> str:
    """What a child process (not the daemon: it reads its config) passes to ``Store`` for the
    state at ``path``: the path, or with REELWATCH_TEST_STATE=postgresql its database's URL (the
    password is in ``$REELWATCH_STATE_PASSWORD``, inherited)."""
    return test_state_url(path) or str(path)


test_state_url.__test__ = False  # type: ignore[attr-defined]  (not a test)
