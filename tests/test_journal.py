"""A node that loses the fleet's database keeps guarding: real daemons in child processes, a real
PostgreSQL server stopped in the middle of a burst of files (and started again), apprise to the
local HTTP receiver counting each message's arrivals.

While the server is away the node checks and alerts from its local journal (SQLite beside its
state), says "offline" in ``status``; when the server is back it replays what happened: every
finding, each notice told once (a message sent from the journal is recorded as sent, never sent
again), the history in event order. The journal survives a restart while offline."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.state import journal
from reelwatch.state.store import Store

from conftest import reelwatch, wait_until
from pgserver import PASSWORD
from test_fleet import keys, node_config
from test_state import fill, free_port, scrape, small_fs  # noqa: F401  (small_fs: a fixture)


def told(inbox, role: str = "dit") -> list[str]:
    """Every clip a role was told about, once per message that names it."""
    return [name for r in inbox.received if r.role == role
            for name in sorted(set(re.findall(r"A001C\d{3}\.mov", json.dumps(r.body))))]


def count(url: str, sql: str) -> int:
    store = Store(url, password=PASSWORD)
    try:
        return int(store.query(sql)[0][0])
    finally:
        store.close()


def findings_in(url: str) -> int:
    try:
        return count(url, "SELECT COUNT(*) FROM findings")
    except Exception:  # noqa: BLE001  (the server is still starting)
        return -1


def status_of(cfg: Path) -> tuple[str, dict]:
    human = reelwatch("status", "--config", str(cfg))
    as_json = reelwatch("status", "--config", str(cfg), "--format", "json")
    assert human.returncode == 0 and as_json.returncode == 0, human.stderr + as_json.stderr
    return human.stdout, json.loads(as_json.stdout)


def assert_told_once(url: str, inbox, names: list[str], role: str = "dit") -> None:
    """Each finding's notice reached ``role`` in exactly one message that arrived exactly once:
    one notice per file, each in a message recorded as sent, as many sent messages as arrivals,
    no idempotency key twice (a digest names only its first files, so the names alone cannot say)."""
    store = Store(url, password=PASSWORD)
    try:
        rows = store.query("SELECT f.relpath, o.state FROM notices n JOIN findings f ON f.id=n.finding_id LEFT JOIN "
                           "outbox o ON o.id=n.message_id WHERE n.role=? AND n.kind='new'", (role,))
        assert sorted(r["relpath"] for r in rows) == sorted(names), [tuple(r) for r in rows]
        assert {r["state"] for r in rows} == {"sent"}, [tuple(r) for r in rows]
        sent = store.query("SELECT COUNT(*) FROM outbox WHERE role=? AND state='sent'", (role,))[0][0]
    finally:
        store.close()
    arrived = [r.headers.get("Idempotency-Key", "") for r in inbox.received if r.role == role]
    assert len(arrived) == len(set(arrived)) == sent, (arrived, sent)


def journal_assets(path: Path) -> int:
    """Asset rows the node's journal holds (its copy of the fleet's, refreshed every second)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return -1
    try:
        return int(db.execute("SELECT COUNT(*) FROM assets").fetchone()[0])
    except sqlite3.Error:
        return -1
    finally:
        db.close()


def sent_offline(folder: Path, role: str = "dit") -> int:
    """Notices to ``role`` the node's journal records as sent (while the server is away)."""
    db = sqlite3.connect(folder / "state-journal.db")
    try:
        return int(db.execute("SELECT COUNT(*) FROM notices n JOIN outbox o ON o.id=n.message_id WHERE n.role=? AND "
                              "n.kind='new' AND o.state='sent'", (role,)).fetchone()[0])
    except sqlite3.Error:
        return -1
    finally:
        db.close()


def burst(vol: Path, names: range, pause: float = 0.2) -> None:
    for n in names:
        (vol / f"A001C{n:03d}.mov").write_bytes(b"")
        time.sleep(pause)


def test_a_node_keeps_checking_and_alerting_while_the_database_is_away(tmp_path, own_pg_server, inbox, daemon):
    url = own_pg_server.new_database()
    port = free_port()
    metrics = f"http://127.0.0.1:{port}/metrics"
    cfg = node_config(tmp_path, "cart-a", url, inbox, "ingest_a", digest=0,
                      extra=f'[service]\nmetrics = "127.0.0.1:{port}"\n')
    node = daemon(cfg)
    node.wait_ready()
    vol = tmp_path / "cart-a" / "ingest_a"
    burst(vol, range(3))
    assert wait_until(lambda: len(set(told(inbox))) == 3, 60), node.output()[-3000:]
    own_pg_server.stop("fast")  # the server goes away in the middle of the burst
    burst(vol, range(3, 9))
    offline = {f"A001C{n:03d}.mov" for n in range(3, 9)}
    # checked and told while the server is away, from the journal
    assert wait_until(lambda: sent_offline(tmp_path / "cart-a") == 6, 60), node.output()[-4000:]
    assert set(told(inbox)) & offline, told(inbox)
    assert any("offline" in json.dumps(r.body) for r in inbox.received if r.role == "admin"), node.output()[-3000:]
    human, data = status_of(cfg)
    assert "offline" in human, human
    assert data["daemon"]["health"].startswith("offline"), data["daemon"]
    assert 'reelwatch_degraded{reason="state_database_offline"} 1.0' in scrape(metrics)
    assert data["findings"].get("error", 0) + data["findings"].get("warning", 0) >= 6, data["findings"]
    assert node.proc.poll() is None, "the daemon died with its database"
    back_at = time.time()
    own_pg_server.start()
    assert wait_until(lambda: findings_in(url) == 9, 60), node.output()[-4000:]
    assert wait_until(lambda: any("back online" in json.dumps(r.body) for r in inbox.received if r.role == "admin"),
                      30), node.output()[-3000:]
    assert wait_until(lambda: count(url, "SELECT COUNT(*) FROM outbox WHERE state!='sent'") == 0, 60)
    burst(vol, range(9, 10))  # and it is back on the fleet's database
    assert wait_until(lambda: findings_in(url) == 10, 60), node.output()[-4000:]
    time.sleep(3)  # anything sent twice would arrive now
    got = [k for k in keys(inbox) if k]
    assert len(got) == len(set(got)), f"a message arrived twice: {got}"
    assert_told_once(url, inbox, [f"A001C{n:03d}.mov" for n in range(10)])
    store = Store(url, password=PASSWORD)
    try:
        # no notice waits to be told again, and the messages sent from the journal are recorded as sent
        assert store.query("SELECT COUNT(*) FROM notices WHERE message_id IS NULL")[0][0] == 0
        rows = store.query("SELECT relpath, first_seen FROM findings")
        seen = {r["relpath"]: r["first_seen"] for r in rows}
        assert all(seen[name] < back_at for name in offline), seen  # when it happened, not when replayed
        history = [(r["ts"], r["event"], r["relpath"]) for r in store.query(
            "SELECT ts, event, relpath FROM audit ORDER BY ts, id")]
        checked = [rel for _, event, rel in history if event == "checked"]
        # in event order: the three before the outage, the six during it, the one after. Files of one
        # burst are checked by parallel workers, so their order within a burst is theirs to choose.
        names = [f"A001C{n:03d}.mov" for n in range(10)]
        assert len(checked) == 10, checked
        assert (set(checked[:3]), set(checked[3:9]), checked[9:]) == (
            set(names[:3]), set(names[3:9]), names[9:]), checked
        events = [(e, rel) for _, e, rel in history if e in ("checked", "state_offline", "state_online")]
        marks = [e if e != "checked" else rel for e, rel in events]
        offline_at, online_at = marks.index("state_offline"), marks.index("state_online")
        assert set(marks[:offline_at]) >= set(names[:3]), marks  # before the outage
        assert set(marks[offline_at:online_at]) >= set(names[3:9]), marks  # journalled, merged where they happened
        assert names[9] in marks[online_at:], marks
    finally:
        store.close()
    human, data = status_of(cfg)
    assert not data["daemon"]["health"].startswith("offline"), data["daemon"]
    assert 'reelwatch_degraded{reason="state_database_offline"} 0.0' in scrape(metrics)
    assert PASSWORD not in node.output()


def test_the_journal_survives_a_restart_while_offline(tmp_path, own_pg_server, inbox, daemon):
    url = own_pg_server.new_database()
    cfg = node_config(tmp_path, "cart-a", url, inbox, "ingest_a", digest=0)
    node = daemon(cfg)
    node.wait_ready()
    vol = tmp_path / "cart-a" / "ingest_a"
    burst(vol, range(2))
    assert wait_until(lambda: len(set(told(inbox))) == 2, 60), node.output()[-3000:]
    time.sleep(2)  # the journal's copy of this node's files follows the database every second
    own_pg_server.stop("fast")
    burst(vol, range(2, 4))
    assert wait_until(lambda: sent_offline(tmp_path / "cart-a") == 2, 60), node.output()[-4000:]
    assert node.stop() == 0  # the cart is switched off while the network is down
    burst(vol, range(4, 6), pause=0)  # files written while nothing watched
    node = daemon(cfg)  # and switched on again, still offline
    node.wait_ready()
    assert wait_until(lambda: sent_offline(tmp_path / "cart-a") == 4, 60), node.output()[-4000:]
    human, data = status_of(cfg)
    assert "offline" in human, human
    own_pg_server.start()
    assert wait_until(lambda: findings_in(url) == 6, 60), node.output()[-4000:]
    assert wait_until(lambda: count(url, "SELECT COUNT(*) FROM outbox WHERE state!='sent'") == 0, 60)
    time.sleep(3)
    got = [k for k in keys(inbox) if k]
    assert len(got) == len(set(got)), f"a message arrived twice: {got}"
    assert_told_once(url, inbox, [f"A001C{n:03d}.mov" for n in range(6)])  # each once, none again
    assert count(url, "SELECT COUNT(*) FROM notices WHERE message_id IS NULL") == 0
    # the offline stretch and the restart are in the fleet's history, in order
    store = Store(url, password=PASSWORD)
    try:
        events = [r["event"] for r in store.query("SELECT event FROM audit ORDER BY ts, id")]
    finally:
        store.close()
    assert events.count("state_offline") >= 1 and "stopped" in events[events.index("state_offline"):], events


def _finding(asset: Asset) -> Finding:
    return Finding("sanity.truncated", Severity.BLOCKER, asset, "the file is incomplete", owner="dit",
                   impacts=("editorial",), expected="a complete copy", impact="the clip stops early in the edit",
                   fix="copy it again")


def test_a_replay_respects_what_the_fleet_did_meanwhile_and_is_applied_once(tmp_path, pg_url):
    """The replay itself, on a real server: a finding the fleet acked meanwhile stays acked and is
    not told again; one fixed offline is resolved in the fleet (and told); a message sent from the
    journal is recorded as sent with its notices; one not sent goes to the fleet's digests; the
    trail keeps each event's time; a second replay of the same journal changes nothing."""
    fleet = Store(pg_url, password=PASSWORD)
    jstore = Store(tmp_path / "journal.db")
    try:
        def route(f: Finding) -> list[tuple[str, str]]:
            return [("dit", "new")]

        def at(name: str, mtime: int = 1) -> Asset:
            return Asset("ingest", str(tmp_path), f"A002R2EC/{name}", 100, mtime)

        facts = Facts(kind="video")
        fleet.commit_check(at("c1.mov"), facts, [_finding(at("c1.mov"))], route, 1)
        fleet.commit_check(at("c2.mov"), facts, [_finding(at("c2.mov"))], route, 1)
        with fleet.tx() as db:  # told already, by the fleet
            db.execute("UPDATE notices SET message_id=0")
        fleet.commit_check(at("c5.mov"), facts, [_finding(at("c5.mov"))], route, 1)  # not told yet
        c5 = fleet.query("SELECT id FROM findings WHERE relpath='A002R2EC/c5.mov'")[0][0]
        c1 = fleet.query("SELECT id FROM findings WHERE relpath='A002R2EC/c1.mov'")[0][0]
        journal.use_salt(jstore.db, fleet._salt)
        went = time.time()
        journal.begin(jstore.db, went, "cart-a", "test")
        # offline: c1 copied again (same problem), c2 fixed, c3 and c4 new
        jstore.commit_check(at("c1.mov", 2), facts, [_finding(at("c1.mov", 2))], route, 2)
        jstore.commit_check(at("c2.mov", 2), facts, [], route, 2)
        jstore.commit_check(at("c3.mov"), facts, [_finding(at("c3.mov"))], route, 2)
        jstore.commit_check(at("c4.mov"), facts, [_finding(at("c4.mov"))], route, 2)
        assert fleet.ack([c1], "supervisor") == 1  # centrally, meanwhile
        j3 = jstore.query("SELECT id FROM findings WHERE relpath='A002R2EC/c3.mov'")[0][0]
        with jstore.tx() as db:  # c3's digest was sent from the journal
            sent = db.execute("INSERT INTO outbox (role, payload, created, next_at, state, sent_at, delivered) VALUES "
                              "('dit', ?, ?, ?, 'sent', ?, '[\"t1\"]')",
                              (json.dumps({"notices": [{"kind": "new"}]}), went, went, went)).lastrowid
            db.execute("UPDATE notices SET message_id=? WHERE finding_id=?", (sent, j3))
            # the network went between a digest's read of the fleet's notices and its write: c5's
            # digest was written to the journal and sent from there
            db.execute("INSERT INTO outbox (role, payload, created, next_at, state, sent_at, delivered) VALUES "
                       "('dit', ?, ?, ?, 'sent', ?, '[\"t1\"]')",
                       (json.dumps({"notices": [{"kind": "new", "finding": {"id": c5}}]}), went, went, went))
        time.sleep(0.05)
        replayed_at = time.time()
        counts = journal.replay(jstore.db, fleet.db, "cart-a")
        assert counts["findings"] == 2 and counts["merged"] == 1 and counts["resolved"] == 1, counts
        assert counts["messages"] == 2 and counts["dropped"] == 1, counts
        status = {r["relpath"].split("/")[-1]: (r["status"], r["resolved_at"]) for r in fleet.query(
            "SELECT relpath, status, resolved_at FROM findings")}
        assert status["c1.mov"][0] == "acked"  # the central ack stands
        assert status["c2.mov"][0] == "resolved" and status["c2.mov"][1] < replayed_at  # when it was fixed
        assert status["c3.mov"][0] == status["c4.mov"][0] == "open"
        unsent = sorted((r["kind"], r["relpath"].split("/")[-1]) for r in fleet.query(
            "SELECT n.kind, f.relpath FROM notices n JOIN findings f ON f.id=n.finding_id WHERE n.message_id IS NULL"))
        # c1 not again (known and acked), c3 and c5 sent from the journal already
        assert unsent == [("new", "c4.mov"), ("resolved", "c2.mov")], unsent
        [(state, delivered)] = [tuple(r) for r in fleet.query(
            "SELECT o.state, o.delivered FROM notices n JOIN findings f ON f.id=n.finding_id JOIN outbox o ON "
            "o.id=n.message_id WHERE f.relpath='A002R2EC/c3.mov'")]
        assert state == "sent" and json.loads(delivered) == ["t1"]
        checked = [r["ts"] for r in fleet.history_of("ingest", "A002R2EC/c3.mov") if r["event"] == "checked"]
        assert checked and all(went <= ts < replayed_at for ts in checked)
        before = fleet.query("SELECT (SELECT COUNT(*) FROM findings), (SELECT COUNT(*) FROM notices), "
                             "(SELECT COUNT(*) FROM audit), (SELECT COUNT(*) FROM outbox)")[0]
        assert journal.replay(jstore.db, fleet.db, "cart-a") == {}  # interrupted before reset: not again
        assert tuple(fleet.query("SELECT (SELECT COUNT(*) FROM findings), (SELECT COUNT(*) FROM notices), "
                                 "(SELECT COUNT(*) FROM audit), (SELECT COUNT(*) FROM outbox)")[0]) == tuple(before)
        journal.reset(jstore.db)
        assert journal.offline_since(jstore.db) is None
        assert jstore.query("SELECT COUNT(*) FROM findings")[0][0] == 0
        assert jstore.query("SELECT COUNT(*) FROM assets")[0][0] == 4  # the copy of our assets stays
        assert journal.FIRST_ID not in [r[0] for r in fleet.query("SELECT id FROM findings")]
    finally:
        jstore.close()
        fleet.close()


def test_a_journal_that_fills_holds_the_files_says_so_and_loses_none(tmp_path, own_pg_server, inbox, daemon,
                                                                      small_fs):  # noqa: F811  (the fixture imported above)
    url = own_pg_server.new_database()
    cfg = node_config(tmp_path, "cart-a", url, inbox, "ingest_a", digest=0)
    state = tmp_path / "cart-a" / "state.db"
    cfg.write_text(cfg.read_text().replace(f'path = "{state}"', f'path = "{small_fs / "state.db"}"'))
    node = daemon(cfg)  # its state folder, journal beside it, on a small disk of its own
    node.wait_ready()
    vol = tmp_path / "cart-a" / "ingest_a"
    burst(vol, range(2))
    assert wait_until(lambda: len(set(told(inbox))) == 2, 60), node.output()[-3000:]
    # the journal's copy of the node's assets follows the fleet's audit trail every second: a file
    # checked in the last second before the server goes is checked and told again offline (the window
    # docs/deploy.md names); this test is about a full journal, so it waits for the copy
    assert wait_until(lambda: journal_assets(small_fs / "state-journal.db") >= 2, 30)
    own_pg_server.stop("fast")
    burst(vol, range(2, 3))
    assert wait_until(lambda: "A001C002.mov" in told(inbox), 60), node.output()[-4000:]
    assert (small_fs / "state-journal.db").exists()
    ballast = fill(small_fs)
    burst(vol, range(3, 8), pause=0.1)
    assert wait_until(lambda: any("state disk full" in json.dumps(r.body).lower() for r in inbox.received
                                  if r.role == "admin"), 60), node.output()[-4000:]
    human, data = status_of(cfg)
    assert "offline" in data["daemon"]["health"] and "state disk full" in data["daemon"]["health"], data["daemon"]
    assert node.proc.poll() is None
    before = len([r for r in inbox.received if r.role == "dit"])
    ballast.unlink()  # room again: the held files are checked from the journal, and told
    assert wait_until(lambda: len([r for r in inbox.received if r.role == "dit"]) > before, 60), node.output()[-4000:]
    assert wait_until(lambda: "resumed" in json.dumps([r.body for r in inbox.received if r.role == "admin"]), 30)
    own_pg_server.start()
    assert wait_until(lambda: findings_in(url) == 8, 60), node.output()[-4000:]
    assert wait_until(lambda: count(url, "SELECT COUNT(*) FROM outbox WHERE state!='sent'") == 0, 60)
    time.sleep(2)
    got = [k for k in keys(inbox) if k]
    assert len(got) == len(set(got)), f"a message arrived twice: {got}"
    assert_told_once(url, inbox, [f"A001C{n:03d}.mov" for n in range(8)])
