"""A timeline's VFX pulls as deliveries due, in the real daemon (``[[rules.deliveries.timelines]]``):
the shots a pull list sends out are due back; one delivered clean is said nothing of, one missing
is overdue until it lands, a new version of the pull list replaces the old one, and one that
cannot be read keeps the one in force and says why."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from conftest import wait_until, write_config
from test_forecast_daemon import DELIVERY_RULES, said, texts
from test_timeline_daemon import edl

from reelwatch.forecast.settings import TimelineSource
from reelwatch.service.pulls import pulls_of
from reelwatch.timeline import Event, Timeline

pytest.importorskip("opentimelineio")


def _due(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def event(n: int, shot: str) -> tuple[str, str, str, str, str, list[str]]:
    rec = f"01:00:{n * 2:02d}:00"
    rec_out = f"01:00:{n * 2 + 1:02d}:00"
    return ("A004R1JL", "01:00:00:04", "01:00:01:04", rec, rec_out,
            [f"FROM CLIP NAME:  A004C0{n:02d}_20100610_R1JL", f"LOC: {rec} RED {shot}"])


PULLS = DELIVERY_RULES + """[[rules.deliveries.timelines]]
name = "pulls"
path = "{root}/Pulls/AGM_104_VFX_pull_v*.edl"
due = "{due}"
"""


def test_a_pull_lists_shots_are_due_and_overdue_until_delivered_and_a_new_version_replaces_it(
        tmp_path, inbox, daemon, media):
    root = tmp_path / "delivery"
    config = write_config(tmp_path, inbox, volumes={"delivery": "vfx"}, settle=0.3,
                          extra=PULLS.format(root=root, due=_due(-timedelta(minutes=30))))
    vfx, pulls = root / "VFX", root / "Pulls"
    vfx.mkdir()
    d = daemon(config)
    d.wait_ready()
    shutil.copy(media["prores_2398"], vfx / "AGM_104_065_010_comp_NFX_v001.mov")
    # 065_010 is pulled twice (two events): due once
    edl(pulls / "AGM_104_VFX_pull_v01.edl", "AGM_104_VFX_pull_v01",
        [event(1, "AGM_104_065_010"), event(2, "AGM_104_065_020"), event(3, "AGM_104_065_010"),
         event(4, "AGM_104_065_030")])
    assert wait_until(lambda: said(inbox, "vfx", r"AGM_104_065_020 comp was due")
                      and said(inbox, "vfx", r"AGM_104_065_030 comp was due"), 60), "\n".join(texts(inbox, "vfx"))
    text = said(inbox, "vfx", r"AGM_104_065_020 comp was due")[0]
    assert "AGM_104_VFX_pull_v01 event 2 (01:00:04:00)" in text, text  # where in the pull list
    assert said(inbox, "supervisor", r"AGM_104_065_030 comp was due")  # told as affected
    assert not said(inbox, "vfx", r"AGM_104_065_010 comp was due")  # delivered clean
    assert len(said(inbox, "vfx", r"AGM_104_065_020 comp was due")) == 1

    shutil.copy(media["prores_2398"], vfx / "AGM_104_065_030_comp_NFX_v001.mov")
    assert wait_until(lambda: said(inbox, "vfx", r"resolved: AGM_104_065_030 comp was delivered .* late"), 60), \
        "\n".join(texts(inbox, "vfx"))
    # a new version of the pull list no longer sends out 065_020
    edl(pulls / "AGM_104_VFX_pull_v02.edl", "AGM_104_VFX_pull_v02",
        [event(1, "AGM_104_065_010"), event(4, "AGM_104_065_030")])
    assert wait_until(lambda: said(inbox, "vfx", r"resolved: AGM_104_065_020 comp is no longer on the schedule"),
                      60), "\n".join(texts(inbox, "vfx"))
    # a version that is not a cut list at all: the one in force stays, and that is said
    (pulls / "AGM_104_VFX_pull_v03.edl").write_bytes(b"\x00\xff not an edl \x00" * 50)
    assert wait_until(lambda: said(inbox, "vfx", r"AGM_104_VFX_pull_v03\.edl cannot be used: .*the previous "
                                                 r"version \(AGM_104_VFX_pull_v02\.edl, 2 deliveries\) stays in force"),
                      60), "\n".join(texts(inbox, "vfx"))


def test_pulls_name_the_shot_by_pattern_and_skip_events_that_name_none():
    def ev(n: int, clip: str, markers: tuple[str, ...] = ()) -> Event:
        return Event(number=n, track="V1", kind="video", record_in=86400 + 24 * n, record_out=86424 + 24 * n,
                     source_in=0, source_out=24, source_rate=Fraction(24), clip_name=clip, markers=markers)
    tl = Timeline(name="AGM_104_VFX_pull_v01", path="/p/AGM_104_VFX_pull_v01.edl", format="CMX 3600 EDL",
                  rate=Fraction(24), events=(ev(1, "A004C010_20100610_R1JL", ("pull for AGM_104_065_010 please",)),
                                             ev(2, "")), purpose="vfx_pull")
    src = TimelineSource("pulls", "/p/*.edl", task="roto", role="vfx")
    got = pulls_of([tl], src, r"AGM_\d{3}_\d{3}_\d{3}")
    assert [(p.shot, p.task, p.role) for p in got] == [("AGM_104_065_010", "roto", "vfx")]  # event 2 names none
    assert re.search(r"AGM_104_VFX_pull_v01 event 1 \(01:00:01:00\)", got[0].where), got[0].where
