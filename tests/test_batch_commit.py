"""Many checks in one transaction keep the one-check guarantee: after kill -9 in the middle of a
batch commit, none of its checks, findings or notices are recorded, and committing the batch
again notices each finding exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.state.store import Store

from conftest import state_arg, state_rows

CHILD = textwrap.dedent("""
    import os, sys, time
    from reelwatch.core.model import Asset, Facts, Finding, Severity
    from reelwatch.state.store import Store
    db, flag = sys.argv[1], sys.argv[2]
    store = Store(db, password=os.environ.get("REELWATCH_STATE_PASSWORD"))
    checks = []
    for n in range(20):
        a = Asset("ingest", "/r", f"A{n:03d}.mov", 100 + n, 5)
        checks.append((a, Facts(kind="empty"), [Finding("sanity.empty", Severity.ERROR, a, "empty", owner="dit")]))
    calls = 0
    def route(f):
        global calls
        calls += 1
        if calls == 15:  # in the middle of the transaction: say so, then wait to be killed
            open(flag, "w").close()
            time.sleep(60)
        return [("dit", "new")]
    store.commit_checks(checks, route, batch=1)
""")


def _count(db: Path, sql: str) -> int:
    [(count,)] = state_rows(db, sql)
    return count


def test_kill_9_during_a_batch_commit_records_nothing_and_a_retry_notices_once(tmp_path):
    db, flag = tmp_path / "state.db", tmp_path / "in-transaction"
    Store(db).close()
    child = subprocess.Popen([sys.executable, "-c", CHILD, state_arg(db), str(flag)])
    deadline = time.monotonic() + 30
    while not flag.exists():
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert _count(db, "SELECT COUNT(*) FROM assets WHERE checked_at IS NOT NULL") == 0
    assert _count(db, "SELECT COUNT(*) FROM findings") == 0
    assert _count(db, "SELECT COUNT(*) FROM notices") == 0
    store = Store(db)
    checks = []
    for n in range(20):
        a = Asset("ingest", "/r", f"A{n:03d}.mov", 100 + n, 5)
        checks.append((a, Facts(kind="empty"), [Finding("sanity.empty", Severity.ERROR, a, "empty", owner="dit")]))
    store.commit_checks(checks, lambda f: [("dit", "new")], batch=2)
    store.commit_checks(checks, lambda f: [("dit", "new")], batch=3)  # the same versions again: no new notice
    store.close()
    assert _count(db, "SELECT COUNT(*) FROM assets WHERE checked_at IS NOT NULL") == 20
    assert _count(db, "SELECT COUNT(*) FROM notices") == 20
    assert _count(db, "SELECT COUNT(*) FROM findings WHERE status='open'") == 20
