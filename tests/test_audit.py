"""The append-only audit trail, `reelwatch history`, `findings` filters and `ack` by path."""

from __future__ import annotations

import json
import shutil
import time

from conftest import reelwatch, write_config


def test_history_shows_an_assets_life_and_ack_by_path(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3, volumes={"ingest": "dit", "delivery": "vfx"})
    d = daemon(config)
    d.wait_ready()
    clip = tmp_path / "ingest" / "A002R2EC" / "A002C006_141024_R2EC.mov"
    clip.parent.mkdir()
    clip.write_bytes(b"")
    (tmp_path / "delivery" / "shot_v001.mov").write_bytes(b"")
    assert inbox.wait_for(2, 15)
    listed = json.loads(reelwatch("findings", "--config", str(config), "--format", "json",
                                  "--volume", "ingest").stdout)
    assert [f["path"] for f in listed] == [str(clip)]
    vfx = json.loads(reelwatch("findings", "--config", str(config), "--format", "json", "--role", "vfx").stdout)
    assert [f["volume"] for f in vfx] == ["delivery"]
    none = json.loads(reelwatch("findings", "--config", str(config), "--format", "json",
                                "--severity", "blocker").stdout)
    assert none == []
    ack = reelwatch("ack", str(clip), "--config", str(config), "--by", "jo")
    assert ack.returncode == 0 and "acknowledged 1" in ack.stdout
    shutil.copy(media["prores_2398"], clip)  # replaced by a good clip: resolved
    assert inbox.wait_for(4, 15)
    time.sleep(0.5)
    d.stop()
    hist = reelwatch("history", str(clip), "--config", str(config), "--format", "json")
    assert hist.returncode == 0, hist.stderr
    events = [e["event"] for e in json.loads(hist.stdout)["events"] if e["event"] != "told"]
    assert events[:4] == ["checked", "finding", "ack", "checked"] and "resolved" in events
    assert "acknowledged by jo" in reelwatch("history", str(clip), "--config", str(config)).stdout
    still_open = json.loads(reelwatch("findings", "--config", str(config), "--format", "json").stdout)
    assert [f["volume"] for f in still_open] == ["delivery"]


def test_a_good_file_changed_after_ingest_alerts_owner_and_supervisor(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    clip = tmp_path / "ingest" / "A002C006_141024_R2EC.mov"
    shutil.copy(media["prores_2398"], clip)
    d = daemon(config)
    d.wait_ready()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and '"checked"' not in d.output():
        time.sleep(0.1)
    with open(clip, "r+b") as fh:  # someone edits the camera original in place
        fh.truncate(clip.stat().st_size // 2)
    got = inbox.wait_for(1, 15, role="supervisor")
    d.stop()
    assert got and "integrity.changed_after_ingest" in got[0].body["message"]
    assert any("integrity.changed_after_ingest" in m.body["message"] for m in inbox.received if m.role == "dit")
