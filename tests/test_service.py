"""Service behaviour: sd_notify READY/WATCHDOG/STATUS, metrics, status, DIT cart mount roots."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path


from reelwatch.service.daemon import Daemon

from conftest import reelwatch, write_config


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []

    def read(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        got = []
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data))
            got.append(data)
        return got

    def wait_for(self, needle: str, seconds: float) -> str | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for data in self.read(0.2):
                if needle in data:
                    return data
        return None

    def close(self) -> None:
        self.sock.close()


def wait_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_ready_after_reconcile_watchdog_pings_and_they_stop_when_the_observer_dies(tmp_path, inbox):
    config = write_config(tmp_path, inbox, settle=0.2)
    (tmp_path / "ingest" / "present_before_start.mov").write_bytes(b"")
    sock = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": str(sock.path), "WATCHDOG_USEC": "400000"}
    daemon = Daemon(config, env=env, tick=0.05)
    try:
        daemon.start()
        ready = sock.wait_for("READY=1", 10)
        assert ready and "STATUS=" in ready
        assert daemon.volumes["ingest"].last_scan is not None and daemon.volumes["ingest"].last_scan.files == 1
        pings = [m for m in sock.read(1.5) if "WATCHDOG=1" in m]
        assert len(pings) >= 3  # every 0.2 s: half of WATCHDOG_USEC
        daemon.volumes["ingest"].observer.stop()  # end the observer thread
        sock.read(0.5)  # drain what was in flight
        assert [m for m in sock.read(1.5) if "WATCHDOG=1" in m] == []
    finally:
        daemon.stop(drain=0)
        sock.close()


def test_metrics_endpoint_counters_move_as_files_are_checked(tmp_path, inbox):
    from prometheus_client.parser import text_string_to_metric_families
    config = write_config(tmp_path, inbox, settle=0.2, extra='[service]\nmetrics = "127.0.0.1:0"\n')
    daemon = Daemon(config, env={}, tick=0.05)

    def scrape() -> dict[str, float]:
        text = urllib.request.urlopen(daemon.metrics_server.url, timeout=5).read().decode()
        out = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                                if s.labels else "")
                out[key] = s.value
        return out

    try:
        daemon.start()
        assert daemon.metrics_server is not None and daemon.metrics_server.url.startswith("http://127.0.0.1:")
        before = scrape()
        assert before.get("reelwatch_files_checked_total{volume=ingest}", 0) == 0
        for i in range(3):
            (tmp_path / "ingest" / f"e{i}.mov").write_bytes(b"")
        assert wait_until(lambda: scrape().get("reelwatch_files_checked_total{volume=ingest}", 0) == 3, 15)
        after = scrape()
        assert after["reelwatch_files_seen_total{volume=ingest}"] == 3
        assert after["reelwatch_findings_total{rule=sanity.empty,severity=error}"] == 3
        assert after["reelwatch_check_seconds_count"] == 3
        assert wait_until(lambda: scrape().get("reelwatch_observer_healthy{kind=inotify,volume=ingest}") == 1, 5)
        assert any(k.startswith("reelwatch_reconcile_seconds") for k in after)
        assert "reelwatch_outbox_depth" in after
    finally:
        daemon.stop(drain=0)


def test_status_reads_the_state_while_the_daemon_runs(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2)
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "e.mov").write_bytes(b"")
    assert inbox.wait_for(1, 15, role="dit")
    time.sleep(2.5)
    out = reelwatch("status", "--config", str(config), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    vol = data["volumes"][0]
    assert vol["name"] == "ingest" and vol["observer"] == "inotify" and vol["health"] == "ok"
    assert vol["last_event"] is not None
    assert data["findings"] == {"error": 1}
    assert data["outbox"]["pending"] == 0
    d.stop()


def test_dit_cart_drives_are_picked_up_and_let_go(tmp_path, inbox, daemon):
    media_root = tmp_path / "media"
    media_root.mkdir()
    config = write_config(tmp_path, inbox, settle=0.3)
    text = config.read_text().replace(f'path = "{tmp_path / "ingest"}"', f'path = "{media_root}/*"')
    config.write_text(text)
    d = daemon(config)
    d.wait_ready()
    drive = media_root / "SHUTTLE_01"
    (drive / "A002R2EC").mkdir(parents=True)  # a drive is mounted
    time.sleep(1)
    (drive / "A002R2EC" / "A002C001.mov").write_bytes(b"")
    got = inbox.wait_for(1, 15, role="dit")
    assert got and "A002C001.mov" in got[0].body["message"], d.output()
    assert '"drive_picked_up"' in d.output()
    time.sleep(1)
    delivered = len(inbox.received)  # the DIT's message, and editorial's "affects you"
    # unplugged mid-copy: a half-written file, then the drive is gone
    with open(drive / "A002R2EC" / "A002C002.mov", "wb") as fh:
        fh.write(b"\0" * 1000)
    import shutil
    shutil.rmtree(drive)
    assert wait_until(lambda: '"drive_let_go"' in d.output(), 10), d.output()
    time.sleep(1.5)
    assert len(inbox.received) == delivered, [m.body["title"] for m in inbox.received]  # no false alarms
    assert not any("A002C002" in m.body["message"] for m in inbox.received)
    assert d.proc.poll() is None
    assert "check_failed" not in d.output() and "volume_unavailable" not in d.output()
    d.stop()


def test_journald_lines_carry_a_priority_and_no_locals_or_secrets(tmp_path):
    import io
    import structlog
    from reelwatch.service.log import configure_logging
    from reelwatch.core.redact import Redactor
    secret = "json://admin:Pa55w0rdXYZ@127.0.0.1:8080/T0kenABC123xyz"
    out = io.StringIO()
    configure_logging(redactor=Redactor([secret]), level="info", stream=out, journal=True)
    log = structlog.get_logger("t")
    log.info("delivery", target=secret)
    try:
        token = "Pa55w0rdXYZ"  # noqa: F841  a local that must not be dumped
        raise RuntimeError("send failed for " + secret)
    except RuntimeError:
        log.error("send_failed", exc_info=True)
    configure_logging(level="warning")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("<6>{") and lines[-1].startswith("<3>{")
    parsed = [json.loads(line[3:]) for line in lines]
    assert parsed[0]["event"] == "delivery" and parsed[1]["event"] == "send_failed"
    assert "Pa55w0rdXYZ" not in out.getvalue() and "T0kenABC123xyz" not in out.getvalue()
    assert "\"locals\"" not in json.dumps(parsed[1]) and "exception" in parsed[1]
