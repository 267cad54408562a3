"""A fleet's node lifecycle as the systems engineer running the carts sees it, on a real PostgreSQL
server (tests/pgserver.py) and real daemons: ``reelwatch fleet`` lists the nodes, ``fleet retire``
takes a returned cart out of the fleet's health (refused while it beats, unless ``--force``;
audited), a retired node that runs again is active again and says so, and ``status`` counts the
files of a shared volume that wait on other nodes' claims, naming a dead holder as such."""

from __future__ import annotations

import json
import re
import time
import warnings
from pathlib import Path

from reelwatch.state import claims, fleet
from reelwatch.state.store import Store

from conftest import reelwatch, wait_until, write_config
from pgserver import PASSWORD
from test_fleet import node_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _config(tmp_path: Path, url: str, node: str, volumes: dict[str, str]) -> Path:
    (tmp_path / node).mkdir()
    path = write_config(tmp_path / node, volumes=volumes)
    text = "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("url = "))
    path.write_text(text.replace("[state]\n", f'[state]\nurl = "{url}"\nnode = "{node}"\n', 1))
    return path


def _json(*args: str) -> object:
    done = reelwatch(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_fleet_lists_the_nodes_and_retires_a_returned_cart(tmp_path: Path, pg_url: str) -> None:
    config = _config(tmp_path, pg_url, "cart-a", {"ingest_a": "dit", "edit_nas": "editorial"})
    store = Store(pg_url, password=PASSWORD)
    try:
        now = time.time()
        fleet.register(store, "cart-a", "cart-a.local", ["ingest_a", "edit_nas"], "0.9.0", 101, now - 60)
        fleet.beat(store, "cart-a", "ok", "", now)
        fleet.register(store, "cart-b", "cart-b.local", ["ingest_b", "edit_nas"], "0.9.0", 202, now - 4000)
        fleet.beat(store, "cart-b", "ok", "", now - 3600)  # returned to the rental house an hour ago
        store.set_volume_status("ingest_b", "inotify", "ok", now - 3600, 0, None)
        for i in range(2):  # it died holding two files of the shared NAS
            assert claims.claim(store, ("edit_nas", f"B{i}.mov", 1, i), "cart-b", 60, now - 3650) is None

        fleet.beat(store, "cart-a", "ok", "", time.time())  # each command takes seconds on a busy machine
        listed = {n["name"]: n for n in _json("fleet", "--config", str(config))}  # type: ignore[union-attr]
        assert set(listed) == {"cart-a", "cart-b"}
        assert listed["cart-a"]["state"] == "online" and listed["cart-b"]["state"] == "offline"
        assert listed["cart-b"]["host"] == "cart-b.local" and listed["cart-b"]["volumes"] == ["edit_nas", "ingest_b"]
        assert listed["cart-b"]["version"] == "0.9.0" and listed["cart-b"]["heartbeat_age_s"] >= 3600
        assert listed["cart-b"]["claims"]["files"] == 2 and listed["cart-b"]["claims"]["expired"] == 2
        assert listed["cart-a"]["claims"]["files"] == 0
        table = reelwatch("fleet", "--config", str(config))
        assert "cart-b" in table.stdout and "offline" in table.stdout and "2 file(s)" in table.stdout, table.stdout
        # the config from the environment, as every command
        import os
        env = {**os.environ, "REELWATCH_CONFIG": str(config)}
        assert "cart-a" in reelwatch("fleet", env=env).stdout

        # before: the returned cart keeps the fleet looking unhealthy
        status = _json("status", "--config", str(config))
        assert {n["name"]: n["state"] for n in status["nodes"]}["cart-b"] == "not heard from"  # type: ignore[index]

        # a node that beats is refused, clearly, and nothing changes
        fleet.beat(store, "cart-a", "ok", "", time.time())  # (each command above takes seconds on a busy machine)
        refused = reelwatch("fleet", "retire", "cart-a", "--config", str(config))
        assert refused.returncode == 2 and "cart-a is running" in refused.stderr and "--force" in refused.stderr
        assert store.query("SELECT health FROM nodes WHERE name='cart-a'")[0][0] == "ok"
        unknown = reelwatch("fleet", "retire", "cart-z", "--config", str(config))
        assert unknown.returncode == 2 and "no node named 'cart-z'" in unknown.stderr and "cart-b" in unknown.stderr

        done = reelwatch("fleet", "--config", str(config), "retire", "cart-b", "--by", "alice")
        assert done.returncode == 0, done.stderr
        assert "retired cart-b" in done.stdout and "2 claim(s)" in done.stdout
        [audit] = store.query("SELECT ts, detail FROM audit WHERE event='node_retired'")
        assert json.loads(audit[1])["by"] == "alice" and json.loads(audit[1])["node"] == "cart-b"
        assert abs(audit[0] - time.time()) < 60
        assert store.query("SELECT COUNT(*) FROM claims")[0][0] == 0  # its files are checked by others now
        again = reelwatch("fleet", "retire", "cart-b", "--config", str(config))
        assert again.returncode == 0 and "already retired (by alice" in again.stdout

        # it leaves status and the pages' health, and stays in the list and the history
        fleet.beat(store, "cart-a", "ok", "", time.time())
        status = _json("status", "--config", str(config))
        assert [n["name"] for n in status["nodes"]] == ["cart-a"]  # type: ignore[index]
        listed = {n["name"]: n for n in _json("fleet", "--config", str(config))}  # type: ignore[union-attr]
        assert listed["cart-b"]["state"] == "retired" and listed["cart-b"]["retired"]["by"] == "alice"
        from reelwatch.checking.runtime import load_runtime
        from reelwatch.web.app import create_app
        from reelwatch.web.fleet import fleet_of
        fl = fleet_of(store)
        assert [n["name"] for n in fl.nodes] == ["cart-a"] and [n["name"] for n in fl.retired] == ["cart-b"]
        assert fl.headline()["state"] == "running"
        from reelwatch.state.copies import node_why  # its copies of a card no longer count, said why
        assert "cart-b was retired from the fleet" in node_why(store, "cart-b")
        with TestClient(create_app(load_runtime(str(config), None).config), base_url="http://127.0.0.1:8765") as c:
            page = c.get("/").text
        panel = page[page.index('class="panel daemon'):]
        assert "not responding" not in panel[:panel.index("</section>")]
        assert "Retired: cart-b" in page
        vols = page[page.index("<h2>Volumes</h2>"):]
        row = vols[vols.index("ingest_b"):]
        assert "retired" in row[:row.index("</tr>")] and "not responding" not in row[:row.index("</tr>")]
    finally:
        store.close()


def test_a_retired_node_that_runs_again_is_active_again_and_says_so(tmp_path: Path, pg_url: str, inbox: object,
                                                                    daemon: type) -> None:
    a_cfg = node_config(tmp_path, "cart-a", pg_url, inbox, "ingest_a")
    b_cfg = node_config(tmp_path, "cart-b", pg_url, inbox, "ingest_b")
    a = daemon(a_cfg)
    b = daemon(b_cfg)
    a.wait_ready(90)  # a busy machine starts two daemons slowly
    b.wait_ready(90)
    store = Store(pg_url, password=PASSWORD)
    try:
        # retired with --force while it runs: its next heartbeat brings it back, said in its log and to the admin
        forced = reelwatch("fleet", "retire", "cart-b", "--force", "--by", "bob", "--config", str(a_cfg))
        assert forced.returncode == 0, forced.stderr
        assert store.query("SELECT health FROM nodes WHERE name='cart-b'")[0][0] == "retired"

        def told(words: str) -> bool:
            return any(r.role == "admin" and words in json.dumps(r.body) for r in inbox.received)  # type: ignore[attr-defined]
        assert wait_until(lambda: told("it is still running"), 40), b.output()[-3000:]
        assert "node_reactivated" in b.output()
        assert store.query("SELECT health FROM nodes WHERE name='cart-b'")[0][0] == "ok"

        b.stop()  # stopped on purpose: retired without --force
        assert wait_until(lambda: store.query("SELECT health FROM nodes WHERE name='cart-b'")[0][0] == "stopped", 10)
        done = reelwatch("fleet", "retire", "cart-b", "--config", str(a_cfg))
        assert done.returncode == 0, done.stderr
        status = _json("status", "--config", str(a_cfg))
        assert [n["name"] for n in status["nodes"]] == ["cart-a"]  # type: ignore[index]

        b = daemon(b_cfg)  # the cart comes back under the same name
        b.wait_ready(90)
        assert wait_until(lambda: told("it started again"), 30), b.output()[-3000:]
        assert "node_reactivated" in b.output()
        status = _json("status", "--config", str(a_cfg))
        assert sorted(n["name"] for n in status["nodes"]) == ["cart-a", "cart-b"]  # type: ignore[index]
        events = [r[0] for r in store.query("SELECT event FROM audit WHERE event LIKE 'node_%' ORDER BY ts, id")]
        assert events == ["node_retired", "node_reactivated", "node_retired", "node_reactivated"]
    finally:
        store.close()


def test_status_counts_files_waiting_on_other_nodes_claims(tmp_path: Path, pg_url: str) -> None:
    config = _config(tmp_path, pg_url, "nas-a", {"edit_nas": "editorial"})
    store = Store(pg_url, password=PASSWORD)
    try:
        now = time.time()
        for name, beat in (("nas-a", now), ("nas-b", now), ("nas-c", now - 120)):
            fleet.register(store, name, f"{name}.local", ["edit_nas"], "0.9.0", 1, beat)
        assert claims.claim(store, ("edit_nas", "R1/A.mov", 1, 1), "nas-b", 600, now - 40) is None  # checking
        assert claims.claim(store, ("edit_nas", "R1/B.mov", 1, 1), "nas-b", 600, now - 10) is None
        assert claims.claim(store, ("edit_nas", "R1/C.mov", 1, 1), "nas-c", 600, now - 30) is None  # dead, in lease
        assert claims.claim(store, ("edit_nas", "R1/D.mov", 1, 1), "nas-c", 60, now - 70) is None  # lease ran out
        assert claims.claim(store, ("edit_nas", "R1/E.mov", 1, 1), "nas-a", 60, now) is None  # this node's own
        assert claims.claim(store, ("other_share", "X.mov", 1, 1), "nas-b", 60, now) is None  # not watched here

        fleet.beat(store, "nas-b", "ok", "", time.time())  # each command takes seconds on a busy machine
        data = _json("status", "--config", str(config))["claims"]  # type: ignore[index]
        assert data["files"] == 4 and data["oldest_by"] == "nas-c" and data["oldest_age_s"] >= 69
        holders = {h["node"]: h for h in data["holders"]}
        assert holders["nas-b"]["files"] == 2 and holders["nas-b"]["node_state"] == "ok"
        assert holders["nas-c"]["node_state"] == "not heard from" and holders["nas-c"]["expired"] == 1

        fleet.beat(store, "nas-b", "ok", "", time.time())
        text = reelwatch("status", "--config", str(config)).stdout
        oldest = re.search(r"4 file\(s\) being checked by other nodes \(oldest claim (\d+) s, by node nas-c\)", text)
        assert oldest is not None and int(oldest[1]) >= 70, text
        assert "1 held by nas-c, which is not heard from" in text and "lease runs out in" in text
        assert "1 held by nas-c with its lease run out" in text
        assert "held by nas-b" not in text  # a live holder is simply checking

        store.db.execute("DELETE FROM claims")
        assert _json("status", "--config", str(config))["claims"] is None  # type: ignore[index]
    finally:
        store.close()


def test_fleet_of_one_on_sqlite(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert _json("fleet", "--config", str(config)) == []
    assert "no node has registered yet" in reelwatch("fleet", "--config", str(config)).stdout
    store = Store(tmp_path / "state.db")
    try:
        fleet.register(store, "cart-a", "cart-a.local", ["ingest"], "0.9.0", 1, time.time())
    finally:
        store.close()
    [node] = _json("fleet", "--config", str(config))  # type: ignore[misc]
    assert node["name"] == "cart-a" and node["state"] == "online"


def test_the_systemd_status_line_counts_files_checked_by_other_nodes(tmp_path: Path, pg_url: str) -> None:
    from reelwatch.service.daemon import Daemon

    from test_service import NotifySocket
    config = _config(tmp_path, pg_url, "nas-a", {"edit_nas": "editorial"})
    clip = tmp_path / "nas-a" / "edit_nas" / "A001C001.mov"
    clip.write_bytes(b"")
    st = clip.stat()
    key = ("edit_nas", "A001C001.mov", st.st_size, st.st_mtime_ns)
    store = Store(pg_url, password=PASSWORD)
    sock = NotifySocket(tmp_path / "notify.sock")
    d = Daemon(config, env={"NOTIFY_SOCKET": str(sock.path), "WATCHDOG_USEC": "400000"}, tick=0.05)
    try:
        fleet.register(store, "nas-b", "nas-b.local", ["edit_nas"], "0.9.0", 2, time.time())
        assert claims.claim(store, key, "nas-b", 600, time.time()) is None  # nas-b is checking it
        d.start()
        assert sock.wait_for("1 file(s) being checked by other nodes", 60), sock.messages[-3:]
        claims.release(store, key, "nas-b")  # let go without a check recorded: nas-a checks it itself
        assert wait_until(lambda: store.query("SELECT COUNT(*) FROM findings WHERE relpath='A001C001.mov'")[0][0], 60)
        sock.read(0.5)  # drain the pings queued while it waited (they still said so)
        late = [m for m in sock.read(1.0) if "STATUS=" in m]
        assert late
        assert not any("being checked by other nodes" in m for m in late), (late[-2:], d.claims.waiting)
    finally:
        d.stop(drain=0)
        sock.close()
        store.close()
