"""The web pages over a fleet's shared PostgreSQL state (a real PostgreSQL 15 server, tests/pgserver.py):
every page answers, the overview lists each node with its health and says when one has gone quiet,
and each volume and finding names the node that watches it. A frame grab of a file on another node's
volume is not attempted here: the page says which node has the file."""

from __future__ import annotations

import re
import socket
import time
import warnings
from pathlib import Path

from reelwatch.checking.runtime import load_runtime
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.state import fleet
from reelwatch.state.store import Store

from conftest import write_config
from pgserver import PASSWORD

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

XSS = "<img src=x onerror=alert(1)>.mov"


def _config(tmp_path: Path, url: str, node: str, volume: str) -> object:
    path = write_config(tmp_path, volumes={volume: "dit"})
    text = "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("url = "))
    path.write_text(text.replace("[state]\n", f'[state]\nurl = "{url}"\nnode = "{node}"\n', 1))
    return load_runtime(str(path), None).config


def _finding(store: Store, volume: str, relpath: str, message: str) -> int:
    asset = Asset(volume=volume, root="/elsewhere", relpath=relpath, size=1000, mtime_ns=1)
    f = Finding("sanity.truncated", Severity.ERROR, asset, message, owner="dit", impacts=("editorial",),
                expected="a whole file", impact="editorial cannot cut it", fix="copy it again from the card")
    facts = Facts(kind="media", general={"format": "MPEG-4"},
                  video=({"format": "ProRes", "frame_rate": "23.976", "framerate_num": "24000",
                          "framerate_den": "1001", "width": 1920, "height": 1080},))
    return store.commit_check(asset, facts, [f], lambda f: [("dit", "new")], 1)[0]


def _fleet(tmp_path: Path, url: str) -> tuple[object, Store, int, int]:
    """Two registered nodes: cart-a (this web server's config, beating) and lab-nas (silent for
    five minutes), each with a volume and a finding on it."""
    (tmp_path / "cart-a").mkdir()
    config = _config(tmp_path / "cart-a", url, "cart-a", "ingest_a")
    store = Store(url, password=PASSWORD)
    now = time.time()
    fleet.register(store, "cart-a", "cart-a.local", ["ingest_a"], "0.9.0", 101, now - 60)
    fleet.beat(store, "cart-a", "ok", "", now)
    fleet.register(store, "lab-nas", "lab.local", ["lab_raid"], "0.9.0", 202, now - 900)
    fleet.beat(store, "lab-nas", "ok", "", now - 300)
    store.set_volume_status("ingest_a", "inotify", "ok", now, 0, None)
    store.set_volume_status("lab_raid", "polling", "ok", now - 300, 0, None)
    mine = _finding(store, "ingest_a", "A002R2EC/A002C007.mov", "cut short on the cart")
    theirs = _finding(store, "lab_raid", f"A002R2EC/{XSS}", "cut short at the lab")
    store.audit("started", config="cart-a")
    return config, store, mine, theirs


def _client(config: object) -> TestClient:
    from reelwatch.web.app import create_app
    return TestClient(create_app(config), base_url="http://127.0.0.1:8765")  # type: ignore[arg-type]


def test_every_page_answers_over_postgresql(tmp_path: Path, pg_url: str) -> None:
    config, store, mine, theirs = _fleet(tmp_path, pg_url)
    with _client(config) as c:
        urls = ["/", "/cards", "/findings", "/findings?status=all", "/findings?text=lab", "/findings?rule=sanity",
                "/findings?role=editorial", "/findings?path=A002R2EC", "/findings?volume=lab_raid", "/shots", "/live",
                f"/findings/{mine}", f"/findings/{theirs}", "/asset?volume=ingest_a&path=A002R2EC/A002C007.mov",
                f"/asset?volume=lab_raid&path=A002R2EC/{XSS}"]
        for url in urls:
            r = c.get(url)
            assert r.status_code == 200, (url, r.text[-2000:])
            assert "<img src=x" not in r.text, url
        assert "2 finding(s)" in c.get("/findings").text
        assert "1 finding(s)" in c.get("/findings?text=lab").text
        assert "2 finding(s)" in c.get("/findings?path=A002R2EC").text
        from reelwatch.web import queries  # what the live page streams, read from the fleet's audit trail
        assert {e["finding"]["id"] for e in queries.new_events(store, 0) if e["event"] == "finding"} == {mine, theirs}
        token = re.search(r'<meta name="csrf" content="([^"]+)"', c.get("/").text).group(1)  # type: ignore[union-attr]
        r = c.post(f"/findings/{theirs}/ack", data={"csrf": token}, headers={"Accept": "application/json"})
        assert r.status_code == 200 and r.json()["ok"], r.text
        assert store.query("SELECT status FROM findings WHERE id=?", (theirs,))[0][0] == "acked"
    store.close()


def test_the_overview_shows_each_node_and_a_silent_one(tmp_path: Path, pg_url: str) -> None:
    config, store, mine, theirs = _fleet(tmp_path, pg_url)
    with _client(config) as c:
        page = c.get("/").text
        fleet_panel = page[page.index('id="fleet"'):]
        fleet_panel = fleet_panel[:fleet_panel.index("</section>")]
        assert "cart-a" in fleet_panel and "lab-nas" in fleet_panel and "lab.local" in fleet_panel
        assert "0.9.0" in fleet_panel and "ingest_a" in fleet_panel and "lab_raid" in fleet_panel
        row = fleet_panel[fleet_panel.index("lab-nas"):]
        row = row[:row.index("</tr>")]
        assert "not responding" in row and "5 min" in row  # its last beat was five minutes ago
        daemon = page[page.index('class="panel daemon'):]
        daemon = daemon[:daemon.index("</section>")]
        assert "lab-nas" in daemon and "not responding" in daemon  # the headline says a node went quiet
        # the lab's volume, which this node's config does not name, is listed with its node, not as watching
        vols = page[page.index("<h2>Volumes</h2>"):]
        lab = vols[vols.index("lab_raid"):]
        lab = lab[:lab.index("</tr>")]
        assert "lab-nas" in lab and "not responding" in lab
        # each finding says which node watches its file; the grab of a file on another node is not
        # attempted from here: the page says where it is
        assert "watched by node lab-nas" in c.get(f"/findings/{theirs}").text
        # a node names itself in each check it records: the finding says who found it, the history who checked
        first = store.query("SELECT first_seen FROM findings WHERE id=?", (theirs,))[0][0]
        store.db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'checked', ?, ?, ?)",
                         (first, "lab_raid", f"A002R2EC/{XSS}", '{"findings": 1, "node": "lab-nas"}'))
        assert "found by node lab-nas" in c.get(f"/findings/{theirs}").text
        assert "checked by node lab-nas: 1 problem(s) found" in c.get(f"/asset?volume=lab_raid&path=A002R2EC/{XSS}").text
        asset = c.get(f"/asset?volume=lab_raid&path=A002R2EC/{XSS}").text
        assert "/asset/grab" not in asset and "on lab-nas" in asset
        assert c.get(f"/asset/grab?volume=lab_raid&path=A002R2EC/{XSS}").status_code == 404
        listing = c.get("/findings?status=all").text
        assert "lab-nas" in listing and "cart-a" in listing
        # a node that stopped on purpose says so, and is not "not responding"
        fleet.leave(store, "lab-nas", time.time() - 300)
        row = c.get("/").text
        row = row[row.index('id="fleet"'):]
        row = row[row.index("lab-nas"):]
        assert "stopped" in row[:row.index("</tr>")] and "not responding" not in row[:row.index("</tr>")]
    store.close()


def test_the_web_and_the_daemon_agree_when_a_node_is_stale() -> None:
    """The pages cannot import the service; their threshold must be the one ``status`` uses."""
    from reelwatch.service.fleet import BEAT_EVERY
    from reelwatch.web.fleet import STALE_AFTER
    assert STALE_AFTER == fleet.STALE_AFTER * BEAT_EVERY


def test_a_node_serves_the_whole_fleet_from_real_daemons(tmp_path: Path, pg_url: str, inbox: object,
                                                          daemon: type) -> None:
    """Two real daemons on one PostgreSQL; the pages served by cart-a show cart-b's finding, name
    cart-b, acknowledge it for the fleet, and say so when cart-b stops."""
    import httpx

    from conftest import wait_until
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    nodes = {}
    for name, volume, extra in (("cart-a", "ingest_a", f'[web]\nlisten = "127.0.0.1:{port}"\n'),
                                ("cart-b", "ingest_b", "")):
        (tmp_path / name).mkdir()
        path = write_config(tmp_path / name, inbox, volumes={volume: "dit"}, settle=0.2, extra=extra)  # type: ignore[arg-type]
        text = "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("url = "))
        path.write_text(text.replace("[state]\n", f'[state]\nurl = "{pg_url}"\nnode = "{name}"\n', 1))
        nodes[name] = daemon(path)
    for d in nodes.values():
        d.wait_ready()
    (tmp_path / "cart-b" / "ingest_b" / "A001C001.mov").write_bytes(b"")  # an empty clip: a finding on cart-b
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    assert wait_until(lambda: "A001C001.mov" in web.get("/findings").text, 60), nodes["cart-b"].output()[-3000:]
    listing = web.get("/findings").text
    fid = int(re.search(r'href="/findings/(\d+)"', listing).group(1))  # type: ignore[union-attr]
    assert "(node cart-b)" in listing
    overview = web.get("/").text
    panel = overview[overview.index('id="fleet"'):overview.index("<h2>Volumes</h2>")]
    assert "cart-a" in panel and "cart-b" in panel and "ingest_b" in panel and "not responding" not in panel
    page = web.get(f"/findings/{fid}").text
    csrf = re.search(r'<meta name="csrf" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = web.post(f"/findings/{fid}/ack", data={"csrf": csrf}, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["ok"], r.text
    store = Store(pg_url, password=PASSWORD)
    try:
        assert store.query("SELECT status FROM findings WHERE id=?", (fid,))[0][0] == "acked"
    finally:
        store.close()
    nodes["cart-b"].stop()

    def stopped() -> bool:
        text = web.get("/").text
        row = text[text.index('id="fleet"'):]
        row = row[row.index("cart-b"):]
        return "stopped" in row[:row.index("</tr>")]
    assert wait_until(stopped, 20)
    web.close()


def test_prefix_filters_hold_in_a_language_collation(tmp_path: Path, pg_server: object,
                                                     monkeypatch: object) -> None:
    """A facility's database often sorts in a language's collation, where punctuation is ignored: a
    range such as rule >= 'mirror.' AND rule < 'mirror/' then misses 'mirror.safe_to_format'."""
    import os

    import psycopg
    import pytest

    from reelwatch.web import cards, queries
    name = f"icu{os.getpid()}"
    with psycopg.connect(pg_server.url(), password=PASSWORD, autocommit=True) as conn:  # type: ignore[attr-defined]
        try:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
                         "ICU_LOCALE 'en-US-u-ka-shifted' LOCALE 'C.UTF-8'")
        except psycopg.Error as exc:
            pytest.skip(f"this PostgreSQL has no ICU collations: {exc}")
    store = Store(pg_server.url(name), password=PASSWORD)  # type: ignore[attr-defined]
    try:
        assert store.query("SELECT 'mirror.safe_to_format' < 'mirror/'")[0][0] is False  # as in the field
        asset = Asset(volume="raid_a", root="/r", relpath="Camera Media/A002R2EC", size=0, mtime_ns=1)
        verdict = Finding("mirror.safe_to_format", Severity.INFO, asset, "safe to format", owner="dit",
                          details={"set": "offload", "unit": "A002R2EC", "positive": True})
        store.commit_check(asset, Facts(kind="folder"), [verdict], lambda f: [("dit", "new")], 1)
        _finding(store, "raid_a", "Camera Media/A002R2EC/A002C007.mov", "cut short")
        assert [c["verdict"] for c in cards.cards(store)] == ["safe"]
        assert queries.findings_page(store, queries.Filters(rule="sanity"))["total"] == 1
        near = queries.findings_page(store, queries.Filters(path="Camera Media/A002R2EC"), volumes=["raid_a"])
        assert near["total"] == 2  # the card folder's verdict and the clip in it
        _finding(store, "raid_a", "Camera Media/A0_2%/C.mov", "odd name")  # LIKE's wildcards are plain here
        assert queries.findings_page(store, queries.Filters(path="Camera Media/A0_2%"), volumes=["raid_a"])[
            "total"] == 1
        card = cards.card(store, "offload", "A002R2EC")
        assert card is not None and [f["relpath"] for f in cards.card_files(store, card)] == [
            "Camera Media/A002R2EC/A002C007.mov"]
    finally:
        store.close()


def test_the_database_going_away_is_said_on_the_page_and_the_pages_come_back(tmp_path: Path,
                                                                             own_pg_server: object) -> None:
    server = own_pg_server
    config, store, mine, theirs = _fleet(tmp_path, server.new_database())  # type: ignore[attr-defined]
    store.close()
    with _client(config) as c:
        assert c.get("/").status_code == 200
        server.stop()  # type: ignore[attr-defined]
        for url in ("/", "/findings", f"/findings/{theirs}"):
            r = c.get(url)
            assert r.status_code == 503 and "cannot be reached" in r.text, (url, r.status_code, r.text[-500:])
            assert PASSWORD not in r.text and "reelwatch status" in r.text
        server.start()  # type: ignore[attr-defined]
        from conftest import wait_until
        assert wait_until(lambda: c.get("/").status_code == 200, 30)
        assert "cut short at the lab" in c.get("/findings").text


def test_shots_count_the_versions_on_every_node_share(tmp_path: Path, pg_url: str) -> None:
    """v001 and v003 on London's share, v002 on Paris's: one line with no hole, as the versions rule
    sees it across the fleet (served from London's node, whose config names only its own share)."""
    (tmp_path / "ldn").mkdir()
    path = write_config(tmp_path / "ldn", volumes={"delivery_ldn": "vfx"})
    text = "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("url = "))
    path.write_text(text.replace("[state]\n", f'[state]\nurl = "{pg_url}"\nnode = "nas-london"\n', 1))
    config = load_runtime(str(path), None).config
    store = Store(pg_url, password=PASSWORD)
    now = time.time()
    fleet.register(store, "nas-london", "ldn", ["delivery_ldn"], "0.9.0", 1, now)
    fleet.register(store, "nas-paris", "par", ["delivery_par"], "0.9.0", 2, now)
    for i, (volume, version) in enumerate((("delivery_ldn", "001"), ("delivery_par", "002"), ("delivery_ldn", "003"))):
        rel = f"VFX/AGM_104_065_010/AGM_104_065_010_comp_NFX_v{version}.mov"
        asset = Asset(volume=volume, root=f"/{volume}", relpath=rel, size=1, mtime_ns=i)
        facts = Facts(kind="media", derived={"fields": {"show": "AGM", "episode": "104", "scene": "065",
                                                        "shot": "010", "task": "comp", "vendor": "NFX",
                                                        "version": version}})
        store.commit_check(asset, facts, [], lambda f: [], i + 1)
    with _client(config) as c:
        page = c.get("/shots").text
    store.close()
    assert "AGM_104_065_010_comp_NFX" in page and "delivery_par" in page
    assert "missing: v002" not in page and "v002" in page
