"""The daemon's own web server (``[web] listen``): a web thread that dies or cannot listen is told like
every other thread (status, the metrics, the systemd watchdog, a message to the admin), and a SIGHUP
that changes ``[web]`` applies it: a removed user is logged out at once, a new address is served."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reelwatch.service.daemon import Daemon
from reelwatch.web.auth import hash_password

from conftest import reelwatch, wait_until, write_config
from test_service import NotifySocket

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def _web(port: int, users: dict[str, str] | None = None) -> str:
    """``[web]`` on ``port`` with ``users`` (name -> password hash)."""
    text = f'[service]\nmetrics = "127.0.0.1:0"\n[web]\nlisten = "127.0.0.1:{port}"\n'
    for name, stored in (users or {}).items():
        text += f'[web.users.{name}]\npassword = "{stored}"\nroles = ["dit"]\ncan_ack = true\n'
    return text


def _healthy_metric(d: Daemon) -> float:
    from prometheus_client.parser import text_string_to_metric_families
    return {s.name: s.value for fam in text_string_to_metric_families(d.metrics.render().decode())
            for s in fam.samples}["reelwatch_healthy"]


def _reload(d: Daemon) -> None:
    """SIGHUP's path: the control thread reloads (the test waits until it has)."""
    done = d.store.query("SELECT COUNT(*) FROM audit WHERE event='reloaded'")[0][0]
    d.reload_requested.set()
    assert wait_until(lambda: d.store.query("SELECT COUNT(*) FROM audit WHERE event='reloaded'")[0][0] > done, 30)


def _login(base: str, user: str, password: str) -> tuple[httpx.Client, int]:
    c = httpx.Client(base_url=base, timeout=10)
    page = c.get("/login").text
    csrf = re.search(r'<meta name="csrf" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"csrf": csrf, "user": user, "password": password, "next": "/findings"})
    return c, r.status_code


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_web_thread_stops_the_watchdog_pings_and_is_told(tmp_path: Path, inbox: object) -> None:
    port = free_port()
    config = write_config(tmp_path, inbox, settle=0.2, extra=_web(port))
    sock = NotifySocket(tmp_path / "notify.sock")
    d = Daemon(config, env={"NOTIFY_SOCKET": str(sock.path), "WATCHDOG_USEC": "400000"}, tick=0.05)
    try:
        d.start()
        assert sock.wait_for("READY=1", 10)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        assert d.healthy() and d.supervise() == []
        d.web.server.should_exit = True  # the server ends as if uvicorn had given up
        d.web.thread.join(10)
        assert not d.healthy()
        sock.read(0.5)
        assert len([m for m in sock.read(1.5) if "WATCHDOG=1" in m]) == 0
        dead = d.supervise()
        assert dead == ["reelwatch-web"] and d.supervise() == dead  # told once
        rows = d.store.query("SELECT detail FROM audit WHERE event='thread_died'")
        assert [json.loads(r["detail"])["thread"] for r in rows] == ["reelwatch-web"]
        told = inbox.wait_for(1, 10, role="admin")  # type: ignore[attr-defined]
        assert told and "reelwatch-web" in told[0].body["title"] and "web pages" in told[0].body["message"]
        assert _healthy_metric(d) == 0
    finally:
        d.stop(drain=0)
        sock.close()


def test_a_taken_port_at_start_is_told_and_shown_in_status(tmp_path: Path, inbox: object,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reelwatch.service.fleet.BEAT_EVERY", 0.0)  # each supervision beats
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = int(holder.getsockname()[1])
    config = write_config(tmp_path, inbox, settle=0.2, extra=_web(taken))
    d = Daemon(config, env={}, tick=0.05)
    try:
        d.start()
        assert not d.healthy()
        assert d.supervise() == ["reelwatch-web"]
        told = inbox.wait_for(1, 10, role="admin")  # type: ignore[attr-defined]
        assert told and f"127.0.0.1:{taken}" in told[0].body["message"]
        assert _healthy_metric(d) == 0
        [node] = d.store.query("SELECT health, detail FROM nodes")  # what the fleet's pages show of this node
        assert node["health"] == "unhealthy" and "reelwatch-web" in node["detail"]
        out = reelwatch("status", "--config", str(config))
        assert "UNHEALTHY" in out.stdout and "reelwatch-web" in out.stdout, out.stdout
        (tmp_path / "ingest" / "A001C001.mov").write_bytes(b"")  # and it keeps guarding meanwhile
        assert wait_until(lambda: d.store.query("SELECT COUNT(*) FROM findings")[0][0] > 0, 20)
        holder.close()  # the address is free again: a reload serves it, and the daemon is healthy again
        _reload(d)
        assert httpx.get(f"http://127.0.0.1:{taken}/", timeout=10).status_code == 200
        assert d.supervise() == [] and d.healthy()
    finally:
        holder.close()
        d.stop(drain=0)


def test_sighup_applies_web_users_and_address(tmp_path: Path, inbox: object, taken: int) -> None:
    first, second = free_port(), free_port()
    users = {"ana": hash_password("correct horse"), "rita": hash_password("read only pw")}
    config = write_config(tmp_path, inbox, settle=0.2, extra=_web(first, users))
    d = Daemon(config, env={}, tick=0.05)
    try:
        d.start()
        base = f"http://127.0.0.1:{first}"
        rita, status = _login(base, "rita", "read only pw")
        assert status == 303 and rita.get("/findings").status_code == 200
        ana, status = _login(base, "ana", "correct horse")
        assert status == 303

        # rita leaves the production: her session ends at the reload, and she cannot log in again
        config.write_text(config.read_text().replace(_web(first, users), "")
                          + _web(first, {"ana": users["ana"]}))
        _reload(d)
        r = rita.get("/findings", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert _login(base, "rita", "read only pw")[1] == 401
        assert ana.get("/findings", follow_redirects=False).status_code == 200  # unchanged: still logged in

        # a new address is served from the reload on, and the old one no longer
        text = re.sub(r'listen = "127\.0\.0\.1:\d+"', f'listen = "127.0.0.1:{second}"', config.read_text())
        config.write_text(text)
        _reload(d)
        assert httpx.get(f"http://127.0.0.1:{second}/login", timeout=10).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/login", timeout=5)
        assert d.healthy() and d.supervise() == []

        # an address that is taken: the reload keeps the rest of the config, and the web is told as dead
        config.write_text(re.sub(r'listen = "127\.0\.0\.1:\d+"', f'listen = "127.0.0.1:{taken}"', config.read_text()))
        _reload(d)
        assert d.supervise() == ["reelwatch-web"]
        told = inbox.wait_for(1, 10, role="admin")  # type: ignore[attr-defined]
        assert told and f"127.0.0.1:{taken}" in told[0].body["message"]
        rita.close()
        ana.close()
    finally:
        d.stop(drain=0)
