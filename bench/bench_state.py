"""The state's write path on PostgreSQL against SQLite, same run: commit_check of N files (one
transaction each, a finding on every tenth), and claiming + marking N messages sent.

Starts a throw-away PostgreSQL 15 the way the tests do (tests/pgserver.py: the server binaries
from Debian's postgresql package, run as the postgres user, on 127.0.0.1 with a password).

    python bench/bench_state.py 2000
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pgserver import PASSWORD, PgServer, missing  # noqa: E402

from reelwatch.core.model import Asset, Facts, Finding, Severity  # noqa: E402
from reelwatch.state import fleet  # noqa: E402
from reelwatch.state.store import Store  # noqa: E402


def run(store: Store, n: int) -> tuple[float, float]:
    route = lambda f: [("dit", "new")]  # noqa: E731
    began = time.perf_counter()
    for i in range(n):
        a = Asset("raid", "/raid", f"A001/A001C{i:05d}.mov", 1000 + i, i)
        found = [Finding("sanity.empty", Severity.ERROR, a, "empty", owner="dit")] if i % 10 == 0 else []
        store.commit_check(a, Facts(kind="media"), found, route, batch=1)
    checks = time.perf_counter() - began
    with store.tx() as db:
        db.executemany("INSERT INTO outbox (role, payload, created, next_at) VALUES (?,?,?,?)",
                       [("dit", "{}", 1.0, 1.0)] * n)
    ids = [r[0] for r in store.query("SELECT id FROM outbox ORDER BY id")]
    began = time.perf_counter()
    for i in ids:
        row = fleet.claim_message(store, i, "bench", 60, 2.0)
        assert row is not None
        with store.tx() as db:
            db.execute("UPDATE outbox SET state='sent', claimed_by=NULL, lease_until=NULL WHERE id=?", (i,))
    return checks, time.perf_counter() - began


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    why = missing()
    if why:
        sys.exit(f"cannot start PostgreSQL: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Store(Path(tmp) / "state.db")
        s_checks, s_msgs = run(sqlite, n)
        sqlite.close()
    server = PgServer()
    try:
        pg = Store(server.new_database(), password=PASSWORD)
        p_checks, p_msgs = run(pg, n)
        pg.close()
    finally:
        server.close()
    print(f"{n} files, commit_check each: SQLite {s_checks:.2f} s ({n / s_checks:.0f}/s), "
          f"PostgreSQL {p_checks:.2f} s ({n / p_checks:.0f}/s): {p_checks / s_checks:.2f}x")
    print(f"{n} messages claimed and marked sent: SQLite {s_msgs:.2f} s, PostgreSQL {p_msgs:.2f} s: "
          f"{p_msgs / s_msgs:.2f}x")


if __name__ == "__main__":
    main()
