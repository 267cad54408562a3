"""The watcher on a bad day: big trees left idle, queue overflows, swapped volume folders,
exhausted inotify watches, links that lead outside, odd files, files that never stop growing.
The real daemon in a child process, real files, the kernel's own limits where they can be set."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import DaemonProcess, open_state_db, reelwatch, wait_until, write_config

QUEUE_KNOB = Path("/proc/sys/fs/inotify/max_queued_events")



def audit(tmp_path: Path, event: str) -> list[str]:
    db = open_state_db(tmp_path / "state.db")
    try:
        return [r[0] for r in db.execute("SELECT relpath FROM audit WHERE event=? ORDER BY id", (event,))]
    finally:
        db.close()


def open_findings(tmp_path: Path, rule: str) -> list[tuple[str, str]]:
    db = open_state_db(tmp_path / "state.db")
    try:
        return db.execute("SELECT relpath, status FROM findings WHERE rule=? ORDER BY id", (rule,)).fetchall()
    finally:
        db.close()


def events(output: str, name: str) -> list[dict]:
    """The JSON log lines of one event name."""
    out = []
    for line in output.splitlines():
        if f'"{name}"' in line:
            try:
                out.append(json.loads(line[line.index("{"):]))
            except ValueError:
                continue
    return out


def folder_tree(root: Path, folders: int, fanout: int = 20) -> None:
    made, queue = 1, [root]
    while made < folders:
        parent = queue.pop(0)
        for i in range(min(fanout, folders - made)):
            (parent / f"d{i:02d}").mkdir()
            queue.append(parent / f"d{i:02d}")
            made += 1


class Spawned(DaemonProcess):
    """The daemon started by a command line of the test's choosing (debug logging, a user namespace)."""

    def __init__(self, config: Path, argv: list[str]) -> None:
        self.config = config
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._spawn(argv, dict(os.environ))  # in a process group of its own, killed whole at teardown


@pytest.fixture
def spawn():
    started: list[Spawned] = []

    def start(config: Path, *, debug: bool = False, watch_limit: int | None = None) -> Spawned:
        argv = [sys.executable, "-m", "reelwatch.cli", *(["--log-level", "debug"] if debug else []),
                "run", "--config", str(config)]
        if watch_limit is not None:
            # a user namespace has its own inotify watch limit, which the sysctl outside shows not
            argv = ["unshare", "-U", "-r", "sh", "-c",
                    f'echo {watch_limit} > /proc/sys/user/max_inotify_watches && exec "$0" "$@"', *argv]
        d = Spawned(config, argv)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


def user_namespaces_work() -> bool:
    try:
        res = subprocess.run(["unshare", "-U", "-r", "sh", "-c", "echo 5 > /proc/sys/user/max_inotify_watches"],
                             capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


# -- issue 12 §1: idle means idle ----------------------------------------------------------------
def test_an_idle_daemon_on_a_big_tree_never_rescans_itself(tmp_path, spawn):
    """The daemon's own reconcile opened every folder; with IN_OPEN/IN_CLOSE_NOWRITE watched, the
    queue overflowed and each overflow asked for a rescan, which overflowed again, forever.
    (Debug logging: a rescan that finds nothing new is logged at debug.)"""
    config = write_config(tmp_path, None, settle=0.3, roles=("dit",))
    folder_tree(tmp_path / "ingest", 10_301)
    d = spawn(config, debug=True)
    d.wait_ready(120)
    time.sleep(1)
    before = len(d.output())
    time.sleep(6)  # the loop rescanned every 2-3 s here
    window = d.output()[before:]
    assert window.count('"reconciled"') == 0, window[-2000:]
    assert "overflow" not in window.lower(), window[-2000:]


# -- issue 11: one line per overflow, with counts -----------------------------------------------------
@pytest.mark.skipif(not os.access(QUEUE_KNOB, os.W_OK),
                    reason="cannot shrink the inotify queue on this machine (needs root and a writable sysctl)")
def test_a_queue_overflow_is_one_line_with_counts_not_thousands(tmp_path, daemon):
    config = write_config(tmp_path, None, settle=0.3, roles=("dit",))
    old = QUEUE_KNOB.read_text().strip()
    try:
        QUEUE_KNOB.write_text("64\n")  # only inotify instances created now get it: the daemon's
        d = daemon(config)
        d.wait_ready()
    finally:
        QUEUE_KNOB.write_text(old + "\n")
    flood = tmp_path / "ingest" / "flood"
    flood.mkdir()
    for i in range(3000):  # mostly temp names of copies in flight: events, but nothing to check
        (flood / (f"A002C{i:04d}.mov" if i % 30 == 0 else f"A002C{i:04d}.mov.part")).write_bytes(b"")
    assert wait_until(lambda: "overflow" in d.output().lower(), 15), d.output()[-3000:]
    assert wait_until(lambda: len(audit(tmp_path, "checked")) == 100, 90), d.output()[-3000:]  # nothing lost
    lines = [line for line in d.output().splitlines() if "overflow" in line.lower()]
    parsed = events(d.output(), "event_queue_overflow")
    assert len(lines) == len(parsed), lines[:10]  # nothing but our own line
    assert 1 <= len(parsed) <= 20, f"{len(parsed)} overflow lines for 3,000 files"
    assert all(p["overflows"] >= 1 and "events" in p and p["volume"] == "ingest" for p in parsed)
    d.stop()


# -- issue 11: folder swaps ------------------------------------------------------------------------
def test_a_volume_folder_deleted_and_made_again_is_watched_at_once(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.3, roles=("dit",))
    d = daemon(config)
    d.wait_ready()
    volume = tmp_path / "ingest"
    subprocess.run(["sh", "-c", f"rm -rf '{volume}' && mkdir '{volume}'"], check=True)
    time.sleep(0.5)
    (volume / "A003C001.mov").write_bytes(b"")
    got = inbox.wait_for(1, 10, role="dit")
    assert got and "A003C001.mov" in got[0].body["message"], d.output()[-3000:]
    assert events(d.output(), "volume_root_replaced"), d.output()[-3000:]
    d.stop()


def test_a_volume_folder_moved_away_and_made_again_is_watched_and_the_old_one_is_not(tmp_path, inbox, daemon):
    """How many DITs start a new day: mv VOL VOL.day1 && mkdir VOL."""
    config = write_config(tmp_path, inbox, settle=0.3, roles=("dit",))
    volume = tmp_path / "ingest"
    (volume / "A002R2EC").mkdir()
    d = daemon(config)
    d.wait_ready()
    subprocess.run(["sh", "-c", f"mv '{volume}' '{volume}.day1' && mkdir '{volume}'"], check=True)
    time.sleep(0.5)
    (tmp_path / "ingest.day1" / "A002R2EC" / "A002C099.mov").write_bytes(b"")  # yesterday's, now elsewhere
    (volume / "A003R1AB").mkdir()
    (volume / "A003R1AB" / "A003C001.mov").write_bytes(b"")
    got = inbox.wait_for(1, 10, role="dit")
    assert got and "A003C001.mov" in got[0].body["message"], d.output()[-3000:]
    time.sleep(1.5)
    assert not any("A002C099" in m.body["message"] for m in inbox.received)
    assert "A002R2EC/A002C099.mov" not in audit(tmp_path, "checked")
    replaced = events(d.output(), "volume_root_replaced")
    assert replaced and "moved" in replaced[0]["reason"]
    d.stop()


# -- issue 11: the inotify watch limit of a namespace ------------------------------------------------
needs_userns = pytest.mark.skipif(not user_namespaces_work(),
                                  reason="user namespaces with their own inotify limits are not available here")


def status_of(config: Path) -> dict:
    out = reelwatch("status", "--config", str(config), "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["volumes"][0]


@needs_userns
def test_a_watch_limit_too_small_at_start_falls_back_to_polling_and_tells_the_admin(tmp_path, inbox, spawn):
    config = write_config(tmp_path, inbox, settle=0.3, roles=("dit", "admin"),
                          extra='[service]\nmetrics = "127.0.0.1:0"\n')
    config.write_text(config.read_text().replace('observer = "inotify"', 'observer = "auto"\npoll_interval = 0.5'))
    for i in range(40):
        (tmp_path / "ingest" / f"card{i:02d}").mkdir()
    d = spawn(config, watch_limit=20)
    d.wait_ready()
    admin = inbox.wait_for(1, 15, role="admin")
    assert admin and "watch limit" in admin[0].body["message"], d.output()[-3000:]
    assert "polling" in admin[0].body["message"] and "max_inotify_watches" in admin[0].body["message"]
    (tmp_path / "ingest" / "card39" / "A039C001.mov").write_bytes(b"")  # a folder past the limit
    got = inbox.wait_for(1, 15, role="dit")
    assert got and "A039C001.mov" in got[0].body["message"], d.output()[-3000:]
    assert wait_until(lambda: status_of(config)["health"] == "degraded", 10)
    vol = status_of(config)
    assert vol["observer"] == "polling" and "watch limit" in vol["detail"]
    url = events(d.output(), "metrics")[0]["url"]
    scraped = urllib.request.urlopen(url, timeout=5).read().decode()
    assert 'reelwatch_observer_degraded{volume="ingest"} 1.0' in scraped
    d.stop()


@needs_userns
def test_a_watch_limit_reached_as_the_tree_grows_falls_back_to_polling(tmp_path, inbox, spawn):
    config = write_config(tmp_path, inbox, settle=0.3, roles=("dit", "admin"))
    config.write_text(config.read_text().replace('observer = "inotify"', 'observer = "inotify"\npoll_interval = 0.5'))
    d = spawn(config, watch_limit=20)
    d.wait_ready()
    assert status_of(config)["observer"] == "inotify"
    for i in range(30):  # an offload adds folders: the 20th cannot be watched
        (tmp_path / "ingest" / f"card{i:02d}").mkdir()
    admin = inbox.wait_for(1, 15, role="admin")
    assert admin and "watch limit" in admin[0].body["message"], d.output()[-3000:]
    (tmp_path / "ingest" / "card29" / "A029C001.mov").write_bytes(b"")
    got = inbox.wait_for(1, 15, role="dit")
    assert got and "A029C001.mov" in got[0].body["message"], d.output()[-3000:]
    assert wait_until(lambda: status_of(config)["observer"] == "polling", 10)
    d.stop()


# -- issue 11: links never lead the daemon out of the volume ----------------------------------------
def test_links_never_lead_the_daemon_outside_the_volume(tmp_path, inbox, media, daemon):
    config = write_config(tmp_path, inbox, settle=0.3, roles=("dit", "editorial"))
    outside = tmp_path / "private"
    outside.mkdir()
    shutil.copy(media["prores_25"], outside / "SECRET_take.mov")
    d = daemon(config)
    d.wait_ready()
    staging = tmp_path / "staging" / "A002R2EC"
    staging.mkdir(parents=True)
    shutil.copy(media["prores_2398"], staging / "A002C006_141024_R2EC.mov")
    os.symlink(outside, staging / "escape")
    os.symlink(outside / "SECRET_take.mov", staging / "A002C007_141024_R2EC.mov")
    os.symlink("..", staging / "up")
    os.rename(staging, tmp_path / "ingest" / "A002R2EC")  # a folder moved in, links and all
    assert wait_until(lambda: len(open_findings(tmp_path, "volume.symlink_outside")) >= 2, 15), d.output()[-3000:]
    (tmp_path / "ingest" / "A002R2EC" / "live_link.mov").symlink_to(outside / "SECRET_take.mov")  # made live
    assert wait_until(lambda: len(open_findings(tmp_path, "volume.symlink_outside")) >= 3, 15), d.output()[-3000:]
    time.sleep(1.5)
    d.stop()
    d2 = daemon(config)  # a restart reconciles the same tree: nothing twice
    d2.wait_ready()
    time.sleep(1.5)
    d2.stop()
    checked = audit(tmp_path, "checked")
    assert checked == ["A002R2EC/A002C006_141024_R2EC.mov"], checked
    found = open_findings(tmp_path, "volume.symlink_outside")
    assert sorted(p for p, _ in found) == ["A002R2EC/A002C007_141024_R2EC.mov", "A002R2EC/escape",
                                           "A002R2EC/live_link.mov"]
    assert {m.role for m in inbox.received if "leads outside the volume" in m.body["message"]} == {"dit"}
    dit = " ".join(m.body["message"] for m in inbox.received if m.role == "dit")
    assert "escape" in dit and "leads outside the volume" in dit


def test_a_volume_may_name_a_place_its_links_lead_into(tmp_path, inbox, daemon):
    raid2 = tmp_path / "raid2" / "Media"
    raid2.mkdir(parents=True)
    config = write_config(tmp_path, inbox, settle=0.3, roles=("dit",))
    config.write_text(config.read_text().replace(
        'observer = "inotify"', f'observer = "inotify"\nfollow_links_into = ["{tmp_path / "raid2"}"]'))
    (tmp_path / "ingest" / "Media").symlink_to(raid2)
    (tmp_path / "ingest" / "Day_01").mkdir()
    (tmp_path / "ingest" / "Day_01" / "up").symlink_to("..")  # back into the volume: not followed
    (raid2 / "up_again").symlink_to("..")  # a loop inside the named place: walked once
    (raid2 / "A004C001.mov").write_bytes(b"")
    d = daemon(config)
    d.wait_ready()
    assert wait_until(lambda: "Media/A004C001.mov" in audit(tmp_path, "checked"), 15), d.output()[-3000:]
    (raid2 / "A004C002.mov").write_bytes(b"")  # live, through the followed link
    assert wait_until(lambda: "Media/A004C002.mov" in audit(tmp_path, "checked"), 15), d.output()[-3000:]
    time.sleep(1)
    d.stop()
    assert sorted(audit(tmp_path, "checked")) == ["Media/A004C001.mov", "Media/A004C002.mov"]
    assert open_findings(tmp_path, "volume.symlink_outside") == []


# -- issue 11: odd files get the right words -----------------------------------------------------------
def test_fifos_sockets_devices_link_loops_and_vanished_files_get_a_debug_line(tmp_path, inbox, spawn):
    config = write_config(tmp_path, inbox, settle=0.3, roles=("dit",))
    card = tmp_path / "ingest" / "A002R2EC"
    card.mkdir()
    os.mkfifo(card / "pipe_at_start")
    d = spawn(config, debug=True)
    d.wait_ready()
    os.mkfifo(card / "live_pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(card / "live.sock"))
    try:
        os.mknod(card / "null_dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        device = True
    except PermissionError:
        device = False
    os.symlink("loop_b", card / "loop_a")
    os.symlink("loop_a", card / "loop_b")
    (card / "flash.mov").write_bytes(b"x")
    (card / "flash.mov").unlink()  # gone before it settled
    (card / "A002C001.mov").write_bytes(b"")
    assert inbox.wait_for(1, 15, role="dit"), d.output()[-3000:]
    time.sleep(1)
    sock.close()
    out = d.output()
    d.stop()
    kinds = {e["path"]: e.get("kind") or e.get("reason") for e in
             events(out, "not_a_file") + events(out, "link_skipped") + events(out, "vanished")}
    assert kinds.get("A002R2EC/pipe_at_start") == "a FIFO", out[-3000:]
    assert kinds.get("A002R2EC/live_pipe") == "a FIFO"
    assert kinds.get("A002R2EC/live.sock") == "a socket"
    if device:
        assert kinds.get("A002R2EC/null_dev") == "a character device"
    assert "loop" in kinds.get("A002R2EC/loop_a", "")
    assert "A002R2EC/flash.mov" in kinds
    assert audit(tmp_path, "checked") == ["A002R2EC/A002C001.mov"]


def test_a_file_still_growing_long_after_it_started_is_reported_then_resolved(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.5, roles=("dit",))
    config.write_text(config.read_text().replace('observer = "inotify"', 'observer = "inotify"\n'
                                                                          'alert_growing_after = 2'))
    d = daemon(config)
    d.wait_ready()
    target = tmp_path / "ingest" / "A002C001.mov"
    deadline = time.monotonic() + 5
    with open(target, "wb") as fh:
        while time.monotonic() < deadline:
            fh.write(b"\0" * 4096)
            fh.flush()
            time.sleep(0.2)
    assert wait_until(lambda: any("still being written" in m.body["message"] for m in inbox.received), 10), \
        d.output()[-3000:]
    assert [m.role for m in inbox.received if "still being written" in m.body["message"]] == ["dit"]
    assert wait_until(lambda: "A002C001.mov" in audit(tmp_path, "checked"), 15), d.output()[-3000:]
    assert wait_until(lambda: open_findings(tmp_path, "volume.still_growing") == [("A002C001.mov", "resolved")],
                      10), open_findings(tmp_path, "volume.still_growing")
    d.stop()


# -- issue 12 §2: the fast path groups frames exactly as the parser does --------------------------------
def test_the_scanner_groups_frames_as_the_sequence_parser_does(tmp_path):
    from reelwatch.watch.scan import scan_volume, unit_name
    from reelwatch.state.store import Store
    names = ["plate.1001.exr", "plate.1002.exr", "plate.1003.exr", "plate.999.exr", "plate.0998.exr",
             "bar.-001.exr", "bar.0002.exr", "bar.-003.exr", "matte_v002.tif", "matte_v003.tif", "shot_0001.tif",
             "shot_0002.TIF", "a1001.exr", "a10011.exr", "2024010112345.exr", "clip.0001.mov", ".hidden.0001.exr",
             "x.0001.exr", "x.0002.exr", "x.00003.exr", "x.000a.exr", "v1001.exr", "v1002.exr", "plate.1004.exr"]
    for n in names:
        (tmp_path / n).write_bytes(b"")
    touched: list[str] = []
    scan_volume("v", str(tmp_path), Store(), touched.append, lambda v, p: False)
    units = {unit_name(t) or t for t in touched}
    assert units == {unit_name(n) or n for n in names}
    assert len(touched) == len(units)  # one touch per unit


def test_a_refused_watch_turns_the_volume_to_polling_where_no_namespace_can_be_made(tmp_path, monkeypatch):
    """The same fault as above without user namespaces: the kernel's ENOSPC is injected at the
    add_watch call (on such a machine, the one thing a test cannot make real)."""
    import ctypes
    import errno

    from reelwatch.core.config import Volume
    from reelwatch.watch.inotify import TreeWatcher
    from reelwatch.state.store import Store
    from reelwatch.watch.volumes import VolumeRuntime

    real_init = TreeWatcher.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        real_add, calls = self._add_watch, [0]

        def add(fd, path, mask):
            calls[0] += 1
            if calls[0] > 6:  # the root and five folders fit
                ctypes.set_errno(errno.ENOSPC)
                return -1
            return real_add(fd, path, mask)
        self._add_watch = add

    monkeypatch.setattr(TreeWatcher, "__init__", init)
    root = tmp_path / "ingest"
    for i in range(10):
        (root / f"card{i}").mkdir(parents=True)
    told, emitted = [], []
    vol = VolumeRuntime(cfg=Volume(name="ingest", path=str(root), observer="inotify", settle=0, poll_interval=0.1),
                        root=str(root), store=Store(tmp_path / "state.db"), ignore=lambda v, p: False,
                        emit=emitted.append, announce=lambda *a: None, on_admin=lambda s, t: told.append((s, t)))
    try:
        vol.start()
        assert vol.kind == "polling" and vol.observer is None
        assert "watch limit" in vol.degraded and "polling every 0.1 s" in vol.reason
        assert len(told) == 1 and "sysctl fs.inotify.max_user_watches" in told[0][1]
        (root / "card9" / "A009C001.mov").write_bytes(b"")
        assert wait_until(lambda: (vol.tick(), emitted)[1], 10)
        assert [a.relpath for a in emitted] == ["card9/A009C001.mov"]
        vol.tick()
        assert len(told) == 1  # told once, not at every poll
    finally:
        vol.stop()


# -- the watcher itself: paths stay true when folders move ------------------------------------------
def test_the_watcher_follows_folder_renames_and_lets_go_of_folders_moved_out(tmp_path):
    from reelwatch.watch.inotify import Callbacks, TreeWatcher
    root = tmp_path / "vol"
    (root / "A002R2EC" / "sub").mkdir(parents=True)
    got: list[tuple[str, str]] = []
    cb = Callbacks(lambda r: got.append(("touch", r)), lambda r: got.append(("gone", r)),
                   lambda r: got.append(("in", r)), lambda r: got.append(("out", r)),
                   lambda n: got.append(("overflow", str(n))))
    watcher = TreeWatcher(str(root), cb)
    watcher.start()
    try:
        assert watcher.watches == 3
        os.rename(root / "A002R2EC", root / "A002R2EC_day1")
        assert wait_until(lambda: ("in", "A002R2EC_day1") in got, 5), got
        (root / "A002R2EC_day1" / "sub" / "late.mov").write_bytes(b"")
        assert wait_until(lambda: ("touch", "A002R2EC_day1/sub/late.mov") in got, 5), got
        os.rename(root / "A002R2EC_day1", tmp_path / "elsewhere")  # moved out of the volume
        assert wait_until(lambda: ("out", "A002R2EC_day1") in got, 5), got
        got.clear()
        (tmp_path / "elsewhere" / "sub" / "outside.mov").write_bytes(b"")
        time.sleep(0.5)
        assert got == [] and watcher.watches == 1
        (root / "new" / "deeper").mkdir(parents=True)
        assert wait_until(lambda: watcher.watches == 3, 5)
        (root / "new" / "deeper" / "A003C001.mov").write_bytes(b"")
        assert wait_until(lambda: ("touch", "new/deeper/A003C001.mov") in got, 5), got
        assert watcher.failure is None and watcher.lost is None
    finally:
        watcher.stop()
    assert not watcher.alive()


def test_the_watchers_rules_are_documented():
    from reelwatch.watch.links import SYMLINK_OUTSIDE
    from reelwatch.watch.settle import STILL_GROWING
    doc = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text()
    for info in (SYMLINK_OUTSIDE, STILL_GROWING):
        assert f"| `{info.id}` |" in doc and info.summary and info.example


def test_one_event_that_fails_to_be_handled_never_ends_the_watching(tmp_path):
    from reelwatch.watch.inotify import Callbacks, TreeWatcher
    got: list[str] = []

    def touch(rel: str) -> None:
        if rel == "poison.mov":
            raise RuntimeError("an ignore plugin failed")
        got.append(rel)

    watcher = TreeWatcher(str(tmp_path), Callbacks(touch, lambda r: None, lambda r: None, lambda r: None,
                                                   lambda n: None))
    watcher.start()
    try:
        (tmp_path / "poison.mov").write_bytes(b"")
        (tmp_path / "after.mov").write_bytes(b"")
        assert wait_until(lambda: "after.mov" in got, 5), got
        assert watcher.alive()
    finally:
        watcher.stop()
