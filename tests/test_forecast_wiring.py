"""The daemon's forecasts (:mod:`reelwatch.service.forecasts`) with time injected: the real state
database, the real outbox sending through apprise to a local inbox, a real small filesystem filled by
a simulated offload; only the clock is simulated, so 17 minutes of offload take seconds. The same
module in the real daemon, at the real pace, is tests/test_forecast_daemon.py."""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from conftest import sqlite_only, write_config
from test_forecast_daemon import mount_tmpfs

from reelwatch.checking.pipeline import Pipeline
from reelwatch.checking.runtime import load_runtime
from reelwatch.notify.outbox import Outbox
from reelwatch.service import forecast_store
from reelwatch.service.forecasts import Forecasts
from reelwatch.service.metrics import Metrics
from reelwatch.state.store import Store

KIB, MIB = 1024, 1024 * 1024
T0 = 1_714_730_000.0
FILE = 256 * KIB
EVERY = 4.0
"""One 256 KiB file every 4 s: 64 KiB/s, 236 MB/h."""
RATE = FILE / EVERY
TICK = 2.0
ERROR = 0.05
"""Stated error, once the 2 min current window has filled: the rate within 5 % of the real one, the
time left within 5 % of the real time left plus two file intervals (8 s). Measured below and printed."""
SPACE = """
[rules.forecast]
horizons = ["10min", "3min"]
current_window = "2min"
pace_window = "30min"
confirm = "20s"
reserve = "256KiB"
"""


@dataclass
class Vol:
    """What the forecasts read of a volume the daemon runs: where it is and whether it is there."""

    root: str
    available: bool = True
    dynamic: bool = False


class Rig:
    """The daemon's forecasts on a real state database and outbox, with a simulated clock."""

    def __init__(self, config: Path) -> None:
        self.now = T0
        self.runtime = load_runtime(config, None)
        cfg = self.runtime.config
        self.store = Store(cfg.resolve(cfg.state.path))
        self.pipeline = Pipeline(self.runtime.pm, cfg, self.store)
        self.metrics = Metrics()
        self.outbox = Outbox(self.store, cfg, self._send)
        self.forecasts = self.start()

    def start(self) -> Forecasts:
        return Forecasts(self.runtime.config, self.store, self.metrics, self.pipeline, clock=lambda: self.now)

    def _send(self, message, targets) -> bool:  # type: ignore[no-untyped-def]
        return bool(self.runtime.pm.hook.notify(message=message, targets=list(targets), config=self.runtime.config))

    def tick(self, volumes: dict[str, Vol]) -> None:
        self.forecasts.tick(volumes, force=True)
        self.outbox.tick()

    def close(self) -> None:
        self.store.close()


def _write(path: Path, size: int) -> bool:
    try:
        with open(path, "wb") as fh:
            fh.write(b"\x5a" * size)
        return True
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        path.unlink(missing_ok=True)
        return False


def test_a_simulated_offload_is_forecast_within_the_stated_error_and_warned_once_per_horizon(tmp_path, inbox):
    mnt = tmp_path / "SHUTTLE_02"
    mount_tmpfs(mnt, 64)
    try:
        config = write_config(tmp_path, inbox, volumes={"SHUTTLE_02": "dit"}, extra=SPACE)
        rig = Rig(config)
        volumes = {"SHUTTLE_02": Vol(str(mnt))}
        rig.forecasts.track("SHUTTLE_02", str(mnt), dynamic=False)
        seen, n = [], 0
        while True:
            rig.now += TICK
            if rig.now % EVERY == 0:
                n += 1
                if not _write(mnt / f"A002C{n:03d}_240503_R2EC.mov", FILE):
                    break  # the copy failed: the drive really is full
            rig.tick(volumes)
            status = forecast_store.read_status(rig.store)
            assert status is not None
            seen.append((rig.now, status["volumes"][0], len(inbox.received)))
        full_at = rig.now
        warmed = [(t, v) for t, v, _ in seen if t - T0 >= 120 and v["seconds_until_full"]]
        rate_error = max(abs(v["fill_rate_bytes_per_second"]["current"] / RATE - 1) for _, v in warmed)
        left_error = max(abs(v["seconds_until_full"] - (full_at - t)) - ERROR * (full_at - t) for t, v in warmed)
        worst = max(warmed, key=lambda tv: abs(tv[1]["seconds_until_full"] - (full_at - tv[0])))
        late = max(abs(v["seconds_until_full"] - (full_at - t)) for t, v in warmed if full_at - t <= 300)
        print(f"rate within {rate_error:.1%} of the real rate; time left within 5 % + {left_error:.1f} s of the real "
              f"time left over {len(warmed)} readings (worst: {worst[1]['seconds_until_full']} s forecast with "
              f"{full_at - worst[0]:.0f} s left; within {late:.0f} s over the last 5 min)")
        assert len(warmed) > 300 and rate_error <= ERROR and left_error <= 2 * EVERY

        dit = [m.body["message"] for m in inbox.received if m.role == "dit"]
        assert len(dit) == 2 and not [m for m in inbox.received if m.role != "dit"], dit
        assert re.search(r"WARNING: SHUTTLE_02 will be full in about (9|10) min at the current offload rate "
                         r"\(2\d\d MB/h\)", dit[0]), dit[0]
        assert re.search(r"changed: SHUTTLE_02 will be full in about (2|3) min", dit[1]), dit[1]
        # the warnings came in time: with about 10 and 3 min really left
        told = [next(t for t, _, count in seen if count >= k) for k in (1, 2)]
        assert 540 <= full_at - told[0] <= 640 and 150 <= full_at - told[1] <= 200, (full_at - told[0],
                                                                                      full_at - told[1])

        # a restart takes up the stored state: nothing is said again
        rig.forecasts = rig.start()
        rig.forecasts.track("SHUTTLE_02", str(mnt), dynamic=False)
        for _ in range(30):
            rig.now += TICK
            rig.tick(volumes)
        assert len(inbox.received) == 2

        for f in mnt.iterdir():
            f.unlink()  # the DIT swaps in an empty drive ... or makes room
        rig.now += TICK
        rig.tick(volumes)
        assert inbox.wait_for(3, 10, role="dit")
        assert re.search(r"resolved: SHUTTLE_02 has room again: 6\d(\.\d)? MB free, about \d+ min at 2\d\d MB/h",
                         inbox.received[-1].body["message"]), inbox.received[-1].body["message"]
        rows = rig.store.findings(status=("open", "resolved"))
        assert [(r.rule, r.status, r.severity.label, r.owner) for r in rows] == [
            ("forecast.drive_full", "resolved", "error", "dit")]
        rig.close()
    finally:
        os.system(f"umount -l '{mnt}'")


def test_the_example_config_uses_the_forecasts_and_their_names_are_checked(tmp_path):
    example = Path(__file__).resolve().parents[1] / "config" / "production.example.toml"
    rules = load_runtime(example, None).config.rules
    assert {"forecast", "offload", "deliveries"} <= set(rules)
    bad = write_config(tmp_path, volumes={"ingest": "dit", "shuttle": "dit"}, extra="""
[[rules.mirrors.sets]]
name = "offload"
copies = [{ volume = "ingest" }, { volume = "shuttle" }]
[rules.forecast]
volumes = ["shutle"]
[rules.offload]
sets = ["ofload"]
[rules.deliveries]
tell = ["supervisr"]
[[rules.deliveries.schedules]]
path = "/s/vfx_v*.csv"
role = "vfxx"
[[rules.deliveries.timelines]]
path = "/t/*.edl"
""")
    from conftest import reelwatch
    out = reelwatch("config", "validate", str(bad))
    assert out.returncode == 2
    for problem in ("rules.forecast.volumes[0]: no volume named 'shutle' (did you mean 'shuttle'?)",
                    "rules.offload.sets[0]: no mirror set named 'ofload' (did you mean 'offload'?)",
                    "rules.deliveries.tell[0]: no role named 'supervisr' (did you mean 'supervisor'?)",
                    "rules.deliveries.schedules[0].role: no role named 'vfxx' (did you mean 'vfx'?)"):
        assert problem in out.stderr, out.stderr
    assert "timelines" not in out.stderr  # a pull list is read by the daemon (tests/test_pull_lists.py)
    pattern = write_config(tmp_path, extra='[[rules.deliveries.timelines]]\npath = "/t/*.edl"\nshot_pattern = "AGM_(["\n')
    out = reelwatch("config", "validate", str(pattern))
    assert out.returncode == 2 and "timelines[0].shot_pattern: 'AGM_([' is not a regular expression" in out.stderr, \
        out.stderr


@sqlite_only("its file on a full disk: a tmpfs of 4 MB")
def test_a_tick_the_state_database_cannot_record_is_said_once_there_is_room(tmp_path, inbox):
    """The state database's disk is full when a warning is due: nothing is recorded or sent, and the
    warning is neither lost nor sent twice once there is room again."""
    state, drive = tmp_path / "state", tmp_path / "SHUTTLE_02"
    mount_tmpfs(state, 4)
    mount_tmpfs(drive, 64)
    try:
        config = write_config(tmp_path, inbox, volumes={"SHUTTLE_02": "dit"}, extra=SPACE)
        config.write_text(config.read_text().replace(str(tmp_path / "state.db"), str(state / "state.db")))
        rig = Rig(config)
        volumes = {"SHUTTLE_02": Vol(str(drive))}
        rig.forecasts.track("SHUTTLE_02", str(drive), dynamic=False)
        rig.tick(volumes)
        filler = state / "filler"
        with open(filler, "wb") as fh:  # the state disk fills up
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        assert _write(drive / "A002C001_240503_R2EC.mov", 56 * MIB)  # full in about a minute: both horizons
        failed = 0
        for _ in range(20):
            rig.now += TICK
            try:
                rig.forecasts.tick(volumes, force=True)
            except Exception as exc:  # the daemon's control loop logs it and carries on
                assert "full" in str(exc).lower() or "disk" in str(exc).lower(), exc
                failed += 1
        assert failed and not inbox.received
        filler.unlink()
        for _ in range(15):  # judged again from the last state stored: within confirm (20 s) it is said
            rig.now += TICK
            rig.tick(volumes)
        assert inbox.wait_for(1, 10, role="dit")
        rig.outbox.tick()
        dit = [m.body["message"] for m in inbox.received]
        assert len(dit) == 1 and "SHUTTLE_02 will be full in" in dit[0], dit
        assert [r.rule for r in rig.store.findings()] == ["forecast.drive_full"]
        rig.close()
    finally:
        os.system(f"umount -l '{drive}'; umount -l '{state}'")


def test_each_node_of_a_fleet_keeps_its_own_forecast_state(tmp_path):
    """Two nodes on one state database: each restores its own snapshot (one shared row handed a node the
    rates and alerts of another), and status shows both nodes' lines, each with its node."""
    from reelwatch.forecast import Outcome
    store = Store(tmp_path / "state.db")
    try:
        forecast_store.ensure_table(store)
        config = load_runtime(str(write_config(tmp_path)), None).config
        for node in ("cart-a", "lab"):
            forecast_store.commit(store, Outcome((), (), f"snapshot of {node}"), lambda f: [], config,
                                  lambda role: True, node)
            forecast_store.set_status(store, {"lines": [f"{node.upper()}_RAID will be full in about 2 h"],
                                              "volumes": [{"volume": f"{node}_raid", "free_bytes": 1}], "at": 5.0},
                                      node)
        assert forecast_store.load_state(store, "cart-a") == "snapshot of cart-a"
        assert forecast_store.load_state(store, "lab") == "snapshot of lab"
        status = forecast_store.read_status(store)
        assert status is not None
        assert status["lines"] == ["cart-a: CART-A_RAID will be full in about 2 h", "lab: LAB_RAID will be full in about 2 h"]
        assert [(v["node"], v["volume"]) for v in status["volumes"]] == [("cart-a", "cart-a_raid"), ("lab", "lab_raid")]
    finally:
        store.close()
