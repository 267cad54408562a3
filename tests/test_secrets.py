"""Secrets at rest: the state database, stored config errors, admin messages and
``config validate`` never hold a token or password from a notification URL."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
from pathlib import Path

from reelwatch.core.config import build_config
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.notify.outbox import Outbox
from reelwatch.builtin.notify_apprise import AppriseNotifier
from reelwatch.state.store import SCHEMA, Store

from conftest import reelwatch, sqlite_only, state_rows, write_config
from conftest import state_bytes as state_contents

PASSWORD = "Pa55w0rdQ7xZ"
TOKEN = "T0kenAbCdEf1234567890qrs"
SECRETS = (PASSWORD, TOKEN)


def secret_url(inbox) -> str:
    return f"json://reel:{PASSWORD}@127.0.0.1:{inbox.port}/{TOKEN}/dit"


def state_bytes(folder: Path) -> bytes:
    """Everything the state database keeps: on disk (the SQLite file, its log and shared memory),
    or every row in PostgreSQL."""
    return state_contents(folder / "state.db")


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        raw = text if isinstance(text, bytes) else text.encode()
        for secret in SECRETS:
            assert secret.encode() not in raw, f"{secret} found in {raw[:300]!r}"


def test_the_outbox_records_target_ids_never_urls(tmp_path, inbox):
    url = secret_url(inbox)
    config = build_config({"roles": {"dit": {"notify": [url]}}, "notify": {"digest_window": 0},
                           "volumes": [{"name": "ingest", "path": str(tmp_path), "owner": "dit"}]})
    store = Store(tmp_path / "state.db")
    notifier = AppriseNotifier()
    outbox = Outbox(store, config, lambda m, t: notifier.notify(m, t, config))
    from reelwatch.checking.routing import RoleRouter
    from reelwatch.core.manager import PluginManager
    pm = PluginManager()
    pm.load(shipped=False, entry_points=False)
    asset = Asset("ingest", str(tmp_path), "A002C006.mov", 0, 1)
    finding = Finding("sanity.empty", Severity.ERROR, asset, "the file is empty (0 bytes)", owner="dit")
    store.commit_check(asset, Facts(kind="empty"), [finding], RoleRouter(pm, config), batch=1)
    outbox.tick()
    assert inbox.wait_for(1, 5, role="dit")
    [row] = store.query("SELECT state, delivered FROM outbox")
    assert row["state"] == "sent"
    delivered = json.loads(row["delivered"])
    assert len(delivered) == 1 and re.fullmatch(r"t-[0-9a-f]{16}", delivered[0]), delivered
    store.close()
    assert_no_secret(state_bytes(tmp_path))


@sqlite_only("a database file as version 1 left it")
def test_version_1_rows_are_migrated_and_not_sent_again(tmp_path, inbox):
    url = secret_url(inbox)
    db = sqlite3.connect(tmp_path / "state.db")  # a database as version 1 left it
    db.executescript(SCHEMA.replace(",\n    sending TEXT", ""))
    db.execute("INSERT INTO meta VALUES ('schema', '1')")
    payload = json.dumps({"role": "dit", "production": "P", "notices": [], "kind": "admin", "subject": "s",
                          "text": "t", "attachments": [], "id": 0})
    db.execute("INSERT INTO outbox (role, payload, created, state, next_at, delivered) "
               "VALUES ('dit', ?, 1.0, 'pending', 0, ?)", (payload, json.dumps([url])))
    db.execute("INSERT INTO audit (ts, event, detail) VALUES (1.0, 'reload_rejected', ?)",
               (json.dumps({"problems": [f"roles.dit.notify: Input should be a valid tuple (found '{url}')"]}),))
    db.commit()
    db.close()
    store = Store(tmp_path / "state.db")
    [row] = store.query("SELECT delivered, sending FROM outbox")
    assert json.loads(row["delivered"]) == [store.target_id(url)] and row["sending"] is None
    config = build_config({"roles": {"dit": {"notify": [url]}}})
    Outbox(store, config, lambda m, t: AppriseNotifier().notify(m, t, config)).tick()
    assert store.query("SELECT state FROM outbox")[0][0] == "sent"
    assert inbox.wait_for(1, 1) == [], "the target that already had it was sent it again"
    store.close()
    assert_no_secret(state_bytes(tmp_path))


def bad_config(tmp_path: Path, inbox) -> str:
    """A config whose mistakes quote a secret: a URL where a list belongs, and as a role name."""
    url = secret_url(inbox)
    return (f'[production]\nname = "P"\n[roles.dit]\nnotify = "{url}"\n'
            f'[roles.admin]\nnotify = ["{inbox.url("admin")}"]\nescalate_to = "{url}"\n'
            f'[[volumes]]\nname = "ingest"\npath = "{tmp_path / "ingest"}"\nowner = "dit"\n'
            f'[state]\npath = "{tmp_path / "state.db"}"\n')


def test_config_validate_never_prints_a_secret(tmp_path, inbox):
    (tmp_path / "ingest").mkdir()
    config = tmp_path / "production.toml"
    config.write_text(bad_config(tmp_path, inbox))
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 2
    assert "roles.dit.notify" in out.stderr, out.stderr  # still says where and what
    assert_no_secret(out.stdout, out.stderr)


def test_a_rejected_reload_stores_and_sends_no_secret(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2)
    d = daemon(config)
    d.wait_ready()
    good = config.read_text()
    config.write_text(bad_config(tmp_path, inbox))
    d.proc.send_signal(signal.SIGHUP)
    told = inbox.wait_for(1, 15, role="admin")
    assert told and "reload rejected" in told[0].body["title"], d.output()
    assert "roles.dit.notify" in told[0].body["message"]
    time.sleep(0.5)
    config.write_text(good)
    assert d.stop() == 0
    rows = state_rows(tmp_path / "state.db", "SELECT detail FROM audit WHERE event='reload_rejected'")
    assert rows and "roles.dit.notify" in rows[0][0]
    assert_no_secret(json.dumps(told[0].body), d.output(), state_bytes(tmp_path))
