"""The forecaster as the daemon will drive it: drives coming and going, restarts, config sections,
status lines and metric values; and the package's own rules (documented, imports one way)."""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import pytest

from reelwatch.core.config import ConfigError, build_config
from reelwatch.forecast import RULES, DriveRef, Forecaster, InMemoryDeliveries, SpaceSettings, parse_deliveries, \
    parse_forecast, parse_offload
from reelwatch.forecast.pace import Space
from reelwatch.core.model import Severity

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_714_730_000.0
GB = 10**9
FAST = SpaceSettings(horizons=(7200.0, 1800.0), short=600.0, long=3 * 3600.0, confirm=60.0, reserve=GB)
NONE = InMemoryDeliveries()


def _fill(fc: Forecaster, volume: str, start: float, free: int, per_tick: int, ticks: int,
          total: int = 4000 * GB) -> tuple[float, int, list]:
    """Free space falling by ``per_tick`` every 10 s; returns (now, free, transitions)."""
    now, out = start, []
    fc.sample(volume, now, Space(free, total))
    for _ in range(ticks):
        now += 10
        free -= per_tick
        fc.sample(volume, now, Space(free, total))
        out += fc.tick(now, NONE).transitions
    return now, free, out


def test_volumes_on_one_drive_share_one_forecast_and_one_alert():
    fc = Forecaster(FAST)
    fc.track(DriveRef("raid_camera", "/mnt/raid/Camera", device="2049"), T0)
    fc.track(DriveRef("raid_sound", "/mnt/raid/Sound", device="2049"), T0)
    now, free, out = _fill(fc, "raid_camera", T0, 1000 * GB, 3 * GB, 120)
    fc.sample("raid_sound", now, Space(free, 4000 * GB))
    assert [t.kind for t in out] == ["new"]
    assert out[0].key == "forecast.drive_full:raid_camera"
    assert out[0].finding.details["volumes"] == ["raid_camera", "raid_sound"]
    gauges = fc.gauges(now)
    assert [g.volume for g in gauges] == ["raid_camera", "raid_sound"]
    assert gauges[0].current_bytes_per_second == pytest.approx(0.3 * GB, rel=0.01)


def test_a_drive_unplugged_resolves_its_warning_and_a_full_drive_is_full_at_any_rate():
    fc = Forecaster(FAST)
    fc.track(DriveRef("shuttle-SHUTTLE_02", "/media/SHUTTLE_02", "SHUTTLE_02", "2065"), T0)
    fc.sample("shuttle-SHUTTLE_02", T0, Space(int(0.5 * GB), 2000 * GB))  # nothing lands: it is full
    assert fc.tick(T0 + 30, NONE).transitions == ()
    assert fc.tick(T0 + 89, NONE).transitions == ()  # confirmed for a minute first
    out = fc.tick(T0 + 91, NONE).transitions
    assert len(out) == 1 and out[0].finding.severity == Severity.ERROR
    assert out[0].finding.message == "SHUTTLE_02 is full: only 500 MB free"
    assert fc.gauges(T0 + 91)[0].seconds_until_full == 0
    fc.forget("shuttle-SHUTTLE_02", T0 + 100)
    out = fc.tick(T0 + 110, NONE).transitions
    assert [(t.kind, t.finding.message) for t in out] == [
        ("resolved", "SHUTTLE_02 is no longer mounted: it is not forecast any more")]
    assert fc.gauges(T0 + 110) == []


def test_a_restart_keeps_the_warning_the_rate_and_says_nothing_twice():
    fc = Forecaster(FAST)
    fc.track(DriveRef("raid_a", "/mnt/raid_a", device="2049"), T0)
    now, free, out = _fill(fc, "raid_a", T0, 1000 * GB, 3 * GB, 120)
    assert [t.kind for t in out] == ["new"]
    state = fc.snapshot()
    later = now + 3600  # reelwatch was down for an hour, and the offload went on
    again = Forecaster(FAST)
    again.restore(state)
    again.track(DriveRef("raid_a", "/mnt/raid_a", device="2049"), later)
    free -= 1080 * GB // 10
    again.sample("raid_a", later, Space(free, 4000 * GB))
    assert again.tick(later, NONE).transitions == ()
    g = again.gauges(later)[0]
    assert g.pace_bytes_per_second == pytest.approx((360 + 108) * GB / (1200 + 3600), rel=0.02)
    assert g.current_bytes_per_second < 0.3 * GB  # the hour's fill is spread over the hour, not one tick
    _, _, out = _fill(again, "raid_a", later, free, 3 * GB, 100)
    assert [t.kind for t in out] == ["changed"]  # the 30 min horizon: once


def test_a_warning_for_a_drive_that_did_not_come_back_after_a_restart_is_resolved():
    fc = Forecaster(FAST)
    fc.track(DriveRef("shuttle-SHUTTLE_01", "/media/SHUTTLE_01", "SHUTTLE_01", "2065"), T0)
    now, _, out = _fill(fc, "shuttle-SHUTTLE_01", T0, 500 * GB, 3 * GB, 100)
    assert len(out) == 2
    again = Forecaster(FAST)
    again.restore(fc.snapshot())
    assert again.tick(now + 10, NONE).transitions == ()
    out = again.tick(now + 80, NONE).transitions
    assert [(t.kind, t.finding.message) for t in out] == [
        ("resolved", "SHUTTLE_01 is no longer mounted: it is not forecast any more")]


def test_only_the_configured_volumes_and_a_reload_keeps_everything():
    fc = Forecaster(SpaceSettings(horizons=(7200.0,), confirm=0, reserve=2 * GB, volumes=("shuttle",)))
    fc.track(DriveRef("raid_a", "/mnt/raid_a"), T0)
    fc.track(DriveRef("shuttle-SHUTTLE_02", "/media/SHUTTLE_02", "SHUTTLE_02"), T0)
    fc.sample("raid_a", T0, Space(GB, 10 * GB))
    fc.sample("shuttle-SHUTTLE_02", T0, Space(GB, 10 * GB))
    assert [g.volume for g in fc.gauges(T0)] == ["shuttle-SHUTTLE_02"]
    assert [t.key for t in fc.tick(T0, NONE).transitions] == ["forecast.drive_full:shuttle-SHUTTLE_02"]
    fc.reconfigure(SpaceSettings(horizons=(7200.0, 600.0), confirm=0, reserve=2 * GB, volumes=("shuttle",)),
                   parse_offload({}), parse_deliveries({}).settings, production="Harbour Lights", now=T0 + 5)
    fc.sample("shuttle-SHUTTLE_02", T0 + 10, Space(GB, 10 * GB))
    out = fc.tick(T0 + 10, NONE).transitions
    assert [t.kind for t in out] == ["changed"]  # the new, tighter horizon; the old one is not said again


def test_status_lines_and_metric_values():
    fc = Forecaster(FAST)
    fc.track(DriveRef("shuttle-SHUTTLE_02", "/media/SHUTTLE_02", "SHUTTLE_02", "2065"), T0)
    fc.track(DriveRef("raid_a", "/mnt/raid_a", device="2049"), T0)
    fc.sample("raid_a", T0, Space(12_000 * GB, 40_000 * GB))
    now, _, _ = _fill(fc, "shuttle-SHUTTLE_02", T0, 900 * GB, int(3.33 * GB), 60)
    fc.sample("raid_a", now, Space(12_000 * GB, 40_000 * GB))
    lines = fc.status(now, NONE)
    assert lines == ["raid_a: 12 TB free of 40 TB; not filling",
                     "SHUTTLE_02: 700 GB free of 4.0 TB; filling at 1.2 TB/h now, 1.2 TB/h over the last 10 min; "
                     "full in about 35 min"]
    raid = next(g for g in fc.gauges(now) if g.volume == "raid_a")
    assert raid.free_bytes == 12_000 * GB and math.isinf(raid.seconds_until_full)


def test_a_snapshot_that_cannot_be_read_is_refused_whole():
    fc = Forecaster(FAST)
    for bad in ("", "{", '{"version": 99}', '{"version": 1, "space": {"alerts": [1]}}',
                '{"version": 1, "deliveries": {"schedules": {"x": {"items": [[1]]}}}}'):
        with pytest.raises(ValueError, match="the forecast state cannot be read"):
            fc.restore(bad)
    assert fc.debug_state()["version"] == 1


def test_config_sections_are_validated_with_key_paths_through_the_real_config():
    sections = {"forecast": parse_forecast, "offload": parse_offload, "deliveries": parse_deliveries}
    raw = {"rules": {"forecast": {"horizons": ["2h", "half an hour", 0], "reserv": "1GB"},
                     "offload": {"second_copy_within": "30min", "forget_after": "10min"},
                     "deliveries": {"leads": ["24h", "2h"], "timezone": "Europe/Londn",
                                    "schedules": [{"path": "/s/vfx_*.csv", "name": "vfx"}, {"name": "vfx"}]}}}
    with pytest.raises(ConfigError) as err:
        build_config(raw, source="production.toml", sections=sections)
    assert err.value.problems == [
        "rules.forecast: reserv: unknown key (did you mean 'reserve'?); allowed here: horizons, current_window, "
        "pace_window, confirm, hysteresis, reserve, volumes; horizons[1]: 'half an hour' is not a duration; write e.g. "
        "'30min', '2h' or '1h30m' (units: s, min, h, d), or a number of seconds; horizons[2]: must be longer than 0 "
        "(found 0)",
        "rules.offload: forget_after (10 min) must be longer than second_copy_within (30 min)",
        "rules.deliveries: timezone: time zone 'Europe/Londn' is unknown; write an IANA name such as "
        "'Europe/London' or 'America/Los_Angeles' (if every name fails, install the tzdata package); "
        "schedules[1].path: a schedule file or glob is needed, e.g. '/mnt/nas/Production/VFX/vfx_schedule_v*.csv'; "
        "schedule and timeline names must be unique; repeated: vfx (set name = ...)"]
    good = {"rules": {"forecast": {"horizons": ["30min", "2h"], "reserve": "20GB"},
                      "offload": {"second_copy_within": "45min"},
                      "deliveries": {"timezone": "Europe/London", "tell": ["supervisor", "editorial"],
                                     "schedules": [{"path": "/s/vfx_schedule_v*.csv"}],
                                     "timelines": [{"path": "/s/turnover/*.edl", "due": "2024-05-03 18:00"}]}}}
    config = build_config(good, sections=sections)
    assert config.rules["forecast"].horizons == (7200.0, 1800.0) and config.rules["forecast"].reserve == 20 * GB
    assert config.rules["offload"].second_copy_within == 2700.0
    deliveries = config.rules["deliveries"]
    assert deliveries.settings.tell == ("supervisor", "editorial")
    assert deliveries.schedules[0].name == "/s/vfx_schedule_v*.csv"
    assert deliveries.timelines[0].due.isoformat() == "2024-05-03T18:00:00+01:00"


def test_every_forecast_rule_is_documented_in_docs_rules_md():
    doc = (ROOT / "docs" / "rules.md").read_text()
    for info in RULES:
        assert f"| `{info.id}` |" in doc, info.id
        assert info.summary and info.example
    assert (ROOT / "docs" / "forecast.md").is_file()


def test_the_package_imports_only_the_model_the_standard_library_and_yaml():
    allowed_internal = {"core.model"}
    for path in sorted((ROOT / "src" / "reelwatch" / "forecast").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert node.module in allowed_internal, f"{path.name} imports reelwatch.{node.module}"
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                top = (node.module or "").split(".")[0]
                assert top in sys.stdlib_module_names or top == "yaml", f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    assert top in sys.stdlib_module_names or top == "yaml", f"{path.name} imports {alias.name}"


def test_a_volume_found_on_another_drive_leaves_the_old_one():
    """Another drive mounted at a fixed volume's path: its forecast starts afresh, the old alert resolves."""
    fc = Forecaster(FAST)
    fc.track(DriveRef("shuttle", "/mnt/shuttle", device="2065"), T0)
    now, _, out = _fill(fc, "shuttle", T0, 500 * GB, 3 * GB, 100)
    assert [t.kind for t in out] == ["new", "changed"]
    fc.track(DriveRef("shuttle", "/mnt/shuttle", device="2081"), now)
    fc.sample("shuttle", now + 10, Space(3900 * GB, 4000 * GB))
    out = fc.tick(now + 10, NONE).transitions
    assert [(t.kind, t.finding.message) for t in out] == [
        ("resolved", "shuttle is no longer mounted: it is not forecast any more")]
    gauges = fc.gauges(now + 10)
    assert len(gauges) == 1 and gauges[0].free_bytes == 3900 * GB and gauges[0].current_bytes_per_second == 0
