"""The forecasts as the real daemon runs them (a child process, real volumes, apprise to a local
inbox): a drive filling up, a card on one copy, deliveries due. The engine's arithmetic is tested
with injected time in tests/test_forecast_*.py and tests/test_forecast_wiring.py; here the clock is
real, so the settings are scaled down to seconds."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import reelwatch, state_rows, write_config

from reelwatch.forecast import read_space

MIB = 1024 * 1024


def wait_until(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return bool(pred())


def mount_tmpfs(path: Path, size_mib: int) -> None:
    """Mount a small real filesystem at ``path``; skips where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


@pytest.fixture
def shuttle(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs: the shuttle drive."""
    mnt = tmp_path / "shuttle"
    mount_tmpfs(mnt, 64)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def texts(inbox, role: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{m.body.get('title', '')}\n{m.body.get('message', '')}" for m in inbox.received if m.role == role]


def said(inbox, role: str, pattern: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [t for t in texts(inbox, role) if re.search(pattern, t)]


def told(inbox, role: str, pattern: str, timeout: float = 30) -> bool:  # type: ignore[no-untyped-def]
    """Wait for a message to ``role`` matching ``pattern``; on failure the assertion shows what came."""
    assert wait_until(lambda: said(inbox, role, pattern), timeout), "\n".join(texts(inbox, role))
    return True


FULL_IN = r"(about \d+ s|less than a minute)"


def metrics_of(daemon_proc) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from prometheus_client.parser import text_string_to_metric_families
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", daemon_proc.output())  # the path is redacted in the log
    assert found, daemon_proc.output()
    text = urllib.request.urlopen(f"http://127.0.0.1:{found[1]}/metrics", timeout=5).read().decode()
    return {f"{s.name}{json.dumps(s.labels, sort_keys=True)}": s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def forecast_status(config: Path) -> dict | None:  # type: ignore[type-arg]
    """What the daemon last wrote for ``reelwatch status`` (read straight from the state database)."""
    rows = state_rows(config.parent / "state.db", "SELECT status FROM forecast_state")
    return json.loads(rows[0][0]) if rows and rows[0][0] else None


def ticks(config: Path, count: int = 2, timeout: float = 30) -> None:
    """Wait for ``count`` more rounds of the daemon's forecasts (each writes its status)."""
    seen = [(forecast_status(config) or {}).get("at")]
    assert wait_until(lambda: seen.append((forecast_status(config) or {}).get("at")) or len(set(seen)) > count,
                      timeout), seen


def write(path: Path, size: int) -> None:
    data = os.urandom(size)  # made before the file exists: a copy that lands at once
    with open(path, "wb") as fh:
        fh.write(data)


SPACE = """
[service]
metrics = "127.0.0.1:0"
[rules.forecast]
horizons = ["40s", "10s"]
confirm = "0s"
reserve = "1MiB"
"""


def test_a_filling_drive_warns_its_owner_once_per_horizon_and_says_when_there_is_room_again(
        tmp_path, inbox, daemon, shuttle):
    """64 MiB drive: 40 MiB lands (full in about 35 s at the rate measured over the first minute: the
    40 s horizon), then 16 MiB more (about 8 s: the 10 s horizon, the same finding, now an error),
    then room is made in two steps: a pause or a little room resolves nothing, enough room does."""
    config = write_config(tmp_path, inbox, volumes={"shuttle": "dit"}, settle=0.3, extra=SPACE)
    d = daemon(config)
    d.wait_ready()
    write(shuttle / "A001_part1.dat", 40 * MIB)
    told(inbox, "dit", rf"WARNING: shuttle will be full in {FULL_IN} at the current offload rate")

    # status and metrics carry the numbers of the same statvfs the daemon reads
    free = read_space(str(shuttle)).free
    status = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    vol = next(v for v in status["forecasts"]["volumes"] if v["volume"] == "shuttle")
    assert vol["free_bytes"] == free and vol["total_bytes"] == 64 * MIB
    assert 0 < vol["seconds_until_full"] <= 40 and vol["fill_rate_bytes_per_second"]["current"] > 0
    human = reelwatch("status", "--config", str(config)).stdout
    assert re.search(r"forecasts \(as of [\d-]+ [\d:]+\):\n  shuttle: 25 MB free of 67 MB; filling at [\d.]+ GB/h now, "
                     r".*; full in ", human), human
    values = metrics_of(d)
    assert values['reelwatch_volume_free_bytes{"volume": "shuttle"}'] == free
    assert values['reelwatch_volume_fill_rate_bytes_per_second{"volume": "shuttle", "window": "current"}'] > 0
    assert 0 < values['reelwatch_volume_seconds_until_full{"volume": "shuttle"}'] <= 40

    write(shuttle / "A001_part2.dat", 16 * MIB)
    told(inbox, "dit", rf"changed: shuttle will be full in {FULL_IN}")
    ticks(config, 1)  # another round of the forecasts: nothing more is said while the drive stays this full
    assert len(texts(inbox, "dit")) == 2, "\n".join(texts(inbox, "dit"))

    os.unlink(shuttle / "A001_part2.dat")  # 24 MiB free: not enough for the longest horizon at that rate
    ticks(config)
    assert len(texts(inbox, "dit")) == 2, "\n".join(texts(inbox, "dit"))
    os.unlink(shuttle / "A001_part1.dat")
    told(inbox, "dit", r"resolved: shuttle has room again: 6\d(\.\d)? MB free")
    assert len(texts(inbox, "dit")) == 3 and not texts(inbox, "supervisor")
    rows = json.loads(reelwatch("findings", "--config", str(config), "--all", "--format", "json").stdout)
    drive = [r for r in rows if r["rule"] == "forecast.drive_full"]
    assert [(r["status"], r["severity"]) for r in drive] == [("resolved", "error")], drive


def checked(config: Path, count: int) -> bool:
    """At least ``count`` files checked and recorded by the daemon."""
    rows = state_rows(config.parent / "state.db", "SELECT COUNT(*) FROM assets WHERE checked_at IS NOT NULL")
    return bool(rows) and rows[0][0] >= count


CARDS = """
[[rules.mirrors.sets]]
name = "camera"
copies = [{ volume = "raid" }, { volume = "shuttle" }]
[rules.offload]
second_copy_within = "2s"
forget_after = "1h"
"""


def test_a_card_left_on_one_copy_is_told_to_the_dit_and_resolved_by_the_second_copy(tmp_path, inbox, daemon, media):
    config = write_config(tmp_path, inbox, volumes={"raid": "dit", "shuttle": "dit"}, settle=0.3, extra=CARDS)
    d = daemon(config)
    d.wait_ready()
    card = tmp_path / "raid" / "A002R2EC"
    card.mkdir()
    shutil.copy(media["prores_2398"], card / "A002C006_141024_R2EC.mov")
    assert wait_until(lambda: said(inbox, "dit", r"Card A002R2EC has been on one copy only \(raid\) for more than "
                                                 r"2 s: one copy is not a backup \(not on shuttle yet\)"), 30), \
        "\n".join(texts(inbox, "dit"))
    (tmp_path / "shuttle" / "A002R2EC").mkdir()
    shutil.copy(media["prores_2398"], tmp_path / "shuttle" / "A002R2EC" / "A002C006_141024_R2EC.mov")
    told(inbox, "dit", r"resolved: Card A002R2EC is now on 2 copies: raid and shuttle")
    status = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    assert not any("one copy" in line for line in status["forecasts"]["lines"]), status["forecasts"]
    assert status["forecasts"]["volumes"] == []  # no [rules.forecast]: drives are not forecast
    assert len(said(inbox, "dit", "one copy only")) == 1  # told once, however many rounds passed


def _due(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M+00:00")


DELIVERY_RULES = """
[[rules.naming.apply]]
volume = "delivery"
glob = "VFX/**"
preset = "netflix_vfx_version"
[rules.deliveries]
leads = ["2h"]
overdue_after = "0s"
tell = ["supervisor"]
"""
"""Versions named as VFX deliver them, reminded 2 h ahead, overdue at once, the supervisor told too."""
DELIVERIES = DELIVERY_RULES + """[[rules.deliveries.schedules]]
name = "vfx"
path = "{root}/Schedules/vfx_schedule_v*.csv"
"""


def test_deliveries_due_remind_before_and_are_overdue_after_until_a_clean_version_lands(tmp_path, inbox, daemon,
                                                                                         media):
    """One shot delivered, one whose only version fails its checks, one missing, one due in an hour; then the
    missing one lands, and a new version of the schedule drops the failing one."""
    root = tmp_path / "delivery"
    config = write_config(tmp_path, inbox, volumes={"delivery": "vfx"}, settle=0.3,
                          extra=DELIVERIES.format(root=root))
    vfx, schedules = root / "VFX", root / "Schedules"
    vfx.mkdir()
    schedules.mkdir()
    d = daemon(config)
    d.wait_ready()
    shutil.copy(media["prores_2398"], vfx / "AGM_104_065_010_comp_NFX_v001.mov")
    (vfx / "AGM_104_065_020_comp_NFX_v001.mov").write_bytes(b"")  # fails its checks: sanity.empty
    assert wait_until(lambda: checked(config, 2), 30)
    rows = ["shot,task,version,due,vendor",
            f"AGM_104_065_010,comp,v001,{_due(-timedelta(hours=2))},NFX",
            f"AGM_104_065_020,comp,v001,{_due(-timedelta(hours=1))},NFX",
            f"AGM_104_065_030,comp,v001,{_due(-timedelta(minutes=30))},NFX",
            f"AGM_104_065_040,comp,v002,{_due(timedelta(hours=1))},NFX"]
    (schedules / "vfx_schedule_v001.csv").write_text("\n".join(rows) + "\n")
    assert wait_until(lambda: said(inbox, "vfx", r"AGM_104_065_020 comp v001 was due")
                      and said(inbox, "vfx", r"AGM_104_065_030 comp v001 was due")
                      and said(inbox, "vfx", "1 of 1 VFX shots due .* is not delivered: AGM_104_065_040 comp v002")
                      and said(inbox, "supervisor", "1 of 1 VFX shots due"), 40), \
        "\n".join(texts(inbox, "vfx") + texts(inbox, "supervisor"))
    assert said(inbox, "vfx", r"AGM_104_065_020 comp v001 .*fails its checks|AGM_104_065_020 comp v001 .*sanity\.empty")
    assert not said(inbox, "vfx", "AGM_104_065_010 comp v001 was due")  # delivered clean: nothing to say
    assert said(inbox, "supervisor", r"AGM_104_065_030 comp v001 was due")  # told as affected

    shutil.copy(media["prores_2398"], vfx / "AGM_104_065_030_comp_NFX_v001.mov")
    assert wait_until(lambda: said(inbox, "vfx", r"resolved: AGM_104_065_030 comp v001 was delivered .* late"), 40), \
        "\n".join(texts(inbox, "vfx"))
    (schedules / "vfx_schedule_v002.csv").write_text("\n".join(rows[:2] + rows[3:]) + "\n")  # 020 is dropped
    assert wait_until(lambda: said(inbox, "vfx", r"resolved: AGM_104_065_020 comp v001 is no longer on the schedule"),
                      40), "\n".join(texts(inbox, "vfx"))
    (schedules / "vfx_schedule_v003.csv").write_text("shot,due\nAGM_104_065_050,03/05/2024 18:00\n")
    assert wait_until(lambda: said(inbox, "vfx", r"vfx_schedule_v003\.csv cannot be used: 1 problem .*the previous "
                                                 r"version \(vfx_schedule_v002\.csv, 3 deliveries\) stays in force"),
                      40), "\n".join(texts(inbox, "vfx"))
    status = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    lines = status["forecasts"]["lines"]
    assert any(re.fullmatch(r"VFX shots due .*: 0 of 1 delivered", line) for line in lines), lines
    assert "schedule cannot be used: vfx" in lines, lines
    assert len(said(inbox, "vfx", "1 of 1 VFX shots due")) == 1  # one reminder per lead


def test_a_drive_under_a_mount_root_is_forecast_by_its_own_name_and_let_go_when_unplugged(tmp_path, inbox, daemon):
    media_root = tmp_path / "media"
    drive = media_root / "SHUTTLE_02"
    mount_tmpfs(drive, 64)
    try:
        config = write_config(tmp_path, inbox, settle=0.3, extra=SPACE + f"""
[[volumes]]
name = "shuttle"
path = "{media_root}/*"
kind = "ingest"
owner = "dit"
settle = 0.3
observer = "inotify"
""")
        d = daemon(config)
        d.wait_ready()
        write(drive / "A002C001_240503_R2EC.dat", 40 * MIB)
        assert wait_until(lambda: said(inbox, "dit", r"SHUTTLE_02 will be full in (about \d+ s|less than a minute)"),
                          30), "\n".join(texts(inbox, "dit"))
        status = forecast_status(config)
        assert status and [v["volume"] for v in status["volumes"] if v["volume"].startswith("shuttle")] == [
            "shuttle-SHUTTLE_02"]
        assert any(line.startswith("SHUTTLE_02: 25 MB free of 67 MB; filling at ") for line in status["lines"])
        assert 'reelwatch_volume_free_bytes{"volume": "shuttle-SHUTTLE_02"}' in metrics_of(d)
    finally:
        subprocess.run(["umount", "-l", str(drive)], check=False)
    drive.rmdir()  # unplugged: the automounter removes its folder
    assert wait_until(lambda: said(inbox, "dit", r"resolved: SHUTTLE_02 is no longer mounted"), 30), \
        "\n".join(texts(inbox, "dit"))
    ticks(config, 1)
    assert 'reelwatch_volume_free_bytes{"volume": "shuttle-SHUTTLE_02"}' not in metrics_of(d)
    assert not [v for v in (forecast_status(config) or {})["volumes"] if v["volume"] == "shuttle-SHUTTLE_02"]


def test_a_reload_keeps_what_was_said_and_a_section_removed_stops_the_forecasts(tmp_path, inbox, daemon, shuttle):
    config = write_config(tmp_path, inbox, volumes={"shuttle": "dit"}, settle=0.3, extra=SPACE)
    d = daemon(config)
    d.wait_ready()
    write(shuttle / "A001_part1.dat", 40 * MIB)
    assert wait_until(lambda: said(inbox, "dit", "shuttle will be full in"), 30), "\n".join(texts(inbox, "dit"))
    config.write_text(config.read_text().replace('horizons = ["40s", "10s"]', 'horizons = ["50s", "10s"]'))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: '"reloaded"' in d.output(), 20), d.output()
    ticks(config, 2)
    assert len(texts(inbox, "dit")) == 1  # the same alert, not raised again by the new settings
    assert (forecast_status(config) or {})["volumes"][0]["volume"] == "shuttle"
    config.write_text(config.read_text().replace(
        '[rules.forecast]\nhorizons = ["50s", "10s"]\nconfirm = "0s"\nreserve = "1MiB"\n', ""))
    d.proc.send_signal(signal.SIGHUP)
    told(inbox, "dit", r"resolved: shuttle is not forecast any more: \[rules.forecast\] was removed from the config")
