"""The admin commands see what the daemon sees: drives picked up under a mount root in
``status``, ``history`` and ``findings``; readable text for people and JSON for scripts;
clear usage errors; docs and messages that name settings as they are."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from reelwatch.core.config import Notify
from reelwatch.service.metrics import check_address

from conftest import reelwatch, write_config
from test_service import wait_until

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cart(tmp_path, inbox, daemon):
    """A DIT cart: the volume ``shuttle`` is a mount root; a drive with one empty clip on it."""
    media_root = tmp_path / "media"
    media_root.mkdir()
    config = write_config(tmp_path, inbox, settle=0.2, volumes={"shuttle": "dit"})
    config.write_text(config.read_text().replace(f'path = "{tmp_path / "shuttle"}"', f'path = "{media_root}/*"'))
    d = daemon(config)
    d.wait_ready()
    drive = media_root / "SHUTTLE_01"
    (drive / "A002R2EC").mkdir(parents=True)
    time.sleep(1)
    clip = drive / "A002R2EC" / "A002C001_141024_R2EC.mov"
    clip.write_bytes(b"")
    assert inbox.wait_for(1, 20, role="dit"), d.output()
    time.sleep(2.5)  # a status write
    return config, clip, d


def test_drives_under_a_mount_root_are_in_status_history_and_findings(cart):
    config, clip, d = cart
    out = reelwatch("status", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "shuttle-SHUTTLE_01" in out.stdout and "1 drive(s) mounted" in out.stdout
    assert "daemon: running since" in out.stdout
    data = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    drive = next(v for v in data["volumes"] if v["name"] == "shuttle-SHUTTLE_01")
    assert drive["health"] == "ok" and drive["drive_of"] == "shuttle" and data["daemon"]["state"] == "running"

    out = reelwatch("findings", "--config", str(config), "--volume", "shuttle", "--format", "json")
    rows = json.loads(out.stdout)
    assert [r["rule"] for r in rows] == ["sanity.empty"] and rows[0]["volume"] == "shuttle-SHUTTLE_01"
    assert json.loads(reelwatch("findings", "--config", str(config), "--volume", "shuttle-SHUTTLE_01",
                                "--format", "json").stdout) == rows

    out = reelwatch("history", str(clip), "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "history of A002R2EC/A002C001_141024_R2EC.mov on volume shuttle-SHUTTLE_01" in out.stdout
    assert "checked: 0 bytes" in out.stdout and f"finding #{rows[0]['id']} (error, sanity.empty)" in out.stdout
    assert "told to dit" in out.stdout
    for raw in ("mtime_ns", "{", "None"):
        assert raw not in out.stdout, out.stdout
    events = json.loads(reelwatch("history", str(clip), "--config", str(config), "--format", "json").stdout)
    assert events["volume"] == "shuttle-SHUTTLE_01"
    checked = next(e for e in events["events"] if e["event"] == "checked")
    assert checked["detail"]["size"] == 0 and "mtime_ns" in checked["detail"]  # scripts get the raw values

    assert reelwatch("ack", str(rows[0]["id"]), "--config", str(config)).returncode == 0
    out = reelwatch("history", str(clip), "--config", str(config))
    assert f"finding #{rows[0]['id']} acknowledged by" in out.stdout
    d.stop()
    out = reelwatch("status", "--config", str(config))
    assert "daemon: stopped at" in out.stdout


def test_status_text_has_no_python_values(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2, volumes={"ingest": "dit", "delivery": "vfx"})
    out = reelwatch("status", "--config", str(config))  # before the daemon ever ran
    assert out.returncode == 0 and "never run" in out.stdout
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "e.mov").write_bytes(b"")
    assert inbox.wait_for(1, 15, role="dit")
    time.sleep(2.5)
    out = reelwatch("status", "--config", str(config))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "open findings: 1 error" in text and "outbox: 0 message(s) waiting to be sent; 0 dead-lettered" in text
    for raw in ("{", "}", "None", "'pending'"):
        assert raw not in text, text


def test_findings_and_ack_usage_errors_are_clear(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2)
    out = reelwatch("findings", "--config", str(config), "--severity", "bogus")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "unknown severity 'bogus'; allowed: info, warning, error, blocker" in out.stderr
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "e.mov").write_bytes(b"")
    assert inbox.wait_for(1, 15, role="dit")
    d.stop()
    out = reelwatch("ack", "99", "--config", str(config))
    assert out.returncode != 0 and "finding 99 does not exist" in out.stderr, (out.stdout, out.stderr)
    [row] = json.loads(reelwatch("findings", "--config", str(config), "--format", "json").stdout)
    out = reelwatch("ack", str(row["id"]), "99", "--config", str(config))
    assert out.returncode != 0 and "acknowledged 1 finding(s)" in out.stdout and "99 does not exist" in out.stderr
    out = reelwatch("ack", str(row["id"]), "--config", str(config))
    assert out.returncode != 0 and f"finding {row['id']} is already acked" in out.stderr
    out = reelwatch("ack", str(tmp_path / "ingest" / "nothing_here.mov"), "--config", str(config))
    assert out.returncode != 0 and "no open finding on" in out.stderr
    assert reelwatch("findings", "--config", str(config), "--severity", "Error").returncode == 0


def test_a_quiet_polling_daemon_does_not_log_reconciled_on_every_poll(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2)
    config.write_text(config.read_text().replace('observer = "inotify"', 'observer = "polling"\npoll_interval = 0.2'))
    d = daemon(config)
    d.wait_ready()
    time.sleep(3)  # about 15 polls with nothing new
    assert d.output().count('"reconciled"') == 1, d.output()
    (tmp_path / "ingest" / "e.mov").write_bytes(b"")
    assert inbox.wait_for(1, 15, role="dit")
    assert wait_until(lambda: d.output().count('"reconciled"') >= 2, 5)  # the poll that found it says so
    assert d.output().count('"reconciled"') <= 3
    d.stop()


def test_deploy_doc_states_the_real_notify_defaults():
    text = (ROOT / "docs" / "deploy.md").read_text()
    match = re.search(r"With the defaults \(`max_attempts = (\d+)`,\s+`retry_base = ([\d.]+)`\)", text)
    assert match, "docs/deploy.md must state the notify defaults"
    assert int(match[1]) == Notify.model_fields["max_attempts"].default
    assert float(match[2]) == Notify.model_fields["retry_base"].default


def test_the_metrics_error_suggests_only_settings_that_exist(tmp_path):
    with pytest.raises(ValueError) as err:
        check_address("0.0.0.0:9464")
    text = str(err.value)
    assert 'metrics = "127.0.0.1:9464"' in text and "allow" not in text
    config = write_config(tmp_path, extra='[service]\nmetrics = "0.0.0.0:9464"\n')
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 2 and "service.metrics" in out.stderr and "allow" not in out.stderr
