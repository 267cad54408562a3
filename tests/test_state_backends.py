"""One store, two backends: every test here runs on SQLite and on a real PostgreSQL 15 server
(tests/pgserver.py; skipped with the reason when the server is not installed)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable

import pytest

from reelwatch.core.config import ConfigError, build_config
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.notify.outbox import Outbox
from reelwatch.state.pg import StateUnavailable
from reelwatch.state.schema import BASE, BASE_VERSION, SCHEMA_VERSION, StateRefused, StateTooNew
from reelwatch.state.store import Store

from conftest import reelwatch, write_config
from pgserver import PASSWORD, state_backend

ROUTE = lambda f: [(f.owner or "dit", "new"), ("editorial", "affects")]  # noqa: E731


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request, tmp_path) -> Callable[..., Store]:
    """Store(**kw) on the backend of the test's parameter, the same database each call."""
    if request.param == "sqlite" and state_backend() == "postgresql":
        pytest.skip("the SQLite case: the SQLite pass runs it; REELWATCH_TEST_STATE=postgresql")
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        where = url
    else:
        where = str(tmp_path / "state.db")
    opened: list[Store] = []

    def make(**kw) -> Store:
        store = Store(where, password=PASSWORD if request.param == "postgresql" else None, **kw)
        opened.append(store)
        return store
    make.backend = request.param  # type: ignore[attr-defined]
    make.where = where  # type: ignore[attr-defined]
    yield make
    for s in opened:
        with contextlib.suppress(Exception):
            s.close()


def test_reopen_keeps_findings_and_does_not_realert(make_store):
    asset = Asset("v", "/r", "A/x.mov", 10, 5)
    finding = Finding("sanity.empty", Severity.ERROR, asset, "empty", owner="dit", impacts=("editorial",))
    store = make_store()
    assert store.commit_check(asset, Facts(kind="empty"), [finding], ROUTE, batch=store.next_batch())
    store.close()
    store = make_store()
    assert store.is_checked(asset) and not store.is_checked(Asset("v", "/r", "A/x.mov", 11, 5))
    assert store.commit_check(asset, Facts(kind="empty"), [finding], ROUTE, batch=store.next_batch()) == []
    kinds = [(r["role"], r["kind"]) for r in store.query("SELECT role, kind FROM notices ORDER BY id")]
    assert kinds == [("dit", "new"), ("editorial", "affects")]
    fixed = Asset("v", "/r", "A/x.mov", 900, 6)
    store.commit_check(fixed, Facts(kind="media"), [], ROUTE, batch=store.next_batch())
    kinds = [(r["role"], r["kind"]) for r in store.query("SELECT role, kind FROM notices ORDER BY id")]
    assert kinds[2:] == [("dit", "resolved"), ("editorial", "resolved")]
    assert store.findings() == [] and [f.status for f in store.findings(status=("resolved",))] == ["resolved"]
    assert [r["event"] for r in store.history_of("v", "A/x.mov")] == ["checked", "finding", "checked", "checked",
                                                                      "resolved"]
    assert store.next_batch() == 4


def test_paths_fields_hashes_and_status(make_store):
    store = make_store(clock=lambda: 1000.0)
    for v in ("001", "002"):
        a = Asset("delivery", "/r", f"AGM/AGM_010_comp_v{v}.mov", 1, 1)
        facts = Facts(kind="media").with_derived({"fields": {"show": "AGM", "shot": "010", "version": v}})
        store.commit_check(a, facts, [], ROUTE, batch=int(v))
    assert [r.fields["version"] for r in store.history().with_fields(show="AGM", shot="010")] == ["001", "002"]
    assert store.folder_signatures("delivery", "AGM") == {"AGM_010_comp_v001.mov": (1, 1),
                                                          "AGM_010_comp_v002.mov": (1, 1)}
    assert [p for p, _, _ in store.known_paths("delivery", "AGM/")] == ["AGM/AGM_010_comp_v001.mov",
                                                                        "AGM/AGM_010_comp_v002.mov"]
    store.mark_gone("delivery", "AGM/AGM_010_comp_v001.mov")
    assert list(store.folders("delivery")) == ["AGM"]
    assert store.in_folder("delivery", "AGM") == {"AGM/AGM_010_comp_v002.mov": (1, 1)}
    store.save_hash("/r/x", "xxh128", 1, 2, "ab" * 16)
    store.save_hash("/r/x", "xxh128", 1, 2, "cd" * 16)  # replaced, not a second row
    assert store.cached_hash("/r/x", "xxh128", 1, 2) == "cd" * 16
    store.set_volume_status("delivery", "inotify", "ok", None, 0)
    store.set_volume_status("delivery", "inotify", "lost", 5.0, 3, "gone")
    assert [tuple(r) for r in store.query("SELECT volume, health, queue_depth FROM volume_status")] == [
        ("delivery", "lost", 3)]
    store.set_daemon_status("ok", "", None, 0)
    assert store.daemon_status()["health"] == "ok"
    store.audit("started", config="/etc/x.toml")
    assert json.loads(store.query("SELECT detail FROM audit WHERE event='started'")[0]["detail"]) == {
        "config": "/etc/x.toml"}


def test_one_problem_on_two_copies_is_one_finding(make_store):
    store = make_store()
    raid = Asset("raid", "/raid", "A002/A002C003.mov", 100, 1)
    shuttle = Asset("shuttle", "/shuttle", "A002/A002C003.mov", 100, 2)
    for a in (raid, shuttle):
        store.commit_check(a, Facts(kind="media"), [Finding("spec.frame_rate", Severity.ERROR, a, "25 fps",
                                                            owner="dit")], ROUTE, batch=1)
    [f] = store.findings()
    assert [p["volume"] for p in f.data["locations"]] == ["raid", "shuttle"]
    assert len(store.findings(volume="shuttle")) == 1 and len(store.findings(path="A002/A002C003.mov")) == 1
    store.commit_check(raid, Facts(kind="media"), [], ROUTE, batch=2)
    assert [x.volume for x in store.findings()] == ["shuttle"]
    assert store.history().open_findings("shuttle", "A002/A002C003.mov") == [("spec.frame_rate", "error")]
    store.commit_check(shuttle, Facts(kind="media"), [], ROUTE, batch=3)
    assert store.findings() == []


def test_acks_escalation_digest_and_delivery(make_store, inbox):
    store = make_store()
    config = build_config({"roles": {"dit": {"notify": [inbox.url("dit")], "escalate_to": "supervisor",
                                             "escalate_after": 0},
                                     "supervisor": {"notify": [inbox.url("supervisor")]},
                                     "editorial": {"notify": [inbox.url("editorial")]}},
                           "notify": {"digest_window": 0}})
    a, b = Asset("v", "/r", "A/a.mov", 0, 1), Asset("v", "/r", "A/b.mov", 0, 1)
    ids = []
    for x in (a, b):
        ids += store.commit_check(x, Facts(kind="empty"), [Finding("sanity.empty", Severity.ERROR, x, "empty",
                                                                   owner="dit")], ROUTE, batch=1)
    assert store.ack([ids[0]], "dit@set") == 1 and store.ack([ids[0]], "dit@set") == 0
    outbox = Outbox(store, config, lambda m, t: __import__("reelwatch.builtin.notify_apprise", fromlist=["x"])
                    .AppriseNotifier().notify(m, t, config))
    assert outbox.escalate() == 1  # the acked one does not go up
    outbox.tick()
    got = inbox.wait_for(3, 10)
    assert sorted(m.role for m in got) == ["dit", "editorial", "supervisor"]
    assert len(inbox.wait_for(4, 1)) == 3
    rows = store.query("SELECT state, delivered FROM outbox ORDER BY id")
    assert [r["state"] for r in rows] == ["sent"] * 3
    assert all(json.loads(r["delivered"])[0].startswith("t-") for r in rows)
    assert outbox.pending() == (0, None)


def test_schema_versions_on_both(make_store):
    store = make_store()
    assert store.query("SELECT value FROM meta WHERE key='schema'")[0][0] == str(SCHEMA_VERSION)
    with store.tx() as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION + 1),))
    store.close()
    with pytest.raises(StateTooNew, match="newer reelwatch"):
        make_store()


def test_a_postgresql_database_at_the_0_1_0_schema_is_migrated(pg_url):
    import psycopg
    from reelwatch.state.locations import SCHEMA as LOCATIONS
    from reelwatch.state.schema import statements
    from reelwatch.state.sql import ddl_to_postgres
    with psycopg.connect(pg_url, password=PASSWORD, autocommit=True) as conn:
        for stmt in statements(BASE + LOCATIONS):
            conn.execute(ddl_to_postgres(stmt))
        conn.execute("INSERT INTO meta VALUES ('schema', %s)", (str(BASE_VERSION),))
        conn.execute("INSERT INTO outbox (role, payload, created, next_at) VALUES ('dit', '{}', 1, 1)")
    store = Store(pg_url, password=PASSWORD)
    assert store.query("SELECT value FROM meta WHERE key='schema'")[0][0] == str(SCHEMA_VERSION)
    assert [tuple(r) for r in store.query("SELECT id, role, claimed_by FROM outbox")] == [(1, "dit", None)]
    store.close()


def test_the_password_never_shows(pg_server, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    url = pg_server.new_database()
    wrong = "Wr0ngButSecret99"
    with pytest.raises(StateUnavailable) as err:
        Store(url, password=wrong)
    assert wrong not in str(err.value) and "authentication failed" in str(err.value)
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    with pytest.raises(ConfigError, match="holds a password") as refused:
        build_config({"state": {"url": url.replace("rw@", f"rw:{PASSWORD}@")}})
    assert PASSWORD not in str(refused.value)  # the URL is not echoed back
    # from a file, through the real command line
    monkeypatch.delenv("REELWATCH_STATE_PASSWORD", raising=False)
    (tmp_path / "pw").write_text(wrong + "\n")
    config = write_config(tmp_path)
    text = "".join(line for line in config.read_text().splitlines(keepends=True) if not line.startswith("url = "))
    text = text.replace(f'path = "{tmp_path / "state.db"}"',
                                      f'path = "{tmp_path / "state.db"}"\nurl = "{url}"\n'
                                      f'password_file = "{tmp_path / "pw"}"', 1)
    config.write_text(text)
    done = reelwatch("findings", "--config", str(config))
    assert done.returncode == 2 and "cannot be reached" in done.stderr and "Traceback" not in done.stderr
    assert wrong not in done.stdout + done.stderr
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    done = reelwatch("findings", "--config", str(config), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_a_server_that_is_down_is_a_plain_error(tmp_path):
    with pytest.raises(StateRefused) as err:
        Store("postgresql://rw@127.0.0.1:9/none", password="x")
    assert "cannot be reached" in str(err.value) and "127.0.0.1" in str(err.value)


def test_names_that_are_not_utf8_round_trip(make_store):
    import os
    name = os.fsdecode(b"A002R2EC/A002C005\xff\xfe.mov")
    store = make_store()
    a = Asset("raid", "/raid", name, 0, 1)
    store.commit_check(a, Facts(kind="empty"), [Finding("sanity.empty", Severity.ERROR, a, "empty", owner="dit")],
                       ROUTE, batch=1)
    store.close()
    store = make_store()
    [f] = store.findings()
    assert f.relpath == name and store.is_checked(a) and list(store.known_paths("raid")) == [(name, 0, 1)]
    assert store.folder_signatures("raid", "A002R2EC") == {name.split("/")[1]: (0, 1)}
    # inside JSON such a name is an escaped lone surrogate ("\udcff"), which PostgreSQL's jsonb refuses
    assert [r.relpath for r in store.findings(path=f.data["path"])] == [name]


def test_an_engine_adds_its_tables_on_both(make_store):
    from reelwatch.timeline import SCHEMA as CLIPS, TIMELINE_SCHEMA
    store = make_store()
    store.add_tables(CLIPS + TIMELINE_SCHEMA)
    store.add_tables(CLIPS + TIMELINE_SCHEMA)  # again: nothing changes
    assert store.query("SELECT COUNT(*) FROM clips")[0][0] == 0


def test_the_web_pages_read_the_state_the_config_names(tmp_path, pg_url):
    """With ``[state] url`` the pages show the fleet's database, not an SQLite file at ``path``."""
    import warnings

    from reelwatch.web.app import create_app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    config = build_config({"production": {"name": "P"}, "state": {"path": str(tmp_path / "state.db"), "url": pg_url}})
    store = Store(pg_url, password=PASSWORD)
    a = Asset("raid", "/raid", "A/x.mov", 0, 1)
    [fid] = store.commit_check(a, Facts(kind="empty"), [Finding("sanity.empty", Severity.ERROR, a, "empty",
                                                                owner="dit")], ROUTE, batch=1)
    store.close()
    app = create_app(config)
    try:
        assert f"/findings/{fid}" in TestClient(app, base_url="http://127.0.0.1:8765").get("/findings").text
    finally:
        app.state.web.close()
    assert not (tmp_path / "state.db").exists()
