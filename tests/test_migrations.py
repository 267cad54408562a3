"""Schema versions: a state database written by reelwatch 0.1.0 opens in this release with its
findings, acks and outbox, and a database written by a newer release is refused untouched.

tests/data/state/state-0.1.0.sql is the dump of a database that reelwatch 0.1.0's own Store
wrote (tests/data/state/make_state_0_1_0.py, run at the 0.1.0 commit): three findings (one
acked), notices, three messages sent and one pending, a cached hash and the audit trail.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from reelwatch.core.config import build_config
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.notify.outbox import Outbox
from reelwatch.state.schema import BASE_VERSION, MIGRATIONS, SCHEMA_VERSION, StateTooNew
from reelwatch.state.store import Store

from conftest import reelwatch, sqlite_only, write_config

DUMP = Path(__file__).parent / "data" / "state" / "state-0.1.0.sql"
TABLES = ("findings", "notices", "outbox", "audit", "hashes", "assets", "asset_fields", "finding_locations", "meta")


def old_database(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(DUMP.read_text())
    db.close()
    return path


def rows(path: Path, table: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        return [tuple(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")], cols  # type: ignore[return-value]
    finally:
        db.close()


def test_the_versions_form_one_chain():
    assert [m.version for m in MIGRATIONS] == list(range(BASE_VERSION + 1, SCHEMA_VERSION + 1))


@sqlite_only("a database file as 0.1.0 left it")
def test_a_0_1_0_database_opens_and_keeps_its_findings_acks_and_outbox(tmp_path):
    path = old_database(tmp_path / "state.db")
    before = {t: rows(path, t) for t in TABLES}
    assert ("schema", "2") in before["meta"][0]

    store = Store(path)
    assert store.query("SELECT value FROM meta WHERE key='schema'")[0][0] == str(SCHEMA_VERSION)
    # every row is still there, every old column holds what it held
    for table in TABLES:
        old_rows, old_cols = before[table]
        now = store.query(f"SELECT {', '.join(old_cols)} FROM {table} ORDER BY 1, 2")
        now_rows = [tuple(r) for r in now]
        if table == "meta":
            old_rows = [r for r in old_rows if r[0] != "schema"]
            now_rows = [r for r in now_rows if r[0] != "schema"]
        assert now_rows == old_rows, table
    # the new columns and tables exist
    assert store.query("SELECT claimed_by, lease_until FROM outbox WHERE id=1")[0][0] is None
    assert store.query("SELECT COUNT(*) FROM nodes")[0][0] == 0

    acked = store.findings(status=("acked",))
    assert [(f.rule, store.query("SELECT acked_by FROM findings WHERE id=?", (f.id,))[0][0]) for f in acked] == [
        ("spec.frame_rate", "dit@example.org")]
    assert sorted(f.rule for f in store.findings()) == ["naming.template", "sanity.empty"]

    # the file as 0.1.0 left it is kept beside the upgraded one
    kept = Path(f"{path}.schema-2")
    assert kept.exists() and ("schema", "2") in rows(kept, "meta")[0]

    # the pending message goes out once; the three sent ones are not sent again
    sent = []
    config = build_config({"roles": {"dit": {"notify": ["json://127.0.0.1:9/x"]}, "editorial": {"notify": []},
                                     "vfx": {"notify": []}}, "notify": {"digest_window": 0}})
    outbox = Outbox(store, config, lambda m, t: sent.append(m.subject) or True)
    outbox.tick()
    outbox.tick()
    assert sent == ["pending"]
    # a file checked by 0.1.0 is not re-alerted: same finding, no new notice
    notices = store.query("SELECT COUNT(*) FROM notices")[0][0]
    asset = Asset("raid", "/mnt/raid", "A002R2EC/A002C004_250101_R2EC.mov", 0, 6)
    store.commit_check(asset, Facts(kind="empty"), [Finding("sanity.empty", Severity.BLOCKER, asset,
                                                            "the file is empty", owner="dit")],
                       lambda f: [("dit", "new")], batch=store.next_batch())
    assert store.query("SELECT COUNT(*) FROM notices")[0][0] == notices
    assert store.next_batch() == 5  # 0.1.0 had counted three batches
    store.close()

    # opening again changes nothing more
    again = Store(path)
    assert again.query("SELECT value FROM meta WHERE key='schema'")[0][0] == str(SCHEMA_VERSION)
    again.close()


@sqlite_only("the file left byte for byte untouched; on PostgreSQL: test_state_backends.py")
def test_a_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "state.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION + 1),))
    db.execute("CREATE TABLE from_the_future (x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StateTooNew) as err:
            Store(path, readonly=readonly)
        text = str(err.value)
        assert f"schema {SCHEMA_VERSION + 1}" in text and "newer reelwatch" in text and "Nothing was changed" in text
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("state.db.schema-*"))

    # the command line says so in one line, no traceback
    config = write_config(tmp_path)
    done = reelwatch("findings", "--config", str(config))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "newer reelwatch" in done.stderr and "Traceback" not in done.stderr
    done = reelwatch("run", "--config", str(config))
    assert done.returncode != 0 and "newer reelwatch" in done.stderr and "Traceback" not in done.stderr
    assert path.read_bytes() == before


@sqlite_only("a database file as 0.1.0 left it")
def test_an_upgrade_that_fails_leaves_the_old_database_as_it_was(tmp_path, monkeypatch):
    path = old_database(tmp_path / "state.db")
    before = rows(path, "outbox")
    from reelwatch.state import schema

    def broken(db):
        raise RuntimeError("disk pulled")
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS[:-1],
                                               schema.Migration(SCHEMA_VERSION, "x", MIGRATIONS[-1].sql, broken)))
    with pytest.raises(RuntimeError):
        Store(path)
    assert rows(path, "outbox") == before
    assert ("schema", "2") in rows(path, "meta")[0]
    monkeypatch.undo()
    store = Store(path)
    assert store.query("SELECT value FROM meta WHERE key='schema'")[0][0] == str(SCHEMA_VERSION)
    assert json.loads(store.query("SELECT delivered FROM outbox WHERE id=1")[0][0])
    store.close()
