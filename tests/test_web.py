"""The web pages over a real state database: what they show, the actions and who may do them,
CSRF and Origin checks, logins, escaping, and secrets kept off every page (the in-process ASGI client;
tests/test_web_browser.py drives a real browser against the real daemon)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from reelwatch.checking.runtime import load_runtime
from reelwatch.core.config import ConfigError
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.state.store import Store
from reelwatch.web.auth import LOGIN_FAILS, check_password, hash_password

from conftest import sqlite_only, write_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

XSS = "<img src=x onerror=alert(1)>.mov"
SECRET_URL = "json://127.0.0.1:9/dit?token=sup3rs3cret"
BASE = "http://127.0.0.1:8765"


def _users(**users: tuple[str, bool]) -> str:
    out = []
    for name, (password, can_ack) in users.items():
        out.append(f'[web.users.{name}]\npassword = "{hash_password(password)}"\nroles = ["dit"]\n'
                   f"can_ack = {'true' if can_ack else 'false'}\n")
    return "\n".join(out)


def _production(tmp_path: Path, extra: str = "") -> tuple[object, Store]:
    path = write_config(tmp_path, extra=extra)
    text = path.read_text().replace('json://127.0.0.1:9/dit"', f'{SECRET_URL}"')
    path.write_text(text)
    config = load_runtime(str(path), None).config
    store = Store(config.resolve(config.state.path))
    return config, store


def _finding(store: Store, relpath: str, rule: str = "sanity.truncated", severity: Severity = Severity.ERROR,
             message: str = "the file is cut short", **details: object) -> int:
    asset = Asset(volume="ingest", root="/nowhere", relpath=relpath, size=1000, mtime_ns=1)
    f = Finding(rule, severity, asset, message, owner="dit", impacts=("editorial",), expected="a whole file",
                impact="editorial cannot cut it", fix="copy it again from the card", details=details)
    facts = Facts(kind="media", general={"format": "MPEG-4"},
                  video=({"format": "ProRes", "frame_rate": "23.976", "framerate_num": "24000",
                          "framerate_den": "1001", "width": 1920, "height": 1080},))
    return store.commit_check(asset, facts, [f], lambda f: [("dit", "new"), ("editorial", "affects")], 1)[0]


def _client(config: object, base: str = BASE) -> TestClient:
    from reelwatch.web.app import create_app
    return TestClient(create_app(config, loopback=base.startswith("http://127.")), base_url=base)  # type: ignore[arg-type]


def _csrf(html: str) -> str:
    return re.search(r'<meta name="csrf" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_pages_show_the_state_with_every_name_escaped(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    fid = _finding(store, f"A002R2EC/{XSS}")
    c = _client(config)
    pages = {u: c.get(u) for u in ("/", "/cards", "/findings", f"/findings/{fid}", "/live",
                                   f"/asset?volume=ingest&path=A002R2EC/{XSS}")}
    for url, r in pages.items():
        assert r.status_code == 200, url
        assert "<img src=x" not in r.text, url  # escaped wherever it is shown
        assert "sup3rs3cret" not in r.text and "json://" not in r.text, url
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "cdn" not in r.text.lower() and "https://" not in r.text, url  # every asset served locally
    assert "&lt;img src=x onerror=alert(1)&gt;.mov" in pages[f"/findings/{fid}"].text
    assert "the file is cut short" in pages["/findings"].text
    assert "24000/1001 (23.976)" in pages[f"/asset?volume=ingest&path=A002R2EC/{XSS}"].text
    overview = pages["/"].text
    assert "Oldest unacknowledged error" in overview and f"/findings/{fid}" in overview


def test_findings_filters_and_pages(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    ids = [_finding(store, f"A00{i % 3}R2EC/C{i:03d}.mov", message=f"problem {i}") for i in range(120)]
    _finding(store, "B001/x.mov", rule="spec.frame_rate", severity=Severity.WARNING, message="25 fps, not 24000/1001")
    c = _client(config)
    first = c.get("/findings").text
    assert f"/findings/{ids[-1]}" in first and f'/findings/{ids[0]}"' not in first
    older = re.search(r'href="(/findings\?[^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    assert f"/findings/{ids[60]}" in c.get(older).text
    assert "121 finding(s)" in first
    assert "1 finding(s)" in c.get("/findings?rule=spec").text
    assert "1 finding(s)" in c.get("/findings?text=24000/1001").text
    assert "120 finding(s)" in c.get("/findings?severity=error").text
    assert "40 finding(s)" in c.get("/findings?path=A001R2EC").text
    assert "0 finding(s)" in c.get("/findings?role=vfx").text
    assert "121 finding(s)" in c.get("/findings?role=editorial").text  # an affected role sees them too
    assert "unknown severity" in c.get("/findings?severity=bogus").text


def test_ack_unack_assign_note_are_audited_with_who(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    fid = _finding(store, "A002R2EC/A002C007.mov")
    c = _client(config)
    token = _csrf(c.get(f"/findings/{fid}").text)
    r = c.post(f"/findings/{fid}/ack", data={"csrf": token}, headers={"Origin": BASE}, follow_redirects=False)
    assert r.status_code == 303
    row = store.query("SELECT status, acked_by FROM findings WHERE id=?", (fid,))[0]
    assert row["status"] == "acked" and row["acked_by"].endswith("@web")
    assert c.post(f"/findings/{fid}/unack", data={"csrf": token}).status_code in (200, 303)
    assert store.query("SELECT status FROM findings WHERE id=?", (fid,))[0][0] == "open"
    c.post(f"/findings/{fid}/assign", data={"csrf": token, "role": "vfx"})
    c.post(f"/findings/{fid}/note", data={"csrf": token, "text": "recopy from <card> tonight"})
    events = [(r["event"], json.loads(r["detail"])) for r in store.query("SELECT event, detail FROM audit "
                                                                            "ORDER BY id")]
    kinds = [e for e, _ in events]
    assert kinds[-4:] == ["ack", "unack", "assign", "note"]
    assert all(d.get("by", "").endswith("@web") for _, d in events[-4:])
    assert store.query("SELECT role FROM notices WHERE kind='assigned' AND finding_id=?", (fid,))[0][0] == "vfx"
    page = c.get(f"/findings/{fid}").text
    assert "assigned to <b>vfx</b>" in page and "recopy from &lt;card&gt; tonight" in page
    bad = c.post(f"/findings/{fid}/assign", data={"csrf": token, "role": "nobody"})
    assert bad.status_code == 409 and "not defined" in bad.text


def test_acked_finding_stops_escalating(tmp_path: Path) -> None:
    """The web ack takes the CLI's path: the outbox's escalation skips it, and escalates the other."""
    from reelwatch.notify.outbox import Outbox
    config, store = _production(tmp_path, extra="")
    config = config.model_copy(update={"roles": {**config.roles, "dit": config.roles["dit"].model_copy(
        update={"escalate_to": "supervisor", "escalate_after": 0})}})
    acked, other = _finding(store, "A/1.mov"), _finding(store, "A/2.mov", message="another")
    c = _client(config)
    token = _csrf(c.get("/").text)
    c.post(f"/findings/{acked}/ack", data={"csrf": token})
    Outbox(store, config, lambda *a, **k: None).escalate()  # type: ignore[arg-type]
    up = {r[0] for r in store.query("SELECT finding_id FROM notices WHERE kind='escalated'")}
    assert up == {other}


def test_csrf_and_origin_refused(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    fid = _finding(store, "A/1.mov")
    c = _client(config)
    token = _csrf(c.get("/").text)
    assert c.post(f"/findings/{fid}/ack", data={}).status_code == 403  # no token
    assert c.post(f"/findings/{fid}/ack", data={"csrf": "forged"}).status_code == 403
    r = c.post(f"/findings/{fid}/ack", data={"csrf": token}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    other = _client(config)  # another browser: its own session, so the first one's token is worthless
    assert other.post(f"/findings/{fid}/ack", data={"csrf": token}).status_code == 403
    assert store.query("SELECT status FROM findings WHERE id=?", (fid,))[0][0] == "open"
    r = _client(config).get("/")
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()


def test_loopback_server_refuses_other_host_names(tmp_path: Path) -> None:
    config, _ = _production(tmp_path)
    c = _client(config)
    assert c.get("/", headers={"Host": "rebound.example:8765"}).status_code == 421


def test_users_login_readonly_and_rate_limit(tmp_path: Path) -> None:
    config, store = _production(tmp_path, extra="[web]\nlisten = \"0.0.0.0:8765\"\n" + _users(
        ana=("correct horse", True), rita=("read only pw", False)))
    fid = _finding(store, "A/1.mov")
    c = _client(config, "http://wrangler.local:8765")
    r = c.get("/findings", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    page = c.get("/login").text
    assert "scrypt$" not in page
    r = c.post("/login", data={"csrf": _csrf(page), "user": "ana", "password": "wrong"})
    assert r.status_code == 401 and "wrong user name or password" in r.text
    r = c.post("/login", data={"csrf": _csrf(page), "user": "rita", "password": "read only pw", "next": "/"})
    assert r.status_code == 200 and "read-only" in r.text
    assert 'href="/findings?role=dit&amp;status=open"' in c.get("/findings").text  # her roles, one click away
    token = _csrf(r.text)
    r = c.post(f"/findings/{fid}/ack", data={"csrf": token}, headers={"Accept": "application/json"})
    assert r.status_code == 403 and "may read but not change" in r.json()["error"]
    assert store.query("SELECT status FROM findings WHERE id=?", (fid,))[0][0] == "open"
    d = _client(config, "http://wrangler.local:8765")
    login = _csrf(d.get("/login").text)
    for _ in range(LOGIN_FAILS):
        assert d.post("/login", data={"csrf": login, "user": "ana", "password": "guess"}).status_code == 401
    r = d.post("/login", data={"csrf": login, "user": "ana", "password": "correct horse"})
    assert r.status_code == 429 and "too many failed logins" in r.text  # even the right one, for a while


def test_listen_beyond_loopback_needs_users(tmp_path: Path) -> None:
    path = write_config(tmp_path, extra='[web]\nlisten = "0.0.0.0:8765"\n')
    with pytest.raises(ConfigError, match="beyond this machine"):
        load_runtime(str(path), None)
    from reelwatch.web.serve import WebRefused, server
    config = load_runtime(str(write_config(tmp_path)), None).config
    with pytest.raises(WebRefused, match="refusing to serve on 0.0.0.0"):
        server(config, "0.0.0.0:8765")
    with pytest.raises(ConfigError, match="hash-password"):
        load_runtime(str(write_config(tmp_path, extra='[web.users.bob]\npassword = "hunter2"\n')), None)


def test_password_hashes() -> None:
    from conftest import reelwatch
    made = reelwatch("web", "hash-password", input="correct horse battery\n")
    assert made.returncode == 0 and check_password("correct horse battery", made.stdout.strip())
    assert reelwatch("web", "hash-password", input="short\n").returncode == 2
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert check_password("correct horse", stored) and not check_password("correct hors", stored)
    assert not check_password("x", "scrypt$bad")


def test_demo_prints_the_web_address_and_serves_it(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time
    import urllib.request
    proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "demo", "--dir", str(tmp_path / "demo")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in proc.stdout:  # type: ignore[union-attr]
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
                break
        assert url, "the demo did not say where its web pages are"
        deadline, page = time.monotonic() + 30, ""
        while time.monotonic() < deadline and "Harbour Lights" not in page:
            try:
                page = urllib.request.urlopen(url + "findings", timeout=5).read().decode()
            except OSError:
                time.sleep(0.3)
        assert "Harbour Lights (demo)" in page
    finally:
        proc.wait(120)
    assert proc.returncode == 0


def test_shots_page_shows_versions_gaps_and_regressions(tmp_path: Path) -> None:
    path = write_config(tmp_path, volumes={"ingest": "dit", "delivery": "vfx"})
    config = load_runtime(str(path), None).config
    store = Store(config.resolve(config.state.path))
    for i, version in enumerate(("001", "002", "005", "003")):  # v004 never came; v003 arrived after v005
        rel = f"VFX/AGM_104_065_010/AGM_104_065_010_comp_NFX_v{version}.mov"
        asset = Asset(volume="delivery", root=str(tmp_path / "delivery"), relpath=rel, size=1, mtime_ns=i)
        facts = Facts(kind="media", derived={"fields": {"show": "AGM", "episode": "104", "scene": "065",
                                                        "shot": "010", "task": "comp", "vendor": "NFX",
                                                        "version": version}})
        findings = [Finding("version.regression", Severity.ERROR, asset, "v003 arrived after v005", owner="vfx")] \
            if version == "003" else []
        store.commit_check(asset, facts, findings, lambda f: [("vfx", "new")], i + 1)
    page = _client(config).get("/shots").text
    assert "AGM_104_065_010_comp_NFX" in page
    assert "missing: v004" in page and "last delivered: v003 (older)" in page and "v003 arrived after v005" in page
    assert "1 shot/task line(s)" in page
    assert "0 shot/task line(s)" in _client(config).get("/shots?text=nothing").text


@sqlite_only("damaged pages in the file")
def test_a_damaged_state_database_is_said_on_the_page(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    _finding(store, "A/1.mov")
    store.close()
    db = tmp_path / "state.db"
    import sqlite3
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = c.execute("PRAGMA page_size").fetchone()[0]
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name='findings'").fetchone()[0]
    with open(db, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(b"\xff" * page)
    r = _client(config).get("/findings")
    assert r.status_code == 503 and "state database is damaged" in r.text and "reelwatch state recover" in r.text


def test_the_overview_shows_each_drives_free_space_time_left_and_the_forecasts(tmp_path: Path) -> None:
    """Issue 17: free space, fill rate and time until full in the volumes table, the forecast lines below."""
    from reelwatch.service import forecast_store
    config, store = _production(tmp_path)
    _finding(store, "A002R2EC/A002C001.mov")
    assert "full in" not in _client(config).get("/").text  # no forecasts: no columns for them
    forecast_store.ensure_table(store)
    forecast_store.set_status(store, {"lines": [f"SHUTTLE_02 {XSS} will be full in about 35 min at the current "
                                                "offload rate (1.2 TB/h); 410 GB free"],
                                      "volumes": [{"volume": "ingest", "free_bytes": 410_000_000_000,
                                                   "total_bytes": 2_000_000_000_000,
                                                   "fill_rate_bytes_per_second": {"current": 333_333_333.3,
                                                                                  "pace": 300_000_000.0},
                                                   "seconds_until_full": 2100}], "at": 0})
    page = _client(config).get("/").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.mov will be full in about 35 min" in page
    row = re.search(r'<a href="/findings\?volume=ingest">ingest</a>.*?</tr>', page, re.S)
    assert row, page
    assert "410" in row[0] and "GB" in row[0] and "about 35 min" in row[0] and "1.2 TB/h" in row[0], row[0]
