"""End to end: a file lands on a watched volume and a role's inbox receives one message."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import write_config


def copy_in_chunks(src: Path, dest: Path, chunks: int = 6, pause: float = 0.5) -> float:
    """Write ``src`` to ``dest`` in chunks over a few seconds; returns when the copy ended."""
    from reelwatch.demo.run import copy_in_chunks as copy
    copy(src, dest, chunks, pause)
    return time.time()


def test_truncated_clip_copied_in_chunks_gives_exactly_one_message_after_the_copy(
        tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=1.0)
    d = daemon(config)
    d.wait_ready()
    dest = tmp_path / "ingest" / "A002R2EC" / "A002C007_141024_R2EC.mov"
    copy_done = copy_in_chunks(media["truncated"], dest)
    got = inbox.wait_for(1, timeout=20, role="dit")
    assert len(got) == 1, d.output()
    message = got[0]
    assert message.at >= copy_done, "a message arrived before the copy had finished"
    assert "sanity.truncated" in message.body["message"]
    assert "BLOCKER" in message.body["title"]
    time.sleep(2.5)  # nothing more may follow for the same file
    assert len([m for m in inbox.received if m.role == "dit"]) == 1
    # impacted roles hear about it too, as "affects you"
    assert inbox.wait_for(1, timeout=5, role="editorial")
    assert d.stop() == 0


def test_restart_neither_rechecks_nor_realerts(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    (tmp_path / "ingest" / "card").mkdir(parents=True)
    (tmp_path / "ingest" / "card" / "A002C012_141024_R2EC.mov").write_bytes(b"")
    d = daemon(config)
    d.wait_ready()
    assert len(inbox.wait_for(1, timeout=15, role="dit")) == 1
    assert d.stop() == 0
    checked = d.output().count('"event": "checked"')
    assert checked == 1
    d2 = daemon(config)
    d2.wait_ready()
    time.sleep(2)
    assert d2.stop() == 0
    assert '"event": "checked"' not in d2.output()
    assert len([m for m in inbox.received if m.role == "dit"]) == 1


def test_files_added_while_stopped_are_checked_at_startup(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    d = daemon(config)
    d.wait_ready()
    assert d.stop() == 0
    (tmp_path / "ingest" / "A002C012_141024_R2EC.mov").write_bytes(b"")
    d2 = daemon(config)
    d2.wait_ready()
    got = inbox.wait_for(1, timeout=15, role="dit")
    assert got and "sanity.empty" in got[0].body["message"]
    d2.stop()


def test_daemon_survives_a_raising_plugin_and_reports_it(tmp_path, inbox, daemon):
    plugins = tmp_path / "facility_plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text(
        "from reelwatch import hookimpl\n@hookimpl\ndef check(asset):\n    raise RuntimeError('boom')\n")
    config = write_config(tmp_path, inbox, settle=0.3, extra=f'[plugins]\ndirs = ["{plugins}"]\n')
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "x.mov").write_bytes(b"")
    got = inbox.wait_for(1, timeout=15, role="dit")
    assert got, d.output()
    body = got[0].body["message"]
    assert "sanity.empty" in body  # the other checks still ran
    admin = inbox.wait_for(1, timeout=10, role="admin")
    assert admin and "reelwatch.plugin_error" in admin[0].body["message"] and "broken" in admin[0].body["message"]
    assert d.proc.poll() is None
    d.stop()


def test_sigterm_stops_cleanly_and_state_is_readable(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2)
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "empty.mov").write_bytes(b"")
    assert inbox.wait_for(1, timeout=15, role="dit")
    assert d.stop() == 0
    from conftest import reelwatch
    out = reelwatch("findings", "--config", str(config), "--format", "json")
    rows = json.loads(out.stdout)
    assert [r["rule"] for r in rows] == ["sanity.empty"]
