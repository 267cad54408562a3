"""The state database under stress: a full disk and a corrupt file.

A full disk is made for real: a small tmpfs mounted under tmp_path (needs root and
CAP_SYS_ADMIN; the test says so and skips elsewhere), filled with a ballast file until the
kernel answers ENOSPC. The Store-level test reaches a real SQLITE_FULL everywhere with
SQLite's own ``max_page_count`` limit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelwatch.state.store import Store

from conftest import reelwatch, sqlite_only, wait_until, write_config



@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs: a real file system that really fills up."""
    mnt = tmp_path / "statefs"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8); the store-level test below still "
                    "reaches a real SQLITE_FULL")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a ballast file until the file system is full, to the last byte; returns it."""
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return ballast


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str) -> str:
    return urllib.request.urlopen(url, timeout=5).read().decode()


@sqlite_only("its file on a full disk: a tmpfs of 1 MB")
def test_state_disk_full_degrades_loudly_holds_work_and_resumes(tmp_path, small_fs, inbox, daemon):
    port = free_port()
    config = write_config(tmp_path, inbox, settle=0.2, extra=f'[service]\nmetrics = "127.0.0.1:{port}"\n')
    config.write_text(config.read_text().replace(f'path = "{tmp_path / "state.db"}"',
                                                 f'path = "{small_fs / "state.db"}"'))
    d = daemon(config)
    d.wait_ready()
    metrics = f"http://127.0.0.1:{port}/metrics"
    (tmp_path / "ingest" / "before.mov").write_bytes(b"")
    assert inbox.wait_for(1, 15, role="dit")
    ballast = fill(small_fs)
    for i in range(5):
        (tmp_path / "ingest" / f"during_{i}.mov").write_bytes(b"")
    # loud: the admin hears through a working channel, status and metrics say so
    told = inbox.wait_for(1, 20, role="admin")
    assert told and "state disk full" in told[0].body["title"].lower(), d.output()[-3000:]
    assert str(small_fs) in told[0].body["message"]
    assert wait_until(lambda: 'reelwatch_degraded{reason="state_disk_full"} 1.0' in scrape(metrics), 10)
    status = reelwatch("status", "--config", str(config), "--format", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["daemon"]["health"] == "degraded: state disk full", status.stdout
    table = reelwatch("status", "--config", str(config))
    assert "degraded: state disk full" in table.stdout
    time.sleep(2)  # while full, nothing is half-recorded and nothing is sent twice
    assert not [m for m in inbox.received if m.role == "dit" and "during_" in m.body["message"]]
    assert d.proc.poll() is None
    # space returns: the held files are checked and their owners told, with nothing lost
    ballast.unlink()
    assert wait_until(lambda: any("during_" in m.body["message"] for m in inbox.received if m.role == "dit"),
                      30), d.output()[-3000:]
    assert wait_until(lambda: 'reelwatch_degraded{reason="state_disk_full"} 0.0' in scrape(metrics), 10)
    back = inbox.wait_for(2, 10, role="admin")
    assert len(back) == 2 and "resumed" in back[1].body["title"].lower()
    status = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    assert status["daemon"]["health"] == "ok"
    # the control thread survived: a new file is still picked up live
    (tmp_path / "ingest" / "after.mov").write_bytes(b"")
    assert wait_until(lambda: any("after.mov" in m.body["message"] for m in inbox.received if m.role == "dit"), 15)
    assert d.stop() == 0
    out = d.output()
    assert "control_loop_failed" not in out and "Traceback" not in out
    db = sqlite3.connect(small_fs / "state.db")
    checked = {r[0] for r in db.execute("SELECT relpath FROM assets WHERE checked_at IS NOT NULL")}
    assert {f"during_{i}.mov" for i in range(5)} | {"before.mov", "after.mov"} <= checked
    found = {r[0] for r in db.execute("SELECT relpath FROM findings")}
    assert {f"during_{i}.mov" for i in range(5)} <= found
    assert db.execute("SELECT COUNT(*) FROM notices WHERE message_id IS NULL").fetchone()[0] == 0
    assert {r[0] for r in db.execute("SELECT state FROM outbox")} == {"sent"}
    repeats = [m.headers.get("Idempotency-Key") for m in inbox.received]
    assert len(repeats) == len(set(repeats)), "a message was sent twice"


@sqlite_only("SQLite's own page limit, PRAGMA max_page_count")
def test_a_full_database_is_reported_as_such_by_the_store(tmp_path):
    """SQLITE_FULL for real, without a mount: SQLite's own page limit."""
    store = Store(tmp_path / "state.db")
    seen: list[tuple[str, BaseException]] = []
    store.on_fault = lambda kind, exc: seen.append((kind, exc))
    pages = store.query("PRAGMA page_count")[0][0]
    store.db.execute(f"PRAGMA max_page_count={pages + 2}")
    with pytest.raises(sqlite3.OperationalError):
        for _i in range(1000):
            store.audit("filler", detail="x" * 4000)
    assert seen and seen[0][0] == "full" and "full" in str(seen[0][1])
    # the connection is still usable: the failed transaction was rolled back, not left open
    assert not store.db.in_transaction
    store.db.execute(f"PRAGMA max_page_count={pages + 1000}")
    store.audit("after")
    assert store.query("SELECT COUNT(*) FROM audit WHERE event='after'")[0][0] == 1
    store.close()


# -- a damaged state database ------------------------------------------------------------------

def corrupt_table(db_path: Path, table: str) -> None:
    """Overwrite the root page of one table with garbage: SQLITE_CORRUPT when it is touched."""
    with sqlite3.connect(db_path) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    with open(db_path, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(os.urandom(page))


def assert_clear(out: subprocess.CompletedProcess[str], path: Path) -> None:
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    assert "Traceback" not in text and "sqlite3." not in text, text
    assert str(path) in text and "damaged" in text
    assert "reelwatch state check" in text and "reelwatch state recover" in text


@sqlite_only("a state file overwritten with text")
def test_a_state_file_that_is_not_a_database_gets_a_clear_message(tmp_path, inbox):
    config = write_config(tmp_path, inbox)
    state = tmp_path / "state.db"
    state.write_bytes(b"this is not a database, it was overwritten " * 200)
    for args in (("status",), ("findings",)):
        assert_clear(reelwatch(*args, "--config", str(config)), state)
    run = reelwatch("run", "--config", str(config), timeout=60)
    assert_clear(run, state)
    assert "not an SQLite database" in run.stderr
    told = inbox.wait_for(1, 10, role="admin")  # the admin hears it, though nothing could start
    assert told and "state database damaged" in told[0].body["title"], run.stderr
    check = reelwatch("state", "check", "--config", str(config))
    assert check.returncode == 1 and "damaged" in check.stdout and "state recover" in check.stdout


@sqlite_only("damaged pages in the file, then `reelwatch state recover`")
def test_damaged_pages_clear_message_then_recovery_without_repeating_messages(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2)
    state = tmp_path / "state.db"
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "sent_before.mov").write_bytes(b"")
    assert wait_until(lambda: any("sent_before.mov" in m.body["message"] for m in inbox.received
                                  if m.role == "dit"), 15)
    assert d.stop() == 0
    corrupt_table(state, "audit")
    run = reelwatch("run", "--config", str(config), timeout=60)
    assert_clear(run, state)
    check = reelwatch("state", "check", "--config", str(config))
    assert check.returncode == 1 and "damaged" in check.stdout, check.stdout + check.stderr
    recover = reelwatch("state", "recover", "--config", str(config))
    assert recover.returncode == 0, recover.stdout + recover.stderr
    kept = list(tmp_path.glob("state.db.broken-*"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0, "the damaged file must be kept"
    assert "findings 1" in recover.stdout and "not sent again" in recover.stdout
    before = len([m for m in inbox.received if m.role == "dit"])
    d2 = daemon(config)
    d2.wait_ready()
    refused = reelwatch("state", "recover", "--config", str(config), "--force")
    assert refused.returncode == 2 and "stop it first" in refused.stderr
    assert len(list(tmp_path.glob("state.db.broken-*"))) == 1
    (tmp_path / "ingest" / "after_recovery.mov").write_bytes(b"")
    assert wait_until(lambda: any("after_recovery.mov" in m.body["message"] for m in inbox.received
                                  if m.role == "dit"), 15), d2.output()
    time.sleep(1.5)
    assert d2.stop() == 0
    dit = [m for m in inbox.received if m.role == "dit"]
    assert len(dit) == before + 1, [m.body["message"][:80] for m in dit]
    assert not any("sent_before.mov" in m.body["message"] for m in dit[before:]), "re-notified after recovery"
