"""The web pages in a real browser (Debian's chromium and chromedriver, driven by selenium) against the
real daemon serving them (``[web] listen``) on real files: a truncated clip appears live, is
acknowledged with a click, and stops escalating while the other one escalates; a hostile file name
does not run; a post from another origin, a wrong password and a read-only user's ack are refused."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelwatch.state.store import Store

from conftest import write_config

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
XSS = "<img src=x onerror=alert(1)>.mov"
MIRRORS = ('[[rules.mirrors.sets]]\nname = "offload"\n'
           'copies = [{volume = "raid_a", folder = "Camera Media"}, {volume = "shuttle", folder = "Camera Media"}]\n')

pytestmark = pytest.mark.timeout(240)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def browser() -> Iterator[object]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); "
                    ".ci/run installs them")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(arg)
    opts.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: object, what, timeout: float = 30, message: str = "") -> object:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    # the live list is redrawn as events arrive: an element read between two draws is stale, which
    # means "look again", not a failure (seen under load at the hostile-name step)
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(what, message)


def no_alert(driver: object) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    try:
        text = driver.switch_to.alert.text  # type: ignore[attr-defined]
    except NoAlertPresentException:
        return
    raise AssertionError(f"a script from a file name ran: alert({text!r})")


def copy_in(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest.with_name(dest.name + ".part"))
    (dest.with_name(dest.name + ".part")).rename(dest)


def test_live_ack_escalation_xss_and_csrf_in_a_browser(tmp_path: Path, media: dict[str, Path], inbox: object,
                                                      daemon: type, browser: object) -> None:
    from selenium.webdriver.common.by import By
    port = free_port()
    cfg = write_config(tmp_path, inbox, volumes={"raid_a": "dit", "shuttle": "dit"},  # type: ignore[arg-type]
                       extra=MIRRORS + f'[web]\nlisten = "127.0.0.1:{port}"\n')
    cfg.write_text(cfg.read_text().replace("[roles.dit]\n", '[roles.dit]\nescalate_to = "supervisor"\n'
                                                           "escalate_after = 25\n", 1))
    d = daemon(cfg)
    d.wait_ready()
    base = f"http://127.0.0.1:{port}"
    drv = browser
    drv.get(base + "/live")  # type: ignore[attr-defined]
    wait(drv, lambda b: "on" in b.find_element(By.ID, "live-dot").get_attribute("class"), 60, "no live stream")

    card = "Camera Media/A002R2EC"
    for vol in ("raid_a", "shuttle"):
        copy_in(media["prores_2398"], tmp_path / vol / card / "A002C006_141024_R2EC.mov")
    copy_in(media["truncated"], tmp_path / "raid_a" / card / "A002C007_141024_R2EC.mov")
    copy_in(media["truncated"], tmp_path / "raid_a" / "Camera Media" / "A003R2EC" / "A003C001_141024_R2EC.mov")

    def live_row(b):  # type: ignore[no-untyped-def]
        for li in b.find_elements(By.CSS_SELECTOR, "#live-list li.ev-finding"):
            if "A002C007_141024_R2EC.mov" in li.text and li.find_elements(By.CSS_SELECTOR, "button.ack"):
                return li
        return False

    row = wait(drv, live_row, 60, "the truncated clip never appeared live")
    row.find_element(By.CSS_SELECTOR, "button.ack").click()  # type: ignore[attr-defined]
    wait(drv, lambda b: "acknowledged" in b.find_element(By.ID, "toast").text, 30, "no confirmation")

    store = Store(tmp_path / "state.db", readonly=True)
    acked = store.query("SELECT id, status, acked_by FROM findings WHERE relpath LIKE '%A002C007%' AND "
                        "rule NOT LIKE 'mirror.%'")
    assert [r["status"] for r in acked] == ["acked"] and acked[0]["acked_by"].endswith("@web")
    other = store.query("SELECT id FROM findings WHERE relpath LIKE '%A003C001%' AND status='open' "
                        "AND severity>=30")
    assert other
    # the next message up the chain: the unacknowledged one escalates to the supervisor, the acked one never does
    deadline = time.monotonic() + 90  # escalate_after is 25 s: time enough to click first, even on a loaded machine
    escalated = ""
    while "ESCALATED" not in escalated and time.monotonic() < deadline:
        got = inbox.wait_for(len(inbox.received) + 1, 2, role="supervisor")  # type: ignore[attr-defined]
        escalated = " ".join(r.body.get("message", "") for r in got if "ESCALATED" in r.body.get("message", ""))
    assert "A003C001" in escalated and "A002C007" not in escalated
    time.sleep(1)
    assert not store.query("SELECT 1 FROM notices WHERE kind='escalated' AND finding_id=?", (acked[0]["id"],))

    # the card board: A002R2EC is not safe (a truncated file on one copy only), in red, with why
    drv.get(base + "/cards")  # type: ignore[attr-defined]
    tile = wait(drv, lambda b: [t for t in b.find_elements(By.CSS_SELECTOR, ".card") if "A002R2EC" in t.text], 90)
    assert "DO NOT FORMAT" in tile[0].text  # type: ignore[index]

    # a hostile file name is shown as text, never run
    copy_in(media["truncated"], tmp_path / "raid_a" / "Camera Media" / "A004R2EC" / XSS)
    drv.get(base + "/live")  # type: ignore[attr-defined]
    wait(drv, lambda b: any(XSS in li.text for li in b.find_elements(By.CSS_SELECTOR, "#live-list li")), 60,
         "the oddly named file never appeared")
    no_alert(drv)
    fid, rel = Store(tmp_path / "state.db", readonly=True).query(
        "SELECT id, relpath FROM findings WHERE relpath LIKE ? ORDER BY id LIMIT 1", ("%onerror%",))[0]
    from urllib.parse import urlencode
    for url in (f"/findings/{fid}", "/findings", "/asset?" + urlencode({"volume": "raid_a", "path": rel})):
        drv.get(base + url)  # type: ignore[attr-defined]
        assert XSS in drv.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
        assert not drv.find_elements(By.CSS_SELECTOR, 'img[src="x"]')  # type: ignore[attr-defined]
        no_alert(drv)

    # a form on another origin posting an ack: refused, nothing changes
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "index.html").write_text(
        f'<form id=f method=post action="{base}/findings/{fid}/ack"><input name=csrf value=guess></form>'
        "<script>document.getElementById('f').submit()</script>")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(evil), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        drv.get(f"http://localhost:{server.server_address[1]}/index.html")  # type: ignore[attr-defined]
        wait(drv, lambda b: b.current_url.startswith(base), 60)
        assert "refused" in drv.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
    assert Store(tmp_path / "state.db", readonly=True).query("SELECT status FROM findings WHERE id=?",
                                                             (fid,))[0][0] == "open"


def test_wrong_password_and_read_only_user_refused_in_a_browser(tmp_path: Path, browser: object) -> None:
    from selenium.webdriver.common.by import By

    from reelwatch.core.model import Asset, Facts, Finding, Severity
    from reelwatch.web.auth import hash_password
    port = free_port()
    users = (f'[web]\nlisten = "127.0.0.1:{port}"\n'
             f'[web.users.rita]\npassword = "{hash_password("read only please")}"\ncan_ack = false\n')
    cfg = write_config(tmp_path, extra=users)
    store = Store(tmp_path / "state.db")
    asset = Asset(volume="ingest", root=str(tmp_path / "ingest"), relpath="A002R2EC/A002C007.mov", size=1, mtime_ns=1)
    fid = store.commit_check(asset, Facts(kind="media"), [Finding("sanity.truncated", Severity.ERROR, asset,
                                                                   "the file is cut short", owner="dit")],
                             lambda f: [("dit", "new")], 1)[0]
    store.close()
    web = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "web", "--config", str(cfg)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "reelwatch web:" in (web.stdout.readline() if web.stdout else "")
        base = f"http://127.0.0.1:{port}"
        drv = browser
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        drv.get(base + f"/findings/{fid}")  # type: ignore[attr-defined]
        assert "/login" in drv.current_url  # type: ignore[attr-defined]

        def log_in(password: str) -> None:
            drv.find_element(By.NAME, "user").send_keys("rita")  # type: ignore[attr-defined]
            drv.find_element(By.NAME, "password").send_keys(password)  # type: ignore[attr-defined]
            drv.find_element(By.ID, "login-button").click()  # type: ignore[attr-defined]

        log_in("not her password")
        assert "wrong user name or password" in wait(drv, lambda b: b.find_element(By.ID, "login-error")).text
        log_in("read only please")
        wait(drv, lambda b: f"/findings/{fid}" in b.current_url, 30)
        assert "read-only" in drv.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
        assert not drv.find_elements(By.CSS_SELECTOR, "button.ack")  # type: ignore[attr-defined]
        # posting the ack anyway, with her own valid CSRF token, from the page itself
        answer = drv.execute_async_script(  # type: ignore[attr-defined]
            "const done = arguments[0]; const t = document.querySelector('meta[name=csrf]').content;"
            f"fetch('/findings/{fid}/ack', {{method: 'POST', headers: {{'X-CSRF-Token': t, 'Accept': "
            "'application/json'}, body: new URLSearchParams({csrf: t})}).then(r => r.json().then(j => "
            "done([r.status, j.error])));")
        assert answer[0] == 403 and "may read but not change" in answer[1]
        assert Store(tmp_path / "state.db", readonly=True).query(
            "SELECT status FROM findings WHERE id=?", (fid,))[0][0] == "open"
    finally:
        web.terminate()
        web.wait(10)
