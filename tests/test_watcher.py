"""The watcher: never miss a file, never check a half-copied one, survive restarts and outages.
Real temp volumes, real observers, the real daemon in a child process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from reelwatch.watch.observers import mount_of

from conftest import open_state_db, reelwatch, wait_until, write_config


def audit(tmp_path: Path, event: str) -> list[tuple[str, str]]:
    db = open_state_db(tmp_path / "state.db")
    try:
        return db.execute("SELECT relpath, detail FROM audit WHERE event=? ORDER BY id", (event,)).fetchall()
    finally:
        db.close()



def test_reopen_per_chunk_writer_is_checked_once_after_it_finishes(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=1.0)
    d = daemon(config)
    d.wait_ready()
    data = media["prores_2398"].read_bytes()
    dest = tmp_path / "ingest" / "A002C006_141024_R2EC.mov"
    step = len(data) // 5 + 1
    for i in range(0, len(data), step):
        with open(dest, "ab") as fh:  # every chunk reopens and closes: several close events
            fh.write(data[i:i + step])
        time.sleep(0.4)
    assert wait_until(lambda: audit(tmp_path, "checked"), 15), d.output()
    time.sleep(1.5)
    checks = audit(tmp_path, "checked")
    assert len(checks) == 1
    assert json.loads(checks[0][1])["size"] == len(data)
    assert d.stop() == 0


def test_rsync_style_temp_then_rename_is_followed_to_the_final_name(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.5)
    d = daemon(config)
    d.wait_ready()
    card = tmp_path / "ingest" / "A002R2EC"
    card.mkdir()
    temp = card / ".A002C007_141024_R2EC.mov.Xa81Qz"
    data = media["truncated"].read_bytes()
    with open(temp, "wb") as fh:
        for i in range(0, len(data), len(data) // 4 + 1):
            fh.write(data[i:i + len(data) // 4 + 1])
            fh.flush()
            time.sleep(0.4)
    os.rename(temp, card / "A002C007_141024_R2EC.mov")
    got = inbox.wait_for(1, timeout=15, role="dit")
    assert got and "A002C007_141024_R2EC.mov" in got[0].body["message"]
    time.sleep(1)
    paths = [p for p, _ in audit(tmp_path, "checked")]
    assert paths == ["A002R2EC/A002C007_141024_R2EC.mov"]
    assert all(".Xa81Qz" not in m.body["message"] for m in inbox.received)
    d.stop()


def test_kill_9_mid_burst_then_restart_checks_each_file_once_and_sends_no_duplicate(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3, digest=0.5, roles=("dit", "editorial"))
    d = daemon(config)
    d.wait_ready()
    burst = tmp_path / "ingest" / "burst"
    burst.mkdir()
    for i in range(200):
        (burst / f"clip_{i:03d}.mov").write_bytes(b"")
    assert wait_until(lambda: len(audit(tmp_path, "checked")) >= 60, 60), d.output()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d2 = daemon(config)
    d2.wait_ready()
    assert wait_until(lambda: len(audit(tmp_path, "checked")) >= 200, 90), d2.output()

    def delivered_names() -> list[str]:
        names = []
        for m in inbox.received:
            if m.role == "dit":
                names += [f"clip_{i:03d}.mov" for i in range(200) if f"clip_{i:03d}.mov" in m.body["message"]]
        return names

    # a digest lists the first few paths of a group; every finding is counted through the ids instead
    assert wait_until(lambda: _open_notices_sent(tmp_path), 60), d2.output()
    d2.stop()
    checked = [p for p, _ in audit(tmp_path, "checked")]
    assert len(checked) == 200 and len(set(checked)) == 200
    db = open_state_db(tmp_path / "state.db")
    dup = db.execute("SELECT role, finding_id, COUNT(DISTINCT message_id) FROM notices "
                     "GROUP BY role, finding_id, kind HAVING COUNT(*) > 1").fetchall()
    sent = db.execute("SELECT COUNT(*) FROM outbox WHERE state='sent'").fetchone()[0]
    db.close()
    assert dup == []
    dit_messages = [m for m in inbox.received if m.role == "dit"]
    assert len(dit_messages) == len({m.body["message"] for m in dit_messages}), "a message arrived twice"
    assert sent == len(inbox.received)
    assert len(set(delivered_names())) == len(delivered_names())


def _open_notices_sent(tmp_path: Path) -> bool:
    db = open_state_db(tmp_path / "state.db")
    try:
        waiting = db.execute("SELECT COUNT(*) FROM notices WHERE message_id IS NULL").fetchone()[0]
        pending = db.execute("SELECT COUNT(*) FROM outbox WHERE state='pending'").fetchone()[0]
        findings = db.execute("SELECT COUNT(*) FROM findings").fetchone()[0]
        return findings == 200 and waiting == 0 and pending == 0
    finally:
        db.close()


def test_watched_folder_removed_and_recreated_is_reported_once_and_rescanned(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    d = daemon(config)
    d.wait_ready()
    volume = tmp_path / "ingest"
    shutil.rmtree(volume)
    got = inbox.wait_for(1, timeout=10, role="dit")
    assert got and "not available" in got[0].body["message"]
    time.sleep(1.5)
    assert len([m for m in inbox.received if m.role == "dit"]) == 1, "the outage was reported more than once"
    volume.mkdir()
    (volume / "after_outage.mov").write_bytes(b"")
    assert wait_until(lambda: any("after_outage.mov" in m.body["message"] for m in inbox.received), 15), d.output()
    assert any("is back" in m.body["message"] for m in inbox.received if m.role == "dit")
    assert d.proc.poll() is None
    d.stop()


def test_polling_volume_sees_new_and_changed_files(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    config.write_text(config.read_text().replace('observer = "inotify"', 'observer = "polling"\npoll_interval = 0.5'))
    d = daemon(config)
    d.wait_ready()
    assert "polling" in reelwatch("status", "--config", str(config), "--format", "json").stdout
    (tmp_path / "ingest" / "A002C012.mov").write_bytes(b"")
    got = inbox.wait_for(1, timeout=15, role="dit")
    assert got and "sanity.empty" in got[0].body["message"]
    shutil.copy(media["prores_2398"], tmp_path / "ingest" / "A002C012.mov")  # replaced by a good clip
    assert wait_until(lambda: any("resolved" in m.body["message"].lower() for m in inbox.received
                                  if m.role == "dit"), 15), d.output()
    d.stop()


def test_network_shares_are_detected_from_the_mount_table(tmp_path):
    table = tmp_path / "mounts"
    table.write_text("/dev/sda1 / ext4 rw 0 0\n//nas/edit /mnt/edit cifs rw 0 0\n"
                     "nas:/export /mnt/nfs nfs4 rw 0 0\nsshfs#x /mnt/sshfs fuse.sshfs rw 0 0\n")
    assert mount_of("/mnt/edit/deliveries/x", str(table)).is_network
    assert mount_of("/mnt/nfs", str(table)).fstype == "nfs4"
    assert mount_of("/mnt/sshfs/a", str(table)).is_network
    assert not mount_of("/srv/local", str(table)).is_network


def test_sighup_applies_a_valid_config_and_keeps_the_old_one_when_invalid(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    d = daemon(config)
    d.wait_ready()
    good = config.read_text()
    config.write_text(good.replace('[production]\nname = "Test Production"',
                                   '[production]\nnme = "typo"'))
    d.proc.send_signal(signal.SIGHUP)
    admin = inbox.wait_for(1, timeout=10, role="admin")
    assert admin and "reload rejected" in admin[0].body["title"].lower() and "nme" in admin[0].body["message"]
    (tmp_path / "ingest" / "still_running.mov").write_bytes(b"")
    assert inbox.wait_for(1, timeout=10, role="dit"), "the daemon stopped checking after a bad reload"
    config.write_text(good.replace("Test Production", "Renamed Production"))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: '"reloaded"' in d.output(), 10)
    (tmp_path / "ingest" / "after_reload.mov").write_bytes(b"")
    assert wait_until(lambda: any("Renamed Production" in m.body["title"] for m in inbox.received), 10)
    assert d.stop() == 0


@pytest.mark.skipif(not os.access("/proc/sys/fs/inotify/max_queued_events", os.W_OK),
                    reason="cannot shrink the inotify queue on this machine (needs root and a writable sysctl)")
def test_event_queue_overflow_triggers_a_rescan(tmp_path, inbox, daemon):
    knob = Path("/proc/sys/fs/inotify/max_queued_events")
    old = knob.read_text().strip()
    config = write_config(tmp_path, inbox, settle=0.3, digest=1)
    try:
        knob.write_text("16\n")
        d = daemon(config)
        d.wait_ready()
        folder = tmp_path / "ingest" / "flood"
        folder.mkdir()
        for i in range(800):
            (folder / f"f{i:04d}.mov").write_bytes(b"")
    finally:
        knob.write_text(old + "\n")
    if not wait_until(lambda: "event_queue_overflow" in d.output(), 10):
        d.stop()
        pytest.skip("the kernel queue did not overflow on this machine")
    # every file is checked in the end (60 s was not enough at load 13 with the state in PostgreSQL;
    # the wait ends as soon as the 800th is checked)
    assert wait_until(lambda: len(audit(tmp_path, "checked")) == 800, 180), d.output()[-3000:]
    d.stop()


def test_mhl_generation_is_opt_in_and_verifiable_by_the_reference(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    config.write_text(config.read_text().replace('observer = "inotify"', 'observer = "inotify"\nmhl_generate = true'))
    card = tmp_path / "ingest" / "A002R2EC"
    card.mkdir()
    d = daemon(config)
    d.wait_ready()
    shutil.copy(media["prores_2398"], card / "A002C006_141024_R2EC.mov")
    assert wait_until(lambda: (card / "ascmhl" / "ascmhl_chain.xml").exists(), 20), d.output()
    time.sleep(1)
    d.stop()
    manifests = sorted((card / "ascmhl").glob("*.mhl"))
    assert len(manifests) == 1 and "A002C006_141024_R2EC.mov" in manifests[0].read_text()
    assert [p for p, _ in audit(tmp_path, "mhl_generated")] == ["A002R2EC"]
    verify = pytest.importorskip("ascmhl.commands").verify if hasattr(
        pytest.importorskip("ascmhl.commands"), "verify") else None
    if verify is not None:  # the reference implementation accepts what we wrote
        from click.testing import CliRunner
        result = CliRunner().invoke(verify, [str(card)])
        assert result.exit_code == 0, result.output


def test_volumes_without_mhl_generation_get_no_writes(tmp_path, media, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3)
    card = tmp_path / "ingest" / "A002R2EC"
    card.mkdir()
    d = daemon(config)
    d.wait_ready()
    shutil.copy(media["prores_2398"], card / "A002C006_141024_R2EC.mov")
    assert wait_until(lambda: audit(tmp_path, "checked"), 15)
    time.sleep(1.5)
    d.stop()
    assert sorted(p.name for p in card.iterdir()) == ["A002C006_141024_R2EC.mov"]


def test_a_history_arriving_after_its_media_is_verified(tmp_path, media, inbox, daemon):
    """Offload tools write ascmhl/ last: its arrival alone must trigger verification."""
    from reelwatch.integrity.mhl.create import create_generation
    config = write_config(tmp_path, inbox, settle=0.3)
    staging = tmp_path / "staging" / "A002R2EC"
    staging.mkdir(parents=True)
    shutil.copy(media["prores_2398"], staging / "A002C006_141024_R2EC.mov")
    create_generation(staging)
    (staging / "A002C006_141024_R2EC.mov").write_bytes(media["prores_25"].read_bytes())  # damaged afterwards
    d = daemon(config)
    d.wait_ready()
    card = tmp_path / "ingest" / "A002R2EC"
    card.mkdir()
    shutil.copy(staging / "A002C006_141024_R2EC.mov", card / "A002C006_141024_R2EC.mov")
    assert wait_until(lambda: audit(tmp_path, "checked"), 15)
    time.sleep(1.5)  # the media's batch is over before the history lands
    shutil.copytree(staging / "ascmhl", card / "ascmhl")
    inbox.wait_for(1, 20, role="dit")
    assert wait_until(lambda: any("mhl.hash_mismatch" in m.body["message"] for m in inbox.received), 20), \
        d.output()[-3000:]
    d.stop()


def test_an_unreadable_folder_is_told_once_and_the_rest_is_still_checked(tmp_path, inbox, monkeypatch):
    """Root reads every folder, so the refusal is injected where the scanner opens one folder
    only: the one thing a test running as root cannot make real."""
    import reelwatch.watch.scan as scan_mod
    from reelwatch.service.daemon import Daemon
    real_open = os.open
    locked = str(tmp_path / "ingest" / "locked")

    def refusing_open(path, flags, *args, **kwargs):
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(scan_mod.os, "open", refusing_open)
    config = write_config(tmp_path, inbox, settle=0.2, roles=("dit",))
    (tmp_path / "ingest" / "locked").mkdir()
    (tmp_path / "ingest" / "locked" / "hidden.mov").write_bytes(b"")
    (tmp_path / "ingest" / "open.mov").write_bytes(b"")
    daemon = Daemon(config, env={}, tick=0.05)
    try:
        daemon.start()
        assert wait_until(lambda: len(inbox.received) >= 2, 15)
        daemon.volumes["ingest"].reconcile()  # a second scan must not tell it again
        time.sleep(1.5)
    finally:
        daemon.stop(drain=0)
    bodies = [m.body["message"] for m in inbox.received]
    assert sum("cannot read the folder locked" in b for b in bodies) == 1
    assert any("open.mov" in b for b in bodies) and not any("hidden.mov" in b for b in bodies)
    assert "Permission denied" in " ".join(bodies)


def test_an_empty_mount_point_at_start_is_unavailable_not_a_mass_deletion(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2, roles=("dit",))
    volume = tmp_path / "ingest"
    (volume / "A002R2EC").mkdir()
    (volume / "A002R2EC" / "clip.mov").write_bytes(b"")
    d = daemon(config)
    d.wait_ready()
    assert inbox.wait_for(1, 15, role="dit")
    d.stop()
    shutil.rmtree(volume)
    volume.mkdir()  # the share is not mounted: only its empty mount point is there
    d2 = daemon(config)
    d2.wait_ready()
    got = inbox.wait_for(2, 15, role="dit")
    assert "not available" in got[-1].body["message"], d2.output()
    assert audit(tmp_path, "gone") == []
    (volume / "A002R2EC").mkdir()  # mounted again
    (volume / "A002R2EC" / "clip.mov").write_bytes(b"")
    assert wait_until(lambda: any("is back" in m.body["message"] for m in inbox.received), 15), d2.output()
    d2.stop()
    assert audit(tmp_path, "gone") == []
