"""Deliveries due: a schedule with shots on time, late, failed and missing, with time injected."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reelwatch.forecast import DeliverySettings, Forecaster, InMemoryDeliveries, ScheduleError, read_schedule
from reelwatch.forecast.deliveries import Delivered, standing
from reelwatch.forecast.schedule import DueItem
from reelwatch.core.model import Asset, Severity

LONDON = ZoneInfo("Europe/London")
DUE = datetime(2024, 5, 3, 18, 0, tzinfo=LONDON).timestamp()
H = 3600.0
ON_TIME = [f"AGM_104_080_{n:03d}0" for n in range(1, 10)]
SETTINGS = DeliverySettings(leads=(24 * H, 2 * H), tell=("supervisor",), overdue_after=300.0,
                            timezone="Europe/London")


def _schedule(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("shot,task,version,due,vendor\n" + "\n".join(rows) + "\n")
    return path


def _rows(due: str = "2024-05-03 18:00") -> list[str]:
    return ([f"AGM_104_065_010,comp,v003,{due},DNEG", f"AGM_104_065_020,comp,latest,{due},DNEG",
             f"AGM_104_070_030,roto,v002,{due},Framestore"]
            + [f"{shot},comp,latest,{due},DNEG" for shot in ON_TIME])


def _read(path: Path, asset: Asset | None = None):
    return read_schedule(path, asset=asset, timezone="Europe/London")


class Desk:
    """A VFX coordinator's day: a schedule in force, versions landing, the clock injected."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.fc = Forecaster(deliveries=SETTINGS, production="Harbour Lights")
        self.delivered = InMemoryDeliveries()
        self.asset = Asset(volume="edit_nas", root="/mnt/nas", relpath="Production/VFX/vfx_schedule_v004.csv",
                           size=0, mtime_ns=0)
        self.fc.schedule("vfx", _read(_schedule(tmp_path, "vfx_schedule_v004.csv", _rows()),
                                      asset=self.asset))

        self.queue: list[tuple[float, tuple, dict]] = []

    def land(self, shot: str, task: str, version: int, hours: float, errors: tuple[str, ...] = ()) -> None:
        """A version that lands at DUE + hours (it exists for the ticks from then on)."""
        self.queue.append((DUE + hours * H, (shot, task, version), {"errors": errors}))

    def at(self, hours: float):
        now = DUE + hours * H
        for item in [q for q in self.queue if q[0] <= now]:
            self.queue.remove(item)
            self.delivered.add(*item[1], landed_at=item[0], **item[2])
        out = self.fc.tick(now, self.delivered)
        return list(out.transitions), list(out.messages)


def test_on_time_late_failed_and_missing(tmp_path):
    desk = Desk(tmp_path)
    for i, shot in enumerate(ON_TIME):  # nine shots delivered clean, from the day before to 6 h before
        desk.land(shot, "comp", 1, -30 + 3 * i)
    desk.land("AGM_104_065_020", "comp", 3, -40)
    desk.land("AGM_104_070_030", "roto", 1, -40)
    desk.land("AGM_104_065_020", "comp", 4, -2.5, ("sanity.truncated",))
    desk.land("AGM_104_070_030", "roto", 2, 1.5, ("spec.frame_rate",))
    desk.land("AGM_104_065_010", "comp", 3, 2 + 10 / 60)
    desk.land("AGM_104_065_020", "comp", 5, 2.5)
    assert desk.at(-48) == ([], [])

    found, messages = desk.at(-23.9)  # the 24 h lead
    assert found == []
    assert [m.role for m in messages] == ["vfx", "supervisor"]
    assert messages[0].kind == "reminder"
    assert messages[0].subject == "8 of 12 VFX shots due tomorrow 18:00 are not delivered"
    assert desk.at(-23) == ([], []) and desk.at(-3) == ([], [])

    found, messages = desk.at(-1.9)  # the 2 h lead
    assert found == [] and len(messages) == 2
    text = messages[1].text.splitlines()
    assert messages[1].subject == "3 of 12 VFX shots due today 18:00 are not delivered"
    assert text[0] == ("3 of 12 VFX shots due today 18:00 are not delivered: AGM_104_065_010 comp v003, "
                       "AGM_104_065_020 comp and AGM_104_070_030 roto v002")
    assert text[1] == "- AGM_104_065_010 comp v003 (DNEG): not delivered"
    assert text[2] == "- AGM_104_065_020 comp (DNEG): v004 arrived but fails its checks (sanity.truncated)"
    assert text[3] == "- AGM_104_070_030 roto v002 (Framestore): not delivered (only v001 here)"
    assert text[4] == "Due Fri 3 May 18:00 BST, from vfx_schedule_v004.csv."

    assert desk.at(0.05) == ([], [])  # 3 minutes past: files landing at the last minute may still settle
    found, messages = desk.at(0.1)
    assert messages == [] and [t.kind for t in found] == ["new"] * 3
    late, failed, missing = (t.finding for t in found)
    assert late.message == "AGM_104_065_010 comp v003 was due Fri 3 May 18:00 BST from DNEG and is not delivered"
    assert failed.message == ("AGM_104_065_020 comp was due Fri 3 May 18:00 BST from DNEG: v004 arrived but fails "
                              "its checks (sanity.truncated)")
    assert missing.message == ("AGM_104_070_030 roto v002 was due Fri 3 May 18:00 BST from Framestore and is not "
                               "delivered (only v001 here)")
    for f in (late, failed, missing):
        assert f.rule == "schedule.overdue" and f.severity == Severity.ERROR
        assert f.owner == "vfx" and f.impacts == ("supervisor",) and f.asset == desk.asset
    assert late.expected == "AGM_104_065_010 comp v003 delivered by Fri 3 May 18:00 BST (vfx_schedule_v004.csv:2)"
    assert "ask DNEG to fix AGM_104_065_020 comp" in failed.fix and "chase Framestore" in missing.fix
    assert desk.at(1) == ([], [])

    found, _ = desk.at(1.6)  # the missing roto arrives, broken: the same finding, changed
    assert [(t.kind, t.key) for t in found] == [("changed", "schedule.overdue:vfx:AGM_104_070_030|roto|2")]
    assert "v002 arrived but fails its checks (spec.frame_rate)" in found[0].finding.message

    found, _ = desk.at(2.6)
    assert [t.kind for t in found] == ["resolved", "resolved"]
    assert [t.finding.message for t in found] == [
        "AGM_104_065_010 comp v003 was delivered 2 h 10 min late (v003, Fri 3 May 20:10 BST)",
        "AGM_104_065_020 comp was delivered 2 h 30 min late (v005, Fri 3 May 20:30 BST)"]
    assert desk.at(30) == ([], [])  # the broken roto stays overdue, silently


def test_a_failed_version_does_not_count_and_latest_means_the_newest():
    item = DueItem("AGM_104_065_020", "comp", None, datetime(2024, 5, 3, 18, tzinfo=LONDON))
    clean, broken = Delivered(3, 1.0), Delivered(4, 2.0, ("sanity.truncated",))
    assert standing(item, [clean]).state == "delivered"
    assert standing(item, [clean, broken]).state == "failed"  # a clean v003 does not make a broken v004 good
    v3 = DueItem("AGM_104_065_020", "comp", 3, item.due)
    assert standing(v3, [clean, broken]).state == "delivered"
    assert standing(v3, [Delivered(2, 1.0)]) == standing(v3, [Delivered(2, 1.0)])
    assert standing(v3, [Delivered(2, 1.0)]).state == "missing"
    mov, exr = Delivered(4, 2.0, (), relpath="a.mov"), Delivered(4, 3.0, ("sequence.missing_frames",), relpath="a.exr")
    assert standing(DueItem("A", "comp", 4, item.due), [mov, exr]).state == "failed"  # every rendition must pass


def test_a_new_schedule_replaces_the_old_one_wholesale(tmp_path):
    desk = Desk(tmp_path)
    found, _ = desk.at(0.5)
    assert len(found) == 12 and all(t.kind == "new" for t in found)
    rows = _rows()
    rows[2] = "AGM_104_070_030,roto,v002,2024-05-04 18:00,Framestore"  # moved to tomorrow
    del rows[1]  # cut from the show
    desk.fc.schedule("vfx", _read(_schedule(tmp_path, "vfx_schedule_v005.csv", rows), asset=desk.asset))
    found, _ = desk.at(0.6)
    by_key = {t.key.split(":")[2]: t for t in found}
    assert {t.kind for t in found} == {"resolved"} and len(found) == 2
    assert by_key["AGM_104_070_030|roto|2"].finding.message == ("AGM_104_070_030 roto v002 is now due Sat 4 May "
                                                                "18:00 BST (vfx_schedule_v005.csv:3)")
    assert by_key["AGM_104_065_020|comp|latest"].finding.message == "AGM_104_065_020 comp is no longer on the schedule"


def test_a_broken_new_version_keeps_the_old_one_and_tells_its_owner(tmp_path):
    desk = Desk(tmp_path)
    bad = _schedule(tmp_path, "vfx_schedule_v005.csv", ["AGM_104_065_010,comp,v003,03/05/2024 18:00,DNEG"])
    with pytest.raises(ScheduleError) as err:
        read_schedule(bad, timezone="Europe/London")
    desk.fc.schedule_failed("vfx", err.value, asset=desk.asset, role="vfx")
    desk.fc.schedule_failed("vfx", err.value, asset=desk.asset, role="vfx")  # read again: said once
    found, messages = desk.at(-1.9)
    assert [t.kind for t in found] == ["new"]
    invalid = found[0].finding
    assert invalid.rule == "schedule.invalid" and invalid.owner == "vfx" and invalid.impacts == ("supervisor",)
    assert invalid.message.startswith("vfx_schedule_v005.csv cannot be used: 1 problem (vfx_schedule_v005.csv:2: "
                                      "due '03/05/2024 18:00' is not a date and time")
    assert invalid.message.endswith("; the previous version (vfx_schedule_v004.csv, 12 deliveries) stays in force")
    assert messages and messages[0].subject.startswith("12 of 12 VFX shots due today 18:00")  # the old one holds
    desk.fc.schedule("vfx", _read(_schedule(tmp_path, "vfx_schedule_v006.csv", _rows()), asset=desk.asset))
    found, _ = desk.at(-1.8)
    assert [(t.kind, t.finding.message) for t in found] == [
        ("resolved", "vfx_schedule_v006.csv is read: 12 deliveries")]


def test_a_schedule_read_inside_the_last_lead_reminds_once(tmp_path):
    desk = Desk(tmp_path)
    _, messages = desk.at(-1)
    assert len(messages) == 2 and messages[0].subject == "12 of 12 VFX shots due today 18:00 are not delivered"
    assert desk.at(-0.5) == ([], [])


def test_a_restart_sends_nothing_twice(tmp_path):
    desk = Desk(tmp_path)
    assert len(desk.at(-23.5)[1]) == 2
    assert len(desk.at(0.2)[0]) == 12
    again = Forecaster(deliveries=SETTINGS, production="Harbour Lights")
    again.restore(desk.fc.snapshot())
    out = again.tick(DUE + 0.3 * H, desk.delivered)
    assert out.transitions == () and out.messages == ()
    desk.delivered.add("AGM_104_065_010", "comp", 3, landed_at=DUE + H)
    out = again.tick(DUE + 1.1 * H, desk.delivered)
    assert [t.kind for t in out.transitions] == ["resolved"]
    assert "was delivered 1 h late" in out.transitions[0].finding.message


class Counting(InMemoryDeliveries):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def versions(self, shot, task):
        self.lookups += 1
        return super().versions(shot, task)


def test_each_tick_looks_up_only_what_can_change(tmp_path):
    """One store query per item would be hundreds a tick on a long show: only items past due (in the last
    week, or with an open alert), reminders being sent and a schedule just read are looked up."""
    rows = ([f"AGM_200_{n:03d}0,comp,v001,2024-05-10 18:00,DNEG" for n in range(100)]
            + [f"AGM_101_{n:03d}0,comp,v001,2024-04-10 18:00,DNEG" for n in range(100)]
            + ["AGM_101_9990,comp,v001,2024-04-10 18:00,DNEG"])  # weeks late, never delivered
    fc = Forecaster(deliveries=SETTINGS)
    fc.schedule("vfx", _read(_schedule(tmp_path, "vfx_schedule_v001.csv", rows)))
    delivered = Counting()
    for n in range(100):
        delivered.add(f"AGM_101_{n:03d}0", "comp", 1, landed_at=DUE - 30 * 86400)
    out = fc.tick(DUE, delivered)
    assert delivered.lookups == 101  # the new schedule: everything past due, once
    assert [t.finding.message for t in out.transitions] == [
        "AGM_101_9990 comp v001 was due Wed 10 Apr 18:00 BST from DNEG and is not delivered"]
    delivered.lookups = 0
    fc.tick(DUE + 60, delivered)
    assert delivered.lookups == 1  # only the open alert
