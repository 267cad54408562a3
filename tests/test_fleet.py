"""A fleet: real daemons in separate processes sharing one real PostgreSQL server, each with its
own volumes. Each message is sent once however many nodes run; a node killed mid-send leaves
its lease to run out and another node delivers it, with the same key; nodes register and beat,
``status`` shows them, and an ack given through one node holds for all."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from reelwatch.state.store import Store

from conftest import reelwatch, wait_until, write_config
from pgserver import PASSWORD


def node_config(tmp_path: Path, name: str, url: str, inbox, volume: str, *, lease: float = 60,
                extra: str = "", digest: float = 0.5) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    config = write_config(folder, inbox, volumes={volume: "dit"}, digest=digest, extra=extra)
    text = "".join(line for line in config.read_text().splitlines(keepends=True) if not line.startswith("url = "))
    text = text.replace(f'path = "{folder / "state.db"}"\n',
                        f'path = "{folder / "state.db"}"\nnode = "{name}"\nlease = {lease}\nurl = "{url}"\n', 1)
    config.write_text(text)
    return config


_opened: list[Store] = []


def request_close(store: Store) -> None:
    _opened.append(store)


@pytest.fixture(autouse=True)
def _close_stores():
    yield
    while _opened:
        _opened.pop().close()


def keys(inbox) -> list[str]:
    return [r.headers.get("Idempotency-Key", "") for r in inbox.received]


def test_each_message_is_sent_once_by_a_fleet(tmp_path, pg_url, inbox, daemon):
    a = daemon(node_config(tmp_path, "cart-a", pg_url, inbox, "ingest_a"))
    b = daemon(node_config(tmp_path, "cart-b", pg_url, inbox, "ingest_b"))
    a.wait_ready()
    b.wait_ready()
    for n in range(6):
        for vol in ("ingest_a", "ingest_b"):
            (tmp_path / ("cart-a" if vol == "ingest_a" else "cart-b") / vol / f"A00{n}C001_{vol}.mov").write_bytes(b"")
        time.sleep(0.3)
    store = Store(pg_url, password=PASSWORD)
    request_close(store)

    def settled() -> bool:
        findings = store.query("SELECT COUNT(*) FROM findings")[0][0]
        unsent = store.query("SELECT COUNT(*) FROM notices WHERE message_id IS NULL")[0][0]
        pending = store.query("SELECT COUNT(*) FROM outbox WHERE state!='sent'")[0][0]
        return findings == 12 and unsent == 0 and pending == 0
    assert wait_until(settled, 90), a.output()[-3000:] + b.output()[-3000:]
    time.sleep(2)  # anything sent twice would arrive now
    sent = store.query("SELECT id FROM outbox WHERE state='sent'")
    got = keys(inbox)
    assert len(got) == len(set(got)), f"a message arrived twice: {got}"
    assert len(got) == len(sent)  # one target per role: one arrival per message
    by = [r["detail"] for r in store.query("SELECT detail FROM audit WHERE event='notified'")]
    assert len(by) == len(sent)
    # every notice reached its role exactly once
    told = sorted((n["kind"], n["finding"]["id"]) for r in inbox.received for n in r.body.get("notices", [])
                  ) if inbox.received and "notices" in inbox.received[0].body else None
    if told is not None:
        assert len(told) == len(set(told))

    # both nodes registered; status shows the fleet
    done = reelwatch("status", "--config", str(tmp_path / "cart-a" / "production.toml"), "--format", "json")
    assert done.returncode == 0, done.stderr
    nodes = {n["name"]: n for n in json.loads(done.stdout)["nodes"]}
    assert set(nodes) == {"cart-a", "cart-b"}
    assert nodes["cart-a"]["volumes"] == ["ingest_a"] and nodes["cart-b"]["volumes"] == ["ingest_b"]
    assert all(n["state"] == "ok" for n in nodes.values())
    done = reelwatch("status", "--config", str(tmp_path / "cart-b" / "production.toml"))
    assert "fleet: 2 node(s)" in done.stdout and "cart-a  ok" in done.stdout, done.stdout
    # findings from either node are seen through the other
    done = reelwatch("findings", "--config", str(tmp_path / "cart-b" / "production.toml"), "--format", "json")
    assert {f["volume"] for f in json.loads(done.stdout)} == {"ingest_a", "ingest_b"}
    b.stop()
    assert wait_until(lambda: store.query("SELECT health FROM nodes WHERE name='cart-b'")[0][0] == "stopped", 10)
    store.close()


def test_a_node_killed_mid_send_leaves_the_message_to_another_once(tmp_path, pg_url, inbox, daemon):
    inbox.delay = 60.0  # the receiver takes the message and answers late: node A is killed meanwhile
    a = daemon(node_config(tmp_path, "cart-a", pg_url, inbox, "ingest_a", lease=3))
    a.wait_ready()
    (tmp_path / "cart-a" / "ingest_a" / "A001C001.mov").write_bytes(b"")
    assert wait_until(lambda: len(inbox.received) >= 1, 60), a.output()[-3000:]
    first = inbox.received[0]
    a.stop(signal.SIGKILL)
    killed_at = time.time()
    inbox.delay = 0.0
    store = Store(pg_url, password=PASSWORD)
    try:
        [held] = store.query("SELECT id, claimed_by, sending FROM outbox WHERE claimed_by IS NOT NULL")
        assert held["claimed_by"] == "cart-a" and held["sending"]
        messages = store.query("SELECT COUNT(*) FROM outbox")[0][0]
        b = daemon(node_config(tmp_path, "cart-b", pg_url, inbox, "ingest_b", lease=3))
        b.wait_ready()
        assert wait_until(lambda: store.query("SELECT COUNT(*) FROM outbox WHERE state='sent'")[0][0] == messages,
                          30), b.output()[-3000:]
        time.sleep(4)  # anything sent a third time would arrive now
        got = keys(inbox)
        again = [r for r in inbox.received[1:] if r.headers.get("Idempotency-Key") == got[0]]
        assert len(again) == 1, got  # the interrupted message: once more, by B, with the same key
        assert again[0].at - killed_at >= 1.0  # not before A's lease ran out (3 s from its last renewal)
        assert "may repeat a message" in json.dumps(again[0].body)
        assert sorted(got[1:]) == sorted(set(got[1:])) and len(got) == messages + 1, got  # the others: once each
        assert [tuple(r) for r in store.query("SELECT DISTINCT claimed_by, lease_until FROM outbox")] == [
            (None, None)]
        assert first.headers.get("Idempotency-Key")
    finally:
        store.close()


def test_an_ack_through_one_node_stops_escalation_everywhere(tmp_path, pg_url, inbox, daemon):
    a_cfg = node_config(tmp_path, "cart-a", pg_url, inbox, "ingest_a")
    b_cfg = node_config(tmp_path, "cart-b", pg_url, inbox, "ingest_b")
    for cfg in (a_cfg, b_cfg):
        text = cfg.read_text().replace(f'[roles.dit]\nnotify = ["{inbox.url("dit")}"]\n',
                                       f'[roles.dit]\nnotify = ["{inbox.url("dit")}"]\nescalate_to = "supervisor"\n'
                                       'escalate_after = 25\n', 1)
        cfg.write_text(text)
    a = daemon(a_cfg)
    a.wait_ready()
    b = daemon(b_cfg)
    b.wait_ready()
    (tmp_path / "cart-a" / "ingest_a" / "A001C001.mov").write_bytes(b"")
    (tmp_path / "cart-a" / "ingest_a" / "A001C002.mov").write_bytes(b"")
    store = Store(pg_url, password=PASSWORD)
    request_close(store)
    assert wait_until(lambda: store.query("SELECT COUNT(*) FROM findings")[0][0] == 2, 30)
    first = store.query("SELECT id FROM findings ORDER BY id")[0][0]
    done = reelwatch("ack", str(first), "--config", str(b_cfg), "--by", "dit@cart-b")  # through the other node
    assert done.returncode == 0, done.stderr
    assert store.query("SELECT COUNT(*) FROM notices WHERE kind='escalated'")[0][0] == 0, "too slow to test"
    assert wait_until(lambda: store.query("SELECT COUNT(*) FROM notices WHERE kind='escalated'")[0][0] >= 1, 90)
    time.sleep(3)
    escalated = [r[0] for r in store.query("SELECT finding_id FROM notices WHERE kind='escalated'")]
    assert first not in escalated and len(escalated) == 1, escalated
    store.close()


def test_a_node_that_loses_the_database_loses_no_file_and_sends_nothing_twice(tmp_path, own_pg_server,
                                                                                    inbox, daemon):
    url = own_pg_server.new_database()
    node = daemon(node_config(tmp_path, "cart-a", url, inbox, "ingest_a", digest=0))
    node.wait_ready()
    vol = tmp_path / "cart-a" / "ingest_a"
    for n in range(3):
        (vol / f"A001C00{n}.mov").write_bytes(b"")
    store = Store(url, password=PASSWORD)
    request_close(store)
    assert wait_until(lambda: store.query("SELECT COUNT(*) FROM findings")[0][0] == 3, 60), node.output()[-3000:]
    store.close()
    _opened.clear()
    own_pg_server.stop("fast")  # the server goes away in the middle of the burst
    for n in range(3, 9):
        (vol / f"A001C00{n}.mov").write_bytes(b"")
        time.sleep(0.2)
    # the admin hears at once, straight to a channel (the outbox is in the unreachable database)
    ok = wait_until(lambda: any("unreachable" in json.dumps(r.body) for r in inbox.received if r.role == "admin"), 60)
    assert ok, node.output()[-4000:]
    time.sleep(3)
    assert node.proc.poll() is None, "the daemon died with its database"
    own_pg_server.start()
    store = Store(url, password=PASSWORD)
    request_close(store)
    assert wait_until(lambda: store.query("SELECT COUNT(*) FROM findings")[0][0] == 9, 60), (
        [tuple(r) for r in store.query("SELECT id, relpath, rule, status, first_seen FROM findings ORDER BY id")],
        node.output()[-4000:])
    assert wait_until(lambda: any("reachable again" in json.dumps(r.body) for r in inbox.received), 30)
    assert wait_until(lambda: store.query("SELECT COUNT(*) FROM outbox WHERE state!='sent'")[0][0] == 0, 60)
    time.sleep(2)
    got = keys(inbox)
    assert len([k for k in got if k]) == len(set(k for k in got if k)), f"a message arrived twice: {got}"
    told = [n["finding"]["relpath"] for r in inbox.received if r.role == "dit" for n in r.body.get("notices", [])
            ] if any("notices" in r.body for r in inbox.received) else None
    if told is not None:
        assert sorted(told) == sorted(set(told))
    assert PASSWORD not in node.output()
