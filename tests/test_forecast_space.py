"""Space and pace: a simulated offload filling a real, small filesystem (a tmpfs mounted for the
test), with time injected: files are really written and free space really read with statvfs;
only the clock is simulated, so 17 minutes of offload take well under a second."""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelwatch.forecast import DriveRef, Forecaster, InMemoryDeliveries, SpaceSettings, read_space
from reelwatch.forecast.pace import FillRate, Space
from reelwatch.core.model import Severity

KIB, MIB = 1024, 1024 * 1024
T0 = 1_714_730_000.0  # simulated wall clock
FILE = 256 * KIB
EVERY = 4.0  # one file every 4 s: 64 KiB/s, 236 MB/h
RATE = FILE / EVERY
TICK = 2.0
ERROR = 0.05
"""Stated error: once the current window has filled, the rate is within 5 % of the real one and the
time left within 5 % of the real time left plus two file intervals (8 s). Measured: 3.3 % and
36 s at most (with 15 min left); the 10 min and 3 min warnings came with 592 s and 168 s left."""
SETTINGS = SpaceSettings(horizons=(600.0, 180.0), short=120.0, long=1800.0, min_span=10.0, confirm=20.0,
                         hysteresis=0.25, reserve=FILE)


@pytest.fixture
def shuttle(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs mounted at .../SHUTTLE_02; skips where mounting is not allowed."""
    mnt = tmp_path / "SHUTTLE_02"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _write(path: Path, size: int) -> bool:
    """Write a real file; False when the filesystem is full (the offload fails)."""
    try:
        with open(path, "wb") as fh:
            fh.write(b"\x5a" * size)
        return True
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        path.unlink(missing_ok=True)
        return False


class Offload:
    """Drives one volume of a Forecaster with a simulated clock over a real folder."""

    def __init__(self, root: Path, settings: SpaceSettings = SETTINGS) -> None:
        self.root, self.now, self.n = root, T0, 0
        self.fc = Forecaster(settings, production="Harbour Lights")
        self.fc.track(DriveRef("shuttle-SHUTTLE_02", str(root), "SHUTTLE_02", str(os.stat(root).st_dev)), self.now)
        self.delivered = InMemoryDeliveries()
        self.transitions: list[tuple[float, object]] = []

    def step(self, *, write: bool = True) -> bool:
        """Advance one tick: maybe land a file, read free space, evaluate. False once the drive is full."""
        self.now += TICK
        ok = True
        if write and self.now % EVERY == 0:
            self.n += 1
            ok = _write(self.root / f"A002C{self.n:03d}_240503_R2EC.mov", FILE)
            if ok:
                self.fc.landed("shuttle-SHUTTLE_02", self.now, FILE)
        self.tick()
        return ok

    def tick(self) -> None:
        self.fc.sample("shuttle-SHUTTLE_02", self.now, read_space(str(self.root)))
        for t in self.fc.tick(self.now, self.delivered).transitions:
            self.transitions.append((self.now, t))


def test_forecast_matches_the_real_fill_of_a_real_filesystem(shuttle):
    run = Offload(shuttle)
    forecasts = []
    while run.step():
        g = run.fc.gauges(run.now)[0]
        forecasts.append((run.now, g))
    full_at = run.now  # the write that failed: the drive really is full
    assert full_at - T0 > 900, "64 MiB at 64 KiB/s fills in about 17 minutes"
    warmed = [(t, g) for t, g in forecasts if t - T0 >= SETTINGS.short and g.seconds_until_full > 0]
    assert len(warmed) > 300
    for t, g in warmed:
        assert g.current_bytes_per_second == pytest.approx(RATE, rel=ERROR)
        real_left = full_at - t
        assert abs(g.seconds_until_full - real_left) <= ERROR * real_left + 2 * EVERY, (t - T0, g)
    assert warmed[-1][1].free_bytes <= 2 * FILE


def test_warns_once_per_horizon_at_the_right_time_with_the_numbers(shuttle):
    run = Offload(shuttle)
    while run.step():
        pass
    full_at = run.now
    kinds = [(t, tr.kind, tr.finding) for t, tr in run.transitions]
    assert [k for _, k, _ in kinds] == ["new", "changed"], "one message per horizon, no more"
    (t1, _, first), (t2, _, second) = kinds
    # raised once the forecast was inside the horizon for `confirm` seconds; the forecast is within ERROR
    assert 600 * (1 - ERROR) - SETTINGS.confirm - 2 * EVERY <= full_at - t1 <= 600 * (1 + ERROR)
    assert 180 * (1 - ERROR) - SETTINGS.confirm - 2 * EVERY <= full_at - t2 <= 180 * (1 + ERROR)
    assert first.rule == "forecast.drive_full" and first.severity == Severity.WARNING
    assert second.severity == Severity.ERROR
    said = re.fullmatch(r"SHUTTLE_02 will be full in about (\d+) min at the current offload rate "
                        r"\((\d+) MB/h\); (\d+) MB free", first.message)
    assert said, first.message
    assert 600 * (1 - ERROR) - SETTINGS.confirm - 2 * EVERY - 30 <= int(said[1]) * 60 <= 600  # rounded to a minute
    assert int(said[2]) == pytest.approx(RATE * 3600 / 1e6, rel=ERROR)  # 236 MB/h
    assert int(said[3]) * 1e6 == pytest.approx(first.details["free_bytes"], abs=1e6)
    assert first.asset.volume == "shuttle-SHUTTLE_02" and first.asset.relpath == ""
    assert first.details["horizon_seconds"] == 600 and second.details["horizon_seconds"] == 180
    assert "swap in the next drive" in first.fix


def test_resolved_only_when_space_comes_back_and_never_flaps(shuttle):
    run = Offload(shuttle)
    while run.step():
        pass
    files = sorted(shuttle.glob("*.mov"))
    assert len(run.transitions) == 2
    # the offload stops: the drive is as close to full as it was, so nothing resolves
    for _ in range(600):
        run.step(write=False)
    assert len(run.transitions) == 2
    # a little room comes back (a few clips deleted): still far from enough; then the reading jitters
    for f in files[:40]:
        f.unlink()
    for _ in range(300):
        path = shuttle / "A002C999_240503_R2EC.mov.tmp"
        if path.exists():
            path.unlink()
        else:
            _write(path, 64 * KIB)
        run.tick()
        run.now += TICK
    assert len(run.transitions) == 2, [(t.kind, t.finding.message) for _, t in run.transitions]
    # the shuttle is emptied: room again, once
    for f in shuttle.iterdir():
        f.unlink()
    run.tick()
    run.now += TICK
    run.tick()
    kinds = [t.kind for _, t in run.transitions]
    assert kinds == ["new", "changed", "resolved"]
    resolved = run.transitions[-1][1].finding
    said = re.fullmatch(r"SHUTTLE_02 has room again: 67 MB free, about 1\d min at (\d+) MB/h", resolved.message)
    assert said, resolved.message
    assert int(said[1]) == pytest.approx(RATE * 3600 / 1e6, rel=ERROR)


def test_a_folder_moved_in_from_the_same_drive_takes_no_space_and_raises_nothing(shuttle):
    staging = shuttle / "staging"
    staging.mkdir()
    camera = shuttle / "Camera"
    camera.mkdir()
    for i in range(160):  # 40 MiB copied long before (outside the watched folder)
        assert _write(staging / f"B001C{i:03d}.mov", FILE)
    run = Offload(camera)
    for _ in range(30):
        run.step(write=False)
    moved = camera / "B001R1AA"
    shutil.move(str(staging), str(moved))  # a rename: the settled files "land", no space is used
    for f in moved.iterdir():
        run.fc.landed("shuttle-SHUTTLE_02", run.now, f.stat().st_size)
    for _ in range(200):
        run.step(write=False)
    assert run.transitions == []
    gauge = run.fc.gauges(run.now)[0]
    assert gauge.current_bytes_per_second == 0 and math.isinf(gauge.seconds_until_full)


def test_a_big_file_still_being_copied_counts_before_it_lands(shuttle):
    run = Offload(shuttle)
    for _ in range(10):
        run.step(write=False)
    with open(shuttle / "A003C001_240503_R2EC.mov", "wb") as fh:
        for _ in range(64):  # 32 MiB at 512 KiB per 2 s tick; the file has not settled yet
            fh.write(b"\x5a" * (512 * KIB))
            fh.flush()
            run.now += TICK
            run.tick()
    assert run.fc.gauges(run.now)[0].current_bytes_per_second == pytest.approx(256 * KIB, rel=ERROR)


def test_settled_files_carry_the_rate_before_the_first_free_space_reading():
    """After a first start, a rescan finds files copied earlier: their ctimes say when they landed."""
    fill = FillRate(T0 + 3600, short=600, long=3 * 3600, min_span=60)
    for i in range(900):  # 100 MB every 4 s over the hour before the daemon started
        fill.landed(T0 + i * 4.0, 100_000_000)
    rates = fill.rates(T0 + 3600)
    assert rates.current == pytest.approx(25e6, rel=0.01)
    assert rates.pace == pytest.approx(25e6, rel=0.01) and rates.pace_span == pytest.approx(3600, abs=5)
    fill.landed(T0 - 86400 * 20, 5)  # a file from weeks ago changes nothing in the windows
    assert fill.rates(T0 + 3600).current == pytest.approx(25e6, rel=0.01)


def test_making_room_during_an_offload_does_not_hide_the_offload(shuttle):
    for i in range(100):  # yesterday's rushes, 25 MiB
        assert _write(shuttle / f"old_{i:03d}.mov", FILE)
    run = Offload(shuttle)
    for _ in range(90):
        run.step()
    before = run.fc.gauges(run.now)[0].current_bytes_per_second
    for f in shuttle.glob("old_*.mov"):
        f.unlink()  # the DIT deletes yesterday's rushes while the offload runs
    for _ in range(30):
        run.step()
    after = run.fc.gauges(run.now)[0]
    assert before == pytest.approx(RATE, rel=ERROR)
    assert after.current_bytes_per_second == pytest.approx(RATE, rel=ERROR)


def test_bursts_and_idle_gaps_current_rate_and_the_days_pace():
    """Cards copied for 2 minutes at 512 kB/s, one every 8 minutes: the current rate follows the card,
    the pace is the day's average; between cards the forecast falls back on the pace and says so."""
    fc = Forecaster(SpaceSettings(horizons=(86400.0,), short=120.0, long=3840.0, confirm=0, reserve=0))
    fc.track(DriveRef("raid_a", "/mnt/raid_a"), T0)
    free, total = 10_000_000_000, 20_000_000_000
    during = []
    for minute in range(128):
        for second in range(0, 60, 2):
            now = T0 + minute * 60 + second
            if minute % 8 < 2:
                free -= 1_024_000
            fc.sample("raid_a", now, Space(free, total))
            if minute % 8 == 1 and second == 58 and minute > 8:
                during.append(fc.gauges(now)[0].current_bytes_per_second)
    assert during and all(r == pytest.approx(512_000, rel=0.02) for r in during)
    now = T0 + 128 * 60 - 2  # idle since minute 122
    g = fc.gauges(now)[0]
    assert g.current_bytes_per_second == 0
    assert g.pace_bytes_per_second == pytest.approx(128_000, rel=0.02)
    out = fc.tick(now, InMemoryDeliveries()).transitions
    assert len(out) == 1
    assert "at the pace of the last 1 h 4 min (461 MB/h); 9.0 GB free" in out[0].finding.message


def test_a_file_landing_just_after_the_first_reading_is_counted_once():
    """Found wiring the daemon: its first free-space reading comes a moment after start, and a file that
    lands in the same 5 s bucket was counted twice (as a settled file and as the drop in free space)."""
    fill = FillRate(T0, short=600, long=3 * 3600, min_span=60)
    fill.sample(T0 + 1, 64 * MIB, 64 * MIB)
    fill.landed(T0 + 2, 40 * MIB)  # reported by the checker, ctime after the first reading
    fill.sample(T0 + 6, 24 * MIB, 64 * MIB)
    assert fill.rates(T0 + 6).current == pytest.approx(40 * MIB / 60, rel=0.01)
    late = FillRate(T0, short=600, long=3 * 3600, min_span=60)
    late.landed(T0 + 2, 40 * MIB)  # landed before the first reading, reported after it: the files count
    late.sample(T0 + 3, 24 * MIB, 64 * MIB)
    assert late.rates(T0 + 6).current == pytest.approx(40 * MIB / 60, rel=0.01)


def test_the_first_reading_inside_a_bucket_loses_nothing():
    """Found wiring the daemon: a window starting at the first reading took away a share of the first
    bucket as if bytes had been spread over all of it, when none can come before the first reading
    (40 MiB in 5 s read as 31 MiB: a drive 34 s from full said 44 s)."""
    for offset in (0.0, 1.0, 2.5, 4.9):
        fill = FillRate(T0 + offset - 0.02, short=600, long=3 * 3600, min_span=60)
        fill.sample(T0 + offset, 64 * MIB, 64 * MIB)
        fill.sample(T0 + offset + 5.5, 24 * MIB, 64 * MIB)  # the daemon reads every 5 s, and a little more
        assert fill.rates(T0 + offset + 30).current == pytest.approx(40 * MIB / 60, rel=0.001), offset
