"""``reelwatch state migrate --to postgresql://...`` moves a node's SQLite state into a real
PostgreSQL server and loses nothing: every row of every table, ids, the order of a finding's
copies, and the outbox's record of who got what (a message sent before is not sent again)."""

from __future__ import annotations

import json
import sqlite3

from reelwatch.core.config import build_config
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.notify.outbox import Outbox
from reelwatch.state.store import Store

from conftest import reelwatch, write_config
from pgserver import PASSWORD
from test_migrations import old_database

TARGET = "json://127.0.0.1:9/x"


def everything(store: Store, table: str, columns: list[str]) -> list[tuple]:
    return [tuple(r) for r in store.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(columns)}")]


def test_state_migrate_moves_everything_into_postgresql(tmp_path, pg_url):
    path = old_database(tmp_path / "state.db")  # 0.1.0's findings, acks, outbox, hashes, audit
    src = Store(path)
    raid = Asset("raid", "/raid", "A003/A003C001.mov", 100, 1)
    shuttle = Asset("shuttle", "/shuttle", "A003/A003C001.mov", 100, 2)
    for a in (shuttle, raid):  # one finding, two copies: the shuttle's first
        src.commit_check(a, Facts(kind="media"), [Finding("spec.frame_rate", Severity.ERROR, a, "25 fps",
                                                          owner="dit")], lambda f: [("dit", "new")], batch=9)
    # (not the text index SQLite keeps over findings, FTS5 and its shadow tables: PostgreSQL has pg_trgm's)
    tables = [r[0] for r in src.query("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                                      "'findings\\_text%' ESCAPE '\\'")]
    columns = {t: [r[1] for r in src.db.execute(f"PRAGMA table_info({t})")] for t in tables}
    before = {t: everything(src, t, columns[t]) for t in tables}
    src.close()
    file_before = path.read_bytes()

    config = write_config(tmp_path)
    done = reelwatch("state", "migrate", "--config", str(config), "--to", pg_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "findings 4" in done.stdout and "outbox 4" in done.stdout, done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    assert path.read_bytes() == file_before  # only read

    dst = Store(pg_url, password=PASSWORD)
    try:
        for t in tables:
            got = everything(dst, t, columns[t])
            if t == "meta":
                drop = {"schema", "daemon"}
                assert [r for r in got if r[0] not in drop] == [r for r in before[t] if r[0] not in drop]
            else:
                assert got == before[t], t
        fid = dst.query("SELECT id FROM findings WHERE rule='spec.frame_rate' AND status='open'")[0][0]
        assert [p["volume"] for p in dst.findings(path="A003/A003C001.mov")[0].data["locations"]] == ["shuttle", "raid"]
        assert [r[0] for r in dst.query("SELECT volume FROM finding_locations WHERE finding_id=? ORDER BY rowid",
                                        (fid,))] == ["shuttle", "raid"]
        # new rows continue after the moved ids
        a = Asset("raid", "/raid", "A004/A004C001.mov", 0, 1)
        [new] = dst.commit_check(a, Facts(kind="empty"), [Finding("sanity.empty", Severity.ERROR, a, "empty",
                                                                  owner="dit")], lambda f: [], batch=10)
        assert new == 1 + max(r[0] for r in before["findings"])
        # the targets that got a message before still count as having it: only the pending one goes
        sent = []
        cfg = build_config({"roles": {"dit": {"notify": [TARGET]}, "editorial": {"notify": []},
                                      "vfx": {"notify": []}}, "notify": {"digest_window": 3600}})
        outbox = Outbox(dst, cfg, lambda m, t: sent.append(m.subject) or True)
        outbox.deliver()
        outbox.deliver()
        assert sent == ["pending"]
    finally:
        dst.close()

    # a second migrate into a database that holds a state is refused, and changes nothing
    done = reelwatch("state", "migrate", "--config", str(config), "--to", pg_url)
    assert done.returncode == 1 and "already holds a state" in done.stderr, done.stderr
    # a password in the URL is refused before anything is done
    done = reelwatch("state", "migrate", "--config", str(config), "--to", pg_url.replace("rw@", f"rw:{PASSWORD}@"))
    assert done.returncode == 2 and "holds a password" in done.stderr and PASSWORD not in done.stderr
    assert json.loads(sqlite3.connect(path).execute("SELECT delivered FROM outbox WHERE id=1").fetchone()[0])
