"""Delivery schedules as productions keep them: CSV exports, hand-written TOML and YAML, timeline
pulls. Every problem is reported at once as file:line, what was found and what is allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reelwatch.forecast import ScheduleError, VfxPull, newest, read_schedule, schedule_from_pulls
from reelwatch.forecast.schedule import parse_csv, parse_due

LONDON = ZoneInfo("Europe/London")
ROLES = ("dit", "editorial", "vfx", "supervisor")


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_csv_export_with_aliases_extra_columns_and_a_semicolon(tmp_path):
    text = ("\ufeffShot Code;Task;Version;Due Date;Vendor;Status;Notes\n"
            "AGM_104_065_010;comp;v003;2024-05-03 18:00;DNEG;ip;\"first pass,\nsee notes\"\n"
            "# held back until the re-shoot\n"
            "\n"
            "AGM_104_065_020;comp;latest;2024-05-03 18:00;DNEG;;\n"
            "AGM_104_070_030;roto;4;2024-05-04T09:30+02:00;Framestore;;\n"
            "AGM_104_070_040;;;2024-05-04 10:00 Z;;;\n")
    sch = read_schedule(_write(tmp_path, "vfx_schedule_v004.csv", text), timezone="Europe/London", roles=ROLES)
    assert sch.source == "vfx_schedule_v004.csv" and sch.what == "VFX shots"
    a, b, c, d = sch.items
    assert (a.shot, a.task, a.version, a.vendor, a.role) == ("AGM_104_065_010", "comp", 3, "DNEG", "vfx")
    assert a.due == datetime(2024, 5, 3, 18, 0, tzinfo=LONDON) and a.due.utcoffset() == timedelta(hours=1)
    assert a.where == "vfx_schedule_v004.csv:2" and a.label == "AGM_104_065_010 comp v003"
    assert b.version is None and b.label == "AGM_104_065_020 comp" and b.where == "vfx_schedule_v004.csv:6"
    assert c.due == datetime(2024, 5, 4, 7, 30, tzinfo=UTC) and c.version == 4
    assert d.task == "" and d.version is None and d.due == datetime(2024, 5, 4, 10, 0, tzinfo=UTC)


def test_every_problem_of_a_bad_csv_at_once_with_its_line(tmp_path):
    text = ("shot,task,version,due,vendor,role\n"
            "AGM_104_065_010,comp,v003,03/05/2024 18:00,DNEG,vfx\n"
            "AGM_104_065_020,comp,final,2024-05-03,DNEG,vfx\n"
            ",comp,v001,2024-05-03 18:00,DNEG,vxf\n"
            "AGM_104_065_040,comp,v001,2024-05-03 18:00 BST,DNEG,vfx\n"
            "AGM_104_065_050,comp,v001,2024-05-03 18:00,DNEG,vfx\n"
            "AGM_104_065_050,comp,v001,2024-05-04 18:00,DNEG,vfx\n")
    with pytest.raises(ScheduleError) as err:
        read_schedule(_write(tmp_path, "vfx.csv", text), roles=ROLES)
    problems = err.value.problems
    assert problems[0].startswith("vfx.csv:2: due '03/05/2024 18:00' is not a date and time; write it as "
                                  "YYYY-MM-DD HH:MM")
    assert problems[1].startswith("vfx.csv:3: due '2024-05-03' has no time of day; write e.g. '2024-05-03 18:00'")
    assert "version 'final' is not a version number or 'latest'" in problems[1]
    assert problems[2] == ("vfx.csv:4: the shot is empty; due 2024-05-03 18:00 has no time zone; add one "
                           "('2024-05-03 18:00+01:00', or a name such as 'Europe/London') or set the schedule's "
                           "timezone; role 'vxf' is not a configured role (did you mean 'vfx'?); roles: dit, "
                           "editorial, vfx, supervisor")
    assert problems[3].startswith("vfx.csv:5: due '2024-05-03 18:00 BST': 'BST' is not a time zone;")
    assert "abbreviations such as BST or PST are ambiguous" in problems[3]
    assert problems[4].startswith("vfx.csv:6: due 2024-05-03 18:00 has no time zone; add one")
    assert problems[5].startswith("vfx.csv:7: due 2024-05-04 18:00 has no time zone")
    assert len(problems) == 6
    assert str(err.value).startswith("vfx.csv: cannot be used (6 problem(s))\n  - vfx.csv:2: ")


def test_a_missing_column_names_the_near_miss_and_what_is_needed(tmp_path):
    with pytest.raises(ScheduleError) as err:
        read_schedule(_write(tmp_path, "vfx.csv", "shot,task,dew\nAGM_104_065_010,comp,2024-05-03 18:00\n"))
    assert err.value.problems == ["vfx.csv:1: no 'due' column; found 'dew' (did you mean 'due'?); needed: shot, "
                                  "due; optional: task, version, vendor, role"]


def test_conflicting_due_times_for_one_delivery_and_not_utf8(tmp_path):
    text = "shot,task,due\nA_010,comp,2024-05-03 18:00Z\nA_010,comp,2024-05-04 18:00Z\nA_020,comp,2024-05-04 18:00Z\n"
    with pytest.raises(ScheduleError, match=r"vfx.csv:3: A_010 comp is listed twice with different due times "
                                            r"\(vfx.csv:2: 2024-05-03T18:00:00\+00:00; here: 2024-05-04"):
        read_schedule(_write(tmp_path, "vfx.csv", text))
    same = text.replace("2024-05-04 18:00Z\nA_020", "2024-05-03 18:00Z\nA_020")
    assert len(read_schedule(_write(tmp_path, "same.csv", same)).items) == 2  # an exact repeat is harmless
    with pytest.raises(ScheduleError, match=r"not UTF-8 text \(byte 0xe9 at offset 28\); save it as UTF-8"):
        read_schedule(_write(tmp_path, "latin1.csv", "shot,due\nAGM_104_065_010_caf\xe9,2024-05-03 18:00Z\n"
                             .encode("latin-1")))
    with pytest.raises(ScheduleError, match=r"vfx.xlsx: .xlsx is not a schedule format; allowed: .csv, .toml"):
        read_schedule(_write(tmp_path, "vfx.xlsx", b"PK"))


def test_time_zones_are_explicit_and_clock_changes_are_handled():
    assert parse_due("2024-05-03 18:00 America/Los_Angeles", None) == datetime(2024, 5, 4, 1, 0, tzinfo=UTC)
    assert parse_due("2024-05-03T18:00:00-07:00", LONDON).utcoffset() == timedelta(hours=-7)
    with pytest.raises(ValueError, match=r"2024-03-31 01:30 does not exist in Europe/London \(the clocks go "
                                         r"forward then\)"):
        parse_due("2024-03-31 01:30", LONDON)
    twice = parse_due("2024-10-27 01:30", LONDON)  # happens twice: the first, the earlier warning
    assert twice.astimezone(UTC) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"time zone 'Europe/Londn' is unknown"):
        parse_due("2024-05-03 18:00 Europe/Londn", None)
    with pytest.raises(ValueError, match=r"is not a real date and time"):
        parse_due("2024-02-30 18:00", LONDON)
    assert parse_due(datetime(2024, 5, 3, 18, 0), LONDON) == datetime(2024, 5, 3, 18, 0, tzinfo=LONDON)
    aware = datetime(2024, 5, 3, 18, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_due(aware, LONDON) == aware


def test_toml_schedule_with_its_own_time_zone_and_errors_at_their_lines(tmp_path):
    good = ('timezone = "America/Los_Angeles"\n\n'
            '[[delivery]]\nshot = "AGM_104_065_010"\ntask = "comp"\nversion = 3\ndue = 2024-05-03T18:00:00\n'
            'vendor = "ILM"\n\n'
            '[[delivery]]\nshot = "AGM_104_065_020"\ntask = "comp"\ndue = 2024-05-03T18:00:00+01:00\n'
            'note = "first pass"\n')
    sch = read_schedule(_write(tmp_path, "vfx.toml", good), timezone="Europe/London")
    a, b = sch.items
    assert a.due == datetime(2024, 5, 4, 1, 0, tzinfo=UTC) and a.where == "vfx.toml:3" and a.version == 3
    assert b.due == datetime(2024, 5, 3, 17, 0, tzinfo=UTC) and b.version is None and b.where == "vfx.toml:10"
    bad = ('[[delivery]]\nshot = "AGM_104_065_010"\ndue = "2024-05-03 18:00"\nvendr = "ILM"\n\n'
           '[[delivery]]\nshot = "AGM_104_065_020"\ndue = 2024-05-03\n')
    with pytest.raises(ScheduleError) as err:
        read_schedule(_write(tmp_path, "bad.toml", bad))
    assert err.value.problems == [
        "bad.toml:1: unknown key 'vendr' (did you mean 'vendor'?); allowed: shot, task, version, due, vendor, role, "
        "note",
        "bad.toml:1: due 2024-05-03 18:00 has no time zone; add one ('2024-05-03 18:00+01:00', or a name such as "
        "'Europe/London') or set the schedule's timezone",
        "bad.toml:6: due '2024-05-03' has no time of day; write e.g. '2024-05-03 18:00'"]
    with pytest.raises(ScheduleError, match=r"broken.toml: not valid TOML: .*line 2"):
        read_schedule(_write(tmp_path, "broken.toml", '[[delivery]]\nshot = "AGM\n'))


def test_yaml_schedule_keeps_dates_as_written_and_reports_lines(tmp_path):
    text = ("timezone: Europe/London\n"
            "deliveries:\n"
            "  - shot: AGM_104_065_010\n    task: comp\n    version: v002\n    due: 2024-05-03 18:00:00\n"
            "  - {shot: AGM_104_065_020, task: comp, due: '2024-05-03 18:00 America/New_York'}\n")
    sch = read_schedule(_write(tmp_path, "vfx.yaml", text))
    a, b = sch.items
    assert a.due == datetime(2024, 5, 3, 17, 0, tzinfo=UTC) and a.where == "vfx.yaml:3" and a.version == 2
    assert b.due == datetime(2024, 5, 3, 22, 0, tzinfo=UTC) and b.where == "vfx.yaml:7"
    listed = "- shot: AGM_104_065_010\n  due: 2024-05-03 18:00 +01:00\n- shot: X\n  due: tomorrow\n"
    with pytest.raises(ScheduleError) as err:
        read_schedule(_write(tmp_path, "list.yml", listed))
    assert err.value.problems == ["list.yml:3: due 'tomorrow' is not a date and time; write it as YYYY-MM-DD HH:MM, "
                                  "e.g. '2024-05-03 18:00', with a zone if the schedule has none ('+01:00', "
                                  "'Europe/London')"]
    with pytest.raises(ScheduleError, match=r"broken.yaml: not valid YAML: .*line 2"):
        read_schedule(_write(tmp_path, "broken.yaml", "- shot: A\n  due: [2024\n"))
    with pytest.raises(ScheduleError, match=r"python.yaml: not valid YAML"):
        read_schedule(_write(tmp_path, "python.yaml", "!!python/object/apply:os.system ['true']\n"))


def test_an_empty_schedule_is_valid_and_has_nothing_due(tmp_path):
    assert read_schedule(_write(tmp_path, "empty.csv", "")).items == ()
    assert parse_csv("# nothing yet\n\n", "x.csv") == ()
    assert read_schedule(_write(tmp_path, "empty.yaml", "")).items == ()


def test_a_timelines_vfx_pulls_become_a_schedule():
    due = datetime(2024, 5, 3, 18, 0, tzinfo=LONDON)
    pulls = [VfxPull("AGM_104_065_010", where="AGM_104_R2_v12 event 37 (01:02:03:04)"),
             VfxPull("AGM_104_065_010", where="AGM_104_R2_v12 event 52 (01:07:22:12)",
                     due=datetime(2024, 5, 2, 18, 0, tzinfo=LONDON)),
             VfxPull("AGM_104_065_020", task="roto", vendor="DNEG", version=2)]
    sch = schedule_from_pulls(pulls, source="AGM_104_R2_v12.edl", due=due)
    a, b = sch.items
    assert a.shot == "AGM_104_065_010" and a.task == "comp" and a.due == datetime(2024, 5, 2, 18, 0, tzinfo=LONDON)
    assert a.where == "AGM_104_R2_v12 event 52 (01:07:22:12)"
    assert (b.task, b.version, b.vendor, b.due, b.role) == ("roto", 2, "DNEG", due, "vfx")
    with pytest.raises(ScheduleError) as err:
        schedule_from_pulls([VfxPull("AGM_104_065_010", where="event 37"), VfxPull(" ")], source="cut.edl")
    assert err.value.problems == ["event 37: AGM_104_065_010 has no due time with a time zone, and no default due "
                                  "time is set for this timeline", "cut.edl: pull 2: the shot is empty"]


def test_the_newest_version_of_a_schedule_is_in_force():
    assert newest([("/s/vfx_schedule_v004.csv", 10.0), ("/s/vfx_schedule_v010.csv", 5.0),
                   ("/s/vfx_schedule_v009.csv", 20.0)]) == "/s/vfx_schedule_v010.csv"
    assert newest([("/s/schedule.csv", 10.0), ("/s/schedule copy.csv", 30.0)]) == "/s/schedule copy.csv"
    assert newest([]) is None
